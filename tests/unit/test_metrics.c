/* Tests for src/metrics.c */
#include "build-config.h"

#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>

#include "metrics.h"
#include "testutil.h"

#define P "mini_balancer_"

/* The families, in the order the spec fixes. */
static const gchar *const families[] = {
  P "build_info",
  P "start_time_seconds",
  P "reloads_total",
  P "frontend_sessions",
  P "frontend_connections_total",
  P "frontend_failed_total",
  P "frontend_bytes_received_total",
  P "frontend_bytes_sent_total",
  P "frontend_proxy_errors_total",
  P "backend_up",
  P "backend_state",
  P "backend_weight",
  P "backend_sessions",
  P "backend_connections_total",
  P "backend_connect_failures_total",
  P "backend_bytes_sent_total",
  P "backend_bytes_received_total",
  P "backend_connect_seconds",
  P "backend_check_failures_total",
  P "relay_bytes_total",           /* added after the spec's: last */
  P "backend_lookup_ok",
  P "backend_lookup_timestamp_seconds",
};

static MbSnapshot *
snapshot_new (void)
{
  MbSnapshot *snapshot = mb_snapshot_new ();

  snapshot->version = "0.1.0";
  snapshot->start_time = G_GINT64_CONSTANT (1764312345123456);
  return snapshot;
}

/* check's messages are short (a few KiB): a whole exposition goes to
 * stderr, the message names what is wrong. */
static void
dump (const gchar *text)
{
  fprintf (stderr, "--- rendered:\n%s--- end\n", text);
}

/* Asserts that TEXT has the whole line (or lines) FORMAT, never its first. */
static void G_GNUC_PRINTF (2, 3)
assert_line (const gchar *text, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *line = NULL;
  g_autofree gchar *needle = NULL;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  needle = g_strdup_printf ("\n%s\n", line);
  if (strstr (text, needle) == NULL)
    dump (text);
  ck_assert_msg (strstr (text, needle) != NULL, "no line \"%s\" (text on stderr)", line);
}

/* Asserts that TEXT is EXPECTED, naming the first line that differs. */
static void
assert_text_eq (const gchar *text, const gchar *expected)
{
  g_auto(GStrv) got = g_strsplit (text, "\n", -1);
  g_auto(GStrv) want = g_strsplit (expected, "\n", -1);
  guint i = 0;

  if (strcmp (text, expected) == 0)
    return;
  dump (text);
  while (got[i] != NULL && want[i] != NULL && strcmp (got[i], want[i]) == 0)
    i++;
  ck_abort_msg ("line %u differs:\n got \"%s\"\nwant \"%s\"", i + 1,
                got[i] ? got[i] : "(end)", want[i] ? want[i] : "(end)");
}

/* How many lines of TEXT begin with PREFIX. */
static guint
count_lines (const gchar *text, const gchar *prefix)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    n += g_str_has_prefix (lines[i], prefix);
  return n;
}

/* A stand-in for Prometheus's parser: every line is a HELP, then a TYPE of
 * the same family, or a sample of the family whose TYPE came last (a
 * histogram's through _bucket, _sum, _count); a family appears once.
 * Returns the families in order. */
