/* metrics.c - the Prometheus text exposition of a snapshot; see metrics.h. */
#include "build-config.h"

#include "metrics.h"

#define PREFIX "mini_balancer_"

/* mini_balancer_backend_state's lines for each backend, in this order. */
static const gchar *const backend_states[] = { "up", "down", "drain", "maint" };

/* Room for the seconds of any guint64 of microseconds: 14 digits, the
 * point, 6 digits. */
#define SECONDS_SIZE 32

/* US microseconds as seconds, exactly: 2500 is "0.0025", 1000000 is "1". */
static const gchar *
format_seconds (gchar buffer[SECONDS_SIZE], guint64 us)
{
  guint64 whole = us / G_USEC_PER_SEC;
  guint64 fraction = us % G_USEC_PER_SEC;
  gint length;

  if (fraction == 0)
    {
      g_snprintf (buffer, SECONDS_SIZE, "%" G_GUINT64_FORMAT, whole);
      return buffer;
    }
  length = g_snprintf (buffer, SECONDS_SIZE, "%" G_GUINT64_FORMAT ".%06" G_GUINT64_FORMAT,
                       whole, fraction);
  while (buffer[length - 1] == '0')
    buffer[--length] = '\0';
  return buffer;
}

static void
append_family (GString *out, const gchar *name, const gchar *type, const gchar *help)
{
  g_string_append_printf (out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n",
                          name, help, name, type);
}

/* NAME="VALUE", the value escaped as the format says. */
static void
append_label (GString *out, const gchar *name, const gchar *value)
{
  g_autofree gchar *valid = NULL;

  if (value == NULL)
    value = "";
  if (!g_utf8_validate (value, -1, NULL))
    value = valid = g_utf8_make_valid (value, -1);
  g_string_append_printf (out, "%s=\"", name);
  for (const gchar *p = value; *p != '\0'; p++)
    switch (*p)
      {
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      default:
        g_string_append_c (out, *p);
        break;
      }
  g_string_append_c (out, '"');
}

static void
append_value (GString *out, guint64 value)
{
  g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", value);
}

/* PREFIX NAME{frontend="F",backend="B"[,LABEL="VALUE"]} (no value yet). */
static void
append_backend_series (GString *out, const gchar *name, const MbBackendSnapshot *b,
                       const gchar *label, const gchar *label_value)
{
  g_string_append_printf (out, PREFIX "%s{", name);
  append_label (out, "frontend", b->frontend);
  g_string_append_c (out, ',');
  append_label (out, "backend", b->title);
  if (label != NULL)
    {
      g_string_append_c (out, ',');
      append_label (out, label, label_value);
    }
  g_string_append_c (out, '}');
}

static guint64
frontend_sessions (const MbFrontendSnapshot *f)
{
  return f->sessions;
}

static guint64
frontend_connections (const MbFrontendSnapshot *f)
{
  return f->connections;
}

static guint64
frontend_failed (const MbFrontendSnapshot *f)
{
  return f->failed;
}

static guint64
frontend_bytes_received (const MbFrontendSnapshot *f)
{
  return f->bytes_received;
}

static guint64
frontend_bytes_sent (const MbFrontendSnapshot *f)
{
  return f->bytes_sent;
}

static guint64
frontend_proxy_errors (const MbFrontendSnapshot *f)
{
  return f->proxy_errors;
}

/* One line per frontend, in the spec's order. */
static const struct {
  const gchar *name;
  const gchar *type;
  const gchar *help;
  guint64 (*value) (const MbFrontendSnapshot *f);
} frontend_families[] = {
  { "frontend_sessions", "gauge", "Live sessions of the frontend.", frontend_sessions },
  { "frontend_connections_total", "counter", "Clients the frontend accepted.",
    frontend_connections },
  { "frontend_failed_total", "counter", "Clients of the frontend that no backend took.",
    frontend_failed },
  { "frontend_bytes_received_total", "counter", "Bytes received from the frontend's clients.",
    frontend_bytes_received },
  { "frontend_bytes_sent_total", "counter", "Bytes sent to the frontend's clients.",
    frontend_bytes_sent },
  { "frontend_proxy_errors_total", "counter",
    "Clients of the frontend closed for a missing or bad PROXY protocol header.",
    frontend_proxy_errors },
};

static guint64
backend_up (const MbBackendSnapshot *b)
{
  return g_strcmp0 (b->state, "up") == 0;
}