static GPtrArray *
parse_exposition (const gchar *text)
{
  static const gchar label[] = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
  g_autofree gchar *pattern =
    g_strdup_printf ("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{%s(?:,%s)*\\})?"
                     " ([-+]?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|[-+]Inf|NaN)$",
                     label, label);
  g_autoptr(GRegex) sample = g_regex_new (pattern, G_REGEX_OPTIMIZE, 0, NULL);
  g_auto(GStrv) lines = NULL;
  GPtrArray *seen = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *help = NULL;
  g_autofree gchar *family = NULL;
  g_autofree gchar *type = NULL;
  guint n;

  ck_assert (sample != NULL);
  if (!g_str_has_suffix (text, "\n") || !g_utf8_validate (text, -1, NULL))
    dump (text);
  ck_assert_msg (g_str_has_suffix (text, "\n"), "no newline at the end");
  ck_assert_msg (g_utf8_validate (text, -1, NULL), "not UTF-8");
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines) - 1;   /* the empty string after the last newline */
  for (guint i = 0; i < n; i++)
    {
      const gchar *line = lines[i];
      g_auto(GStrv) words = g_strsplit (line, " ", 4);

      if (g_str_has_prefix (line, "# HELP "))
        {
          ck_assert_msg (words[2] != NULL && words[3] != NULL && words[3][0] != '\0',
                         "HELP without text: %s", line);
          g_free (help);
          help = g_strdup (words[2]);
        }
      else if (g_str_has_prefix (line, "# TYPE "))
        {
          ck_assert_msg (words[2] != NULL && words[3] != NULL, "bad TYPE: %s", line);
          ck_assert_msg (g_strcmp0 (help, words[2]) == 0, "TYPE not after its HELP: %s", line);
          ck_assert_msg (g_strv_contains ((const gchar *const[]) { "counter", "gauge",
                                                                   "histogram", NULL },
                                          words[3]), "unknown type: %s", line);
          for (guint j = 0; j < seen->len; j++)
            ck_assert_msg (strcmp (seen->pdata[j], words[2]) != 0, "family twice: %s", line);
          g_ptr_array_add (seen, g_strdup (words[2]));
          g_free (family);
          family = g_strdup (words[2]);
          g_free (type);
          type = g_strdup (words[3]);
          g_clear_pointer (&help, g_free);
        }
      else
        {
          g_autoptr(GMatchInfo) match = NULL;
          g_autofree gchar *name = NULL;

          ck_assert_msg (line[0] != '#', "a comment that is not HELP or TYPE: %s", line);
          ck_assert_msg (g_regex_match (sample, line, 0, &match), "not a sample line: %s", line);
          name = g_match_info_fetch (match, 1);
          ck_assert_msg (family != NULL, "sample before any TYPE: %s", line);
          if (g_strcmp0 (type, "histogram") == 0 && strcmp (name, family) != 0)
            {
              const gchar *suffix = g_str_has_prefix (name, family) ? name + strlen (family) : "";

              ck_assert_msg (g_strv_contains ((const gchar *const[]) { "_bucket", "_sum",
                                                                       "_count", NULL },
                                              suffix), "sample of no family: %s", line);
            }
          else
            ck_assert_msg (strcmp (name, family) == 0,
                           "sample not after its family's HELP and TYPE: %s", line);
        }
    }
  return seen;
}

static void
check_exposition (const gchar *text)
{
  g_autoptr(GPtrArray) seen = parse_exposition (text);

  ck_assert_uint_eq (seen->len, G_N_ELEMENTS (families));
  for (guint i = 0; i < seen->len; i++)
    ck_assert_str_eq (seen->pdata[i], families[i]);
}

/* Two frontends, backends in each state, a histogram, titles that need
 * escaping, one that is not ASCII and one that is not even UTF-8: what a
 * daemon at work renders, and worse. */
static MbSnapshot *
realistic_snapshot (void)
{
  MbSnapshot *snapshot = snapshot_new ();
  MbFrontendSnapshot *f;
  MbBackendSnapshot *b;

  snapshot->reloads_ok = 3;
  snapshot->reloads_failed = 1;
  snapshot->relay_bytes_spliced = 60000000;
  snapshot->relay_bytes_copied = 183456;
  f = mb_snapshot_add_frontend (snapshot, "web");
  f->sessions = 3;
  f->connections = 1200;
  f->failed = 2;
  f->bytes_received = 123456;
  f->bytes_sent = 98765432;
  b = mb_snapshot_add_backend (snapshot, "web", "app1");
  b->weight = 10;
  b->sessions = 2;
  b->connections = 700;
  b->bytes_sent = 80000;
  b->bytes_received = 60000000;
  for (guint i = 0; i < 700; i++)
    mb_connect_histogram_add (&b->connect_time, 200 + (i * 7919) % 3000);
  b = mb_snapshot_add_backend (snapshot, "web", "app2");
  b->state = "down";
  b->why = g_strdup ("connect: Connection refused");
  b->connect_failures = 4;
  b->check_failures = 17;
  b = mb_snapshot_add_backend (snapshot, "web", "app3");
  b->state = "drain";
  b->connections = 498;
  mb_connect_histogram_add (&b->connect_time, 12 * G_USEC_PER_SEC);
  b = mb_snapshot_add_backend (snapshot, "web", "app4");
  b->state = "maint";
  f = mb_snapshot_add_frontend (snapshot, "db \"main\" \\ café");
  b = mb_snapshot_add_backend (snapshot, f->title, "pg\nprimary");
  b->backup = TRUE;
  mb_snapshot_add_backend (snapshot, f->title, "pg-caf\xe9");
  return snapshot;
}

START_TEST (test_empty_snapshot)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = mb_metrics_render (snapshot);

  check_exposition (text);
  for (guint i = 0; i < G_N_ELEMENTS (families); i++)
    {
      g_autofree gchar *help = g_strdup_printf ("# HELP %s ", families[i]);
      g_autofree gchar *type = g_strdup_printf ("# TYPE %s ", families[i]);

      ck_assert_uint_eq (count_lines (text, help), 1);
      ck_assert_uint_eq (count_lines (text, type), 1);
    }
  assert_line (text, P "build_info{version=\"0.1.0\"} 1");
  assert_line (text, P "start_time_seconds 1764312345.123");
  assert_line (text, P "reloads_total{result=\"ok\"} 0");
  assert_line (text, P "reloads_total{result=\"failed\"} 0");
  assert_line (text, P "relay_bytes_total{path=\"splice\"} 0");
  assert_line (text, P "relay_bytes_total{path=\"copy\"} 0");
  /* Those six and nothing else. */
  ck_assert_uint_eq (count_lines (text, P), 6);
}
END_TEST

START_TEST (test_backends_in_different_states)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;
  MbBackendSnapshot *b;

  mb_snapshot_add_frontend (snapshot, "web");
  b = mb_snapshot_add_backend (snapshot, "web", "app1");
  b->state = "up";
  b = mb_snapshot_add_backend (snapshot, "web", "app2");
  b->state = "drain";
  text = mb_metrics_render (snapshot);
  check_exposition (text);

  assert_line (text, P "backend_up{frontend=\"web\",backend=\"app1\"} 1");
  assert_line (text, P "backend_up{frontend=\"web\",backend=\"app2\"} 0");
  assert_line (text,
               P "backend_state{frontend=\"web\",backend=\"app1\",state=\"up\"} 1\n"
               P "backend_state{frontend=\"web\",backend=\"app1\",state=\"down\"} 0\n"
               P "backend_state{frontend=\"web\",backend=\"app1\",state=\"drain\"} 0\n"
               P "backend_state{frontend=\"web\",backend=\"app1\",state=\"maint\"} 0\n"
               P "backend_state{frontend=\"web\",backend=\"app2\",state=\"up\"} 0\n"
               P "backend_state{frontend=\"web\",backend=\"app2\",state=\"down\"} 0\n"
               P "backend_state{frontend=\"web\",backend=\"app2\",state=\"drain\"} 1\n"
               P "backend_state{frontend=\"web\",backend=\"app2\",state=\"maint\"} 0");
  ck_assert_uint_eq (count_lines (text, P "backend_state{"), 8);
  /* One line per backend in each family of one line per backend. */
  ck_assert_uint_eq (count_lines (text, P "backend_weight{"), 2);
  ck_assert_uint_eq (count_lines (text, P "backend_connect_seconds_bucket{"), 2 * 14);
  ck_assert_uint_eq (count_lines (text, P "frontend_sessions{"), 1);
}
END_TEST

static const gchar *const states[] = { "up", "down", "drain", "maint" };

/* Each state in turn: its own line is 1, the three others 0; up is 1 only
 * for "up". */
START_TEST (test_each_state)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;

  mb_snapshot_add_frontend (snapshot, "web");
  mb_snapshot_add_backend (snapshot, "web", "app1")->state = states[_i];
  text = mb_metrics_render (snapshot);
  check_exposition (text);
  for (guint i = 0; i < G_N_ELEMENTS (states); i++)
    assert_line (text, P "backend_state{frontend=\"web\",backend=\"app1\",state=\"%s\"} %d",
                 states[i], (gint) (i == (guint) _i));
  assert_line (text, P "backend_up{frontend=\"web\",backend=\"app1\"} %d", _i == 0);
}
END_TEST