static guint64
backend_weight (const MbBackendSnapshot *b)
{
  return b->weight;
}

static guint64
backend_sessions (const MbBackendSnapshot *b)
{
  return b->sessions;
}

static guint64
backend_connections (const MbBackendSnapshot *b)
{
  return b->connections;
}

static guint64
backend_connect_failures (const MbBackendSnapshot *b)
{
  return b->connect_failures;
}

static guint64
backend_bytes_sent (const MbBackendSnapshot *b)
{
  return b->bytes_sent;
}

static guint64
backend_bytes_received (const MbBackendSnapshot *b)
{
  return b->bytes_received;
}

static guint64
backend_check_failures (const MbBackendSnapshot *b)
{
  return b->check_failures;
}

/* Four lines: 1 for the current state, 0 for the others. */
static void
append_backend_state (GString *out, const gchar *name, const MbBackendSnapshot *b)
{
  for (guint i = 0; i < G_N_ELEMENTS (backend_states); i++)
    {
      append_backend_series (out, name, b, "state", backend_states[i]);
      append_value (out, g_strcmp0 (b->state, backend_states[i]) == 0);
    }
}

/* Only backends whose name resolve_interval follows have these. */
static void
append_backend_lookup_ok (GString *out, const gchar *name, const MbBackendSnapshot *b)
{
  if (b->lookup.name == NULL || b->lookup.at == 0)
    return;
  append_backend_series (out, name, b, "name", b->lookup.name);
  append_value (out, b->lookup.ok ? 1 : 0);
}

static void
append_backend_lookup_time (GString *out, const gchar *name, const MbBackendSnapshot *b)
{
  gchar seconds[G_ASCII_DTOSTR_BUF_SIZE];

  if (b->lookup.name == NULL || b->lookup.at == 0)
    return;
  append_backend_series (out, name, b, "name", b->lookup.name);
  g_ascii_formatd (seconds, sizeof seconds, "%.3f", (gdouble) b->lookup.at / G_USEC_PER_SEC);
  g_string_append_printf (out, " %s\n", seconds);
}

static void
append_backend_connect_time (GString *out, const gchar *name, const MbBackendSnapshot *b)
{
  g_autofree gchar *bucket = g_strconcat (name, "_bucket", NULL);
  g_autofree gchar *sum = g_strconcat (name, "_sum", NULL);
  g_autofree gchar *count = g_strconcat (name, "_count", NULL);
  gchar seconds[SECONDS_SIZE];
  guint64 cumulative = 0;

  for (guint i = 0; i < MB_CONNECT_BUCKETS; i++)
    {
      const gchar *le = "+Inf";

      if (i < MB_CONNECT_BUCKETS - 1)
        le = format_seconds (seconds, mb_connect_bucket_bounds_us[i]);
      cumulative += b->connect_time.buckets[i];
      append_backend_series (out, bucket, b, "le", le);
      append_value (out, cumulative);
    }
  append_backend_series (out, sum, b, NULL, NULL);
  g_string_append_printf (out, " %s\n", format_seconds (seconds, b->connect_time.sum_us));
  /* The +Inf bucket, not connect_time.count: see metrics.h. */
  append_backend_series (out, count, b, NULL, NULL);
  append_value (out, cumulative);
}

/* In the spec's order; a family either has one line per backend (VALUE)
 * or writes its own (APPEND). */
static const struct {
  const gchar *name;
  const gchar *type;
  const gchar *help;
  guint64 (*value) (const MbBackendSnapshot *b);
  void (*append) (GString *out, const gchar *name, const MbBackendSnapshot *b);
} backend_families[] = {
  { "backend_up", "gauge", "1 if the backend is up (state up), else 0.", backend_up, NULL },
  { "backend_state", "gauge",
    "1 for the backend's current state (up, down, drain or maint), 0 for the others.",
    NULL, append_backend_state },
  { "backend_weight", "gauge", "Weight of the backend in force.", backend_weight, NULL },
  { "backend_sessions", "gauge", "Live sessions with the backend.", backend_sessions, NULL },
  { "backend_connections_total", "counter", "Sessions established with the backend.",
    backend_connections, NULL },
  { "backend_connect_failures_total", "counter", "Connects to the backend that failed.",
    backend_connect_failures, NULL },
  { "backend_bytes_sent_total", "counter", "Bytes sent to the backend.",
    backend_bytes_sent, NULL },
  { "backend_bytes_received_total", "counter", "Bytes received from the backend.",
    backend_bytes_received, NULL },
  { "backend_connect_seconds", "histogram", "Time successful connects to the backend took.",
    NULL, append_backend_connect_time },
  { "backend_check_failures_total", "counter", "Health checks of the backend that failed.",
    backend_check_failures, NULL },
};