static const gchar expected_small[] =
  "# HELP mini_balancer_build_info Version of mini-balancer that runs; always 1.\n"
  "# TYPE mini_balancer_build_info gauge\n"
  "mini_balancer_build_info{version=\"0.1.0\"} 1\n"
  "# HELP mini_balancer_start_time_seconds When the daemon started, in seconds since the Unix epoch.\n"
  "# TYPE mini_balancer_start_time_seconds gauge\n"
  "mini_balancer_start_time_seconds 1764312345.123\n"
  "# HELP mini_balancer_reloads_total Configuration reloads, by result.\n"
  "# TYPE mini_balancer_reloads_total counter\n"
  "mini_balancer_reloads_total{result=\"ok\"} 2\n"
  "mini_balancer_reloads_total{result=\"failed\"} 1\n"
  "# HELP mini_balancer_frontend_sessions Live sessions of the frontend.\n"
  "# TYPE mini_balancer_frontend_sessions gauge\n"
  "mini_balancer_frontend_sessions{frontend=\"web\"} 3\n"
  "# HELP mini_balancer_frontend_connections_total Clients the frontend accepted.\n"
  "# TYPE mini_balancer_frontend_connections_total counter\n"
  "mini_balancer_frontend_connections_total{frontend=\"web\"} 10\n"
  "# HELP mini_balancer_frontend_failed_total Clients of the frontend that no backend took.\n"
  "# TYPE mini_balancer_frontend_failed_total counter\n"
  "mini_balancer_frontend_failed_total{frontend=\"web\"} 1\n"
  "# HELP mini_balancer_frontend_bytes_received_total Bytes received from the frontend's clients.\n"
  "# TYPE mini_balancer_frontend_bytes_received_total counter\n"
  "mini_balancer_frontend_bytes_received_total{frontend=\"web\"} 100\n"
  "# HELP mini_balancer_frontend_bytes_sent_total Bytes sent to the frontend's clients.\n"
  "# TYPE mini_balancer_frontend_bytes_sent_total counter\n"
  "mini_balancer_frontend_bytes_sent_total{frontend=\"web\"} 200\n"
  "# HELP mini_balancer_frontend_proxy_errors_total Clients of the frontend closed for a missing or bad PROXY protocol header.\n"
  "# TYPE mini_balancer_frontend_proxy_errors_total counter\n"
  "mini_balancer_frontend_proxy_errors_total{frontend=\"web\"} 0\n"
  "# HELP mini_balancer_backend_up 1 if the backend is up (state up), else 0.\n"
  "# TYPE mini_balancer_backend_up gauge\n"
  "mini_balancer_backend_up{frontend=\"web\",backend=\"app1\"} 1\n"
  "# HELP mini_balancer_backend_state 1 for the backend's current state (up, down, drain or maint), 0 for the others.\n"
  "# TYPE mini_balancer_backend_state gauge\n"
  "mini_balancer_backend_state{frontend=\"web\",backend=\"app1\",state=\"up\"} 1\n"
  "mini_balancer_backend_state{frontend=\"web\",backend=\"app1\",state=\"down\"} 0\n"
  "mini_balancer_backend_state{frontend=\"web\",backend=\"app1\",state=\"drain\"} 0\n"
  "mini_balancer_backend_state{frontend=\"web\",backend=\"app1\",state=\"maint\"} 0\n"
  "# HELP mini_balancer_backend_weight Weight of the backend in force.\n"
  "# TYPE mini_balancer_backend_weight gauge\n"
  "mini_balancer_backend_weight{frontend=\"web\",backend=\"app1\"} 5\n"
  "# HELP mini_balancer_backend_sessions Live sessions with the backend.\n"
  "# TYPE mini_balancer_backend_sessions gauge\n"
  "mini_balancer_backend_sessions{frontend=\"web\",backend=\"app1\"} 3\n"
  "# HELP mini_balancer_backend_connections_total Sessions established with the backend.\n"
  "# TYPE mini_balancer_backend_connections_total counter\n"
  "mini_balancer_backend_connections_total{frontend=\"web\",backend=\"app1\"} 9\n"
  "# HELP mini_balancer_backend_connect_failures_total Connects to the backend that failed.\n"
  "# TYPE mini_balancer_backend_connect_failures_total counter\n"
  "mini_balancer_backend_connect_failures_total{frontend=\"web\",backend=\"app1\"} 2\n"
  "# HELP mini_balancer_backend_bytes_sent_total Bytes sent to the backend.\n"
  "# TYPE mini_balancer_backend_bytes_sent_total counter\n"
  "mini_balancer_backend_bytes_sent_total{frontend=\"web\",backend=\"app1\"} 100\n"
  "# HELP mini_balancer_backend_bytes_received_total Bytes received from the backend.\n"
  "# TYPE mini_balancer_backend_bytes_received_total counter\n"
  "mini_balancer_backend_bytes_received_total{frontend=\"web\",backend=\"app1\"} 200\n"
  "# HELP mini_balancer_backend_connect_seconds Time successful connects to the backend took.\n"
  "# TYPE mini_balancer_backend_connect_seconds histogram\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.0005\"} 2\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.001\"} 2\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.0025\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.005\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.01\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.025\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.05\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.1\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.25\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"0.5\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"1\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"2.5\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"10\"} 3\n"
  "mini_balancer_backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\",le=\"+Inf\"} 4\n"
  "mini_balancer_backend_connect_seconds_sum{frontend=\"web\",backend=\"app1\"} 12.0026\n"
  "mini_balancer_backend_connect_seconds_count{frontend=\"web\",backend=\"app1\"} 4\n"
  "# HELP mini_balancer_backend_check_failures_total Health checks of the backend that failed.\n"
  "# TYPE mini_balancer_backend_check_failures_total counter\n"
  "mini_balancer_backend_check_failures_total{frontend=\"web\",backend=\"app1\"} 7\n"
  "# HELP mini_balancer_relay_bytes_total Bytes the relays read, by the path that moved them: splice (through kernel pipes) or copy (through buffers).\n"
  "# TYPE mini_balancer_relay_bytes_total counter\n"
  "mini_balancer_relay_bytes_total{path=\"splice\"} 8388608\n"
  "mini_balancer_relay_bytes_total{path=\"copy\"} 4160\n"
  "# HELP mini_balancer_backend_lookup_ok 1 if the last lookup of the backend's host name (resolve_interval) succeeded, else 0.\n"
  "# TYPE mini_balancer_backend_lookup_ok gauge\n"
  "mini_balancer_backend_lookup_ok{frontend=\"web\",backend=\"app1\",name=\"app.example\"} 0\n"
  "# HELP mini_balancer_backend_lookup_timestamp_seconds When the backend's host name was last looked up, in seconds since the Unix epoch.\n"
  "# TYPE mini_balancer_backend_lookup_timestamp_seconds gauge\n"
  "mini_balancer_backend_lookup_timestamp_seconds{frontend=\"web\",backend=\"app1\",name=\"app.example\"} 1764312345.250\n";

START_TEST (test_exact_text)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;
  MbFrontendSnapshot *f;
  MbBackendSnapshot *b;

  snapshot->reloads_ok = 2;
  snapshot->reloads_failed = 1;
  snapshot->relay_bytes_spliced = 8 << 20;
  snapshot->relay_bytes_copied = 4160;
  f = mb_snapshot_add_frontend (snapshot, "web");
  f->sessions = 3;
  f->connections = 10;
  f->failed = 1;
  f->bytes_received = 100;
  f->bytes_sent = 200;
  b = mb_snapshot_add_backend (snapshot, "web", "app1");
  b->weight = 5;
  b->sessions = 3;
  b->connections = 9;
  b->connect_failures = 2;
  b->bytes_sent = 100;
  b->bytes_received = 200;
  b->check_failures = 7;
  b->lookup.name = g_strdup ("app.example");
  b->lookup.at = G_GINT64_CONSTANT (1764312345250000);
  b->lookup.ok = FALSE;
  mb_connect_histogram_add (&b->connect_time, 300);
  mb_connect_histogram_add (&b->connect_time, 500);   /* on a bound: in its bucket */
  mb_connect_histogram_add (&b->connect_time, 1800);
  mb_connect_histogram_add (&b->connect_time, 12 * G_USEC_PER_SEC);
  text = mb_metrics_render (snapshot);
  assert_text_eq (text, expected_small);
}
END_TEST