/* Added after relay_bytes_total (the order stays a prefix): only backends
 * whose host name resolve_interval follows have series. */
static const struct {
  const gchar *name;
  const gchar *help;
  void (*append) (GString *out, const gchar *name, const MbBackendSnapshot *b);
} lookup_families[] = {
  { "backend_lookup_ok",
    "1 if the last lookup of the backend's host name (resolve_interval) succeeded, else 0.",
    append_backend_lookup_ok },
  { "backend_lookup_timestamp_seconds",
    "When the backend's host name was last looked up, in seconds since the Unix epoch.",
    append_backend_lookup_time },
};

gchar *
mb_metrics_render (const MbSnapshot *snapshot)
{
  GString *out;
  gchar start[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_val_if_fail (snapshot != NULL, NULL);

  out = g_string_sized_new (2048 + 512 * snapshot->frontends->len
                            + 2048 * snapshot->backends->len);

  append_family (out, "build_info", "gauge", "Version of mini-balancer that runs; always 1.");
  g_string_append (out, PREFIX "build_info{");
  append_label (out, "version", snapshot->version);
  g_string_append (out, "} 1\n");

  append_family (out, "start_time_seconds", "gauge",
                 "When the daemon started, in seconds since the Unix epoch.");
  g_ascii_formatd (start, sizeof start, "%.3f", (gdouble) snapshot->start_time / G_USEC_PER_SEC);
  g_string_append_printf (out, PREFIX "start_time_seconds %s\n", start);

  append_family (out, "reloads_total", "counter", "Configuration reloads, by result.");
  g_string_append_printf (out, PREFIX "reloads_total{result=\"ok\"} %u\n", snapshot->reloads_ok);
  g_string_append_printf (out, PREFIX "reloads_total{result=\"failed\"} %u\n",
                          snapshot->reloads_failed);

  for (guint i = 0; i < G_N_ELEMENTS (frontend_families); i++)
    {
      append_family (out, frontend_families[i].name, frontend_families[i].type,
                     frontend_families[i].help);
      for (guint j = 0; j < snapshot->frontends->len; j++)
        {
          const MbFrontendSnapshot *f = snapshot->frontends->pdata[j];

          g_string_append_printf (out, PREFIX "%s{", frontend_families[i].name);
          append_label (out, "frontend", f->title);
          g_string_append_c (out, '}');
          append_value (out, frontend_families[i].value (f));
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (backend_families); i++)
    {
      append_family (out, backend_families[i].name, backend_families[i].type,
                     backend_families[i].help);
      for (guint j = 0; j < snapshot->backends->len; j++)
        {
          const MbBackendSnapshot *b = snapshot->backends->pdata[j];

          if (backend_families[i].value == NULL)
            {
              backend_families[i].append (out, backend_families[i].name, b);
              continue;
            }
          append_backend_series (out, backend_families[i].name, b, NULL, NULL);
          append_value (out, backend_families[i].value (b));
        }
    }

  /* After the spec's families: a family added later goes at the end, so
   * that the spec's order stays a prefix of ours. */
  append_family (out, "relay_bytes_total", "counter",
                 "Bytes the relays read, by the path that moved them: splice (through kernel "
                 "pipes) or copy (through buffers).");
  g_string_append_printf (out, PREFIX "relay_bytes_total{path=\"splice\"} %" G_GUINT64_FORMAT "\n",
                          snapshot->relay_bytes_spliced);
  g_string_append_printf (out, PREFIX "relay_bytes_total{path=\"copy\"} %" G_GUINT64_FORMAT "\n",
                          snapshot->relay_bytes_copied);
  for (guint i = 0; i < G_N_ELEMENTS (lookup_families); i++)
    {
      append_family (out, lookup_families[i].name, "gauge", lookup_families[i].help);
      for (guint j = 0; j < snapshot->backends->len; j++)
        lookup_families[i].append (out, lookup_families[i].name, snapshot->backends->pdata[j]);
    }

  return g_string_free (out, FALSE);
}