START_TEST (test_label_escaping)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;

  snapshot->version = "0.1.0\"-\\-\n";
  mb_snapshot_add_frontend (snapshot, "a\\b\"c\nd");
  mb_snapshot_add_backend (snapshot, "a\\b\"c\nd", "x\"\"\\\\y\n\n");
  text = mb_metrics_render (snapshot);
  check_exposition (text);
  assert_line (text, P "build_info{version=\"0.1.0\\\"-\\\\-\\n\"} 1");
  assert_line (text, P "frontend_sessions{frontend=\"a\\\\b\\\"c\\nd\"} 0");
  assert_line (text,
               P "backend_weight{frontend=\"a\\\\b\\\"c\\nd\",backend=\"x\\\"\\\"\\\\\\\\y\\n\\n\"} 1");
  assert_line (text, P "backend_connect_seconds_bucket{frontend=\"a\\\\b\\\"c\\nd\","
                     "backend=\"x\\\"\\\"\\\\\\\\y\\n\\n\",le=\"+Inf\"} 0");
}
END_TEST

/* A title with bytes that are not UTF-8 would void the whole scrape. */
START_TEST (test_label_not_utf8)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;

  mb_snapshot_add_frontend (snapshot, "caf\xe9");
  text = mb_metrics_render (snapshot);
  check_exposition (text);
  assert_line (text, P "frontend_sessions{frontend=\"caf\xef\xbf\xbd\"} 0");
}
END_TEST

START_TEST (test_histogram_cumulative)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;
  MbBackendSnapshot *b;
  guint64 expect = 0;

  mb_snapshot_add_frontend (snapshot, "web");
  b = mb_snapshot_add_backend (snapshot, "web", "app1");
  /* Bucket i gets i + 1 connects, each right on its upper bound (+Inf: 20 s). */
  for (guint i = 0; i < MB_CONNECT_BUCKETS; i++)
    for (guint j = 0; j <= i; j++)
      mb_connect_histogram_add (&b->connect_time, i < MB_CONNECT_BUCKETS - 1
                                ? mb_connect_bucket_bounds_us[i] : 20 * G_USEC_PER_SEC);
  for (guint i = 0; i < MB_CONNECT_BUCKETS; i++)
    ck_assert_uint_eq (b->connect_time.buckets[i], i + 1);
  text = mb_metrics_render (snapshot);
  check_exposition (text);

  {
    static const gchar *const le[MB_CONNECT_BUCKETS] = {
      "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
      "1", "2.5", "10", "+Inf",
    };

    for (guint i = 0; i < MB_CONNECT_BUCKETS; i++)
      {
        expect += i + 1;
        assert_line (text, P "backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\","
                     "le=\"%s\"} %" G_GUINT64_FORMAT, le[i], expect);
      }
  }
  ck_assert_uint_eq (expect, 105);
  assert_line (text, P "backend_connect_seconds_count{frontend=\"web\",backend=\"app1\"} 105");
  /* Each bound i + 1 times (179.63 s), plus 14 times 20 s. */
  assert_line (text, P "backend_connect_seconds_sum{frontend=\"web\",backend=\"app1\"} 459.63");
}
END_TEST

/* The snapshot reads the histogram's counters one at a time: a connect may
 * have reached the count and not yet its bucket.  The +Inf bucket and
 * _count still agree, and stay cumulative. */
START_TEST (test_histogram_torn_read)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;
  MbBackendSnapshot *b;

  mb_snapshot_add_frontend (snapshot, "web");
  b = mb_snapshot_add_backend (snapshot, "web", "app1");
  b->connect_time.buckets[1] = 4;
  b->connect_time.sum_us = 3200;
  b->connect_time.count = 5;
  text = mb_metrics_render (snapshot);
  check_exposition (text);
  assert_line (text, P "backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\","
               "le=\"0.0005\"} 0");
  assert_line (text, P "backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\","
               "le=\"0.001\"} 4");
  assert_line (text, P "backend_connect_seconds_bucket{frontend=\"web\",backend=\"app1\","
               "le=\"+Inf\"} 4");
  assert_line (text, P "backend_connect_seconds_sum{frontend=\"web\",backend=\"app1\"} 0.0032");
  assert_line (text, P "backend_connect_seconds_count{frontend=\"web\",backend=\"app1\"} 4");
}
END_TEST

START_TEST (test_large_counters)
{
  g_autoptr(MbSnapshot) snapshot = snapshot_new ();
  g_autofree gchar *text = NULL;
  MbFrontendSnapshot *f;
  MbBackendSnapshot *b;

  snapshot->reloads_ok = G_MAXUINT;
  snapshot->relay_bytes_spliced = G_MAXUINT64;
  snapshot->relay_bytes_copied = G_GUINT64_CONSTANT (1) << 53 | 1;
  f = mb_snapshot_add_frontend (snapshot, "web");
  f->sessions = G_MAXUINT;
  f->connections = G_MAXUINT64;
  f->bytes_received = G_GUINT64_CONSTANT (1) << 53 | 1;   /* past a double's exact range */
  f->bytes_sent = G_MAXUINT64 - 1;
  b = mb_snapshot_add_backend (snapshot, "web", "app1");
  b->bytes_sent = G_MAXUINT64;
  b->connect_time.buckets[MB_CONNECT_BUCKETS - 1] = G_MAXUINT64;
  b->connect_time.sum_us = G_MAXUINT64;
  text = mb_metrics_render (snapshot);
  check_exposition (text);
  assert_line (text, P "reloads_total{result=\"ok\"} 4294967295");
  assert_line (text, P "frontend_sessions{frontend=\"web\"} 4294967295");
  assert_line (text, P "frontend_connections_total{frontend=\"web\"} 18446744073709551615");
  assert_line (text, P "frontend_bytes_received_total{frontend=\"web\"} 9007199254740993");
  assert_line (text, P "frontend_bytes_sent_total{frontend=\"web\"} 18446744073709551614");
  assert_line (text, P "backend_bytes_sent_total{frontend=\"web\",backend=\"app1\"} "
               "18446744073709551615");
  assert_line (text, P "backend_connect_seconds_count{frontend=\"web\",backend=\"app1\"} "
               "18446744073709551615");
  assert_line (text, P "backend_connect_seconds_sum{frontend=\"web\",backend=\"app1\"} "
               "18446744073709.551615");
  assert_line (text, P "relay_bytes_total{path=\"splice\"} 18446744073709551615");
  assert_line (text, P "relay_bytes_total{path=\"copy\"} 9007199254740993");
}
END_TEST

/* Whatever the C locale says, seconds keep their decimal point. */
START_TEST (test_start_time)
{
  static const gchar *const comma_locales[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR" };
  g_autofree gchar *saved = g_strdup (setlocale (LC_NUMERIC, NULL));
  gboolean comma = FALSE;
  static const struct {
    gint64 us;
    const gchar *text;
  } cases[] = {
    { 0, "0.000" },
    { G_GINT64_CONSTANT (1764312345000000), "1764312345.000" },
    { G_GINT64_CONSTANT (1764312345123456), "1764312345.123" },
    { G_GINT64_CONSTANT (1764312345999999), "1764312346.000" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (comma_locales) && !comma; i++)
    comma = setlocale (LC_NUMERIC, comma_locales[i]) != NULL;
  if (!comma)
    fprintf (stderr, "test_metrics: no locale with a decimal comma here (de_DE, fr_FR): "
             "start_time rendered in the C locale only\n");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MbSnapshot) snapshot = snapshot_new ();
      g_autofree gchar *text = NULL;

      snapshot->start_time = cases[i].us;
      text = mb_metrics_render (snapshot);
      assert_line (text, P "start_time_seconds %s", cases[i].text);
    }
  setlocale (LC_NUMERIC, saved);
}
END_TEST

START_TEST (test_parses)
{
  g_autoptr(MbSnapshot) snapshot = realistic_snapshot ();
  g_autofree gchar *text = mb_metrics_render (snapshot);

  check_exposition (text);
  /* Frontends and backends in the snapshot's order. */
  ck_assert_ptr_nonnull (strstr (strstr (text, "frontend=\"web\"}"), "frontend=\"db \\\"main"));
  ck_assert_ptr_nonnull (strstr (strstr (strstr (text, "backend=\"app1\"}"), "backend=\"app2\"}"),
                                 "backend=\"pg\\nprimary\"}"));
}
END_TEST

/* Runs `promtool check metrics < FILE` on TEXT.  FALSE when there is no
 * promtool; else its exit status and everything it printed. */
static gboolean
promtool_check (const gchar *text, gint *status, gchar **output)
{
  g_autofree gchar *promtool = g_find_program_in_path ("promtool");
  g_autofree gchar *directory = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  if (promtool == NULL)
    return FALSE;
  directory = tmpdir_new ();
  path = write_file (directory, "metrics.txt", text);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdin_file_path (launcher, path);
  process = g_subprocess_launcher_spawn (launcher, &error, promtool, "check", "metrics", NULL);
  ck_assert_msg (process != NULL, "%s: %s", promtool, error ? error->message : "?");
  ck_assert_msg (g_subprocess_communicate_utf8 (process, NULL, NULL, output, NULL, &error),
                 "%s: %s", promtool, error ? error->message : "?");
  ck_assert (g_subprocess_get_if_exited (process));
  *status = g_subprocess_get_exit_status (process);
  tmpdir_free (g_steal_pointer (&directory));
  return TRUE;
}

static MbSnapshot *(*const promtool_snapshots[]) (void) = { snapshot_new, realistic_snapshot };

START_TEST (test_promtool)
{
  g_autoptr(MbSnapshot) snapshot = promtool_snapshots[_i] ();
  g_autofree gchar *text = mb_metrics_render (snapshot);
  g_autofree gchar *output = NULL;
  gint status;

  if (!promtool_check (text, &status, &output))
    {
      fprintf (stderr, "test_metrics: promtool not found (Debian package prometheus): "
               "`promtool check metrics` not run\n");
      return;
    }
  if (status != 0 || output[0] != '\0')
    dump (text);
  ck_assert_msg (status == 0 && output[0] == '\0', "promtool check metrics: exit %d:\n%.2000s",
                 status, output);
}
END_TEST

/* The check above can fail: promtool does complain, and we see it. */
START_TEST (test_promtool_complains)
{
  g_autoptr(MbSnapshot) snapshot = realistic_snapshot ();
  g_autofree gchar *text = mb_metrics_render (snapshot);
  g_auto(GStrv) parts = g_strsplit (text, "_check_failures_total", -1);
  g_autofree gchar *renamed = g_strjoinv ("_check_failures", parts);   /* a counter without _total */
  g_autofree gchar *output = NULL;
  gint status;

  if (!promtool_check (renamed, &status, &output))
    return;
  ck_assert_msg (status != 0 && output[0] != '\0', "promtool said nothing (exit %d)", status);
}
END_TEST

static Suite *
metrics_suite (void)
{
  Suite *suite = suite_create ("metrics");
  TCase *render = tcase_create ("render");
  TCase *promtool = tcase_create ("promtool");

  tcase_add_test (render, test_empty_snapshot);
  tcase_add_test (render, test_backends_in_different_states);
  tcase_add_loop_test (render, test_each_state, 0, G_N_ELEMENTS (states));
  tcase_add_test (render, test_exact_text);
  tcase_add_test (render, test_label_escaping);
  tcase_add_test (render, test_label_not_utf8);
  tcase_add_test (render, test_histogram_cumulative);
  tcase_add_test (render, test_histogram_torn_read);
  tcase_add_test (render, test_large_counters);
  tcase_add_test (render, test_start_time);
  tcase_add_test (render, test_parses);
  suite_add_tcase (suite, render);
  tcase_add_loop_test (promtool, test_promtool, 0, G_N_ELEMENTS (promtool_snapshots));
  tcase_add_test (promtool, test_promtool_complains);
  tcase_set_timeout (promtool, 30);
  suite_add_tcase (suite, promtool);
  return suite;
}

RUN_SUITE (metrics_suite)
