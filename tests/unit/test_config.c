/* Tests for src/config.c: the libconfuse schema, defaults, and every error
 * with its file and line. */
#include "build-config.h"

#include "config.h"
#include "error.h"
#include "testutil.h"

static MbConfig *
load_text (const gchar *name, const gchar *text, gchar **out_path, GError **error)
{
  g_autofree gchar *path = write_file (dir, name, text);
  MbConfig *config = mb_config_load (path, error);

  if (out_path != NULL)
    *out_path = g_steal_pointer (&path);
  return config;
}

START_TEST (test_full_example)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("ok.conf",
    "# comment\n"
    "log_level        = info\n"
    "shutdown_timeout = 10s   # trailing comment\n"
    "\n"
    "frontend web {\n"
    "  bind_on         = \"127.0.0.1:7070\"\n"
    "  balance         = round-robin\n"
    "  connect_timeout = 250ms\n"
    "  idle_timeout    = 0\n"
    "  backlog         = 16\n"
    "  backend app1 { forward_to = \"127.0.0.1:8080\" }\n"
    "  backend app2 { forward_to = \"[::1]:9090\" }\n"
    "}\n"
    "frontend other {\n"
    "  bind_on = \"*:7071\"\n"
    "  backend x { forward_to = \"localhost:1\" }\n"
    "}\n", NULL, &error);
  MbFrontendConfig *web, *other;
  MbBackendConfig *app2;

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
  ck_assert_int_eq (config->log_level, MB_LOG_LEVEL_INFO);
  ck_assert_uint_eq (config->shutdown_timeout_ms, 10000);
  ck_assert_uint_eq (config->frontends->len, 2);
  web = config->frontends->pdata[0];
  ck_assert_str_eq (web->title, "web");
  ck_assert_uint_eq (web->connect_timeout_ms, 250);
  ck_assert_uint_eq (web->idle_timeout_ms, 0);
  ck_assert_uint_eq (web->backlog, 16);
  ck_assert (!web->bind_any);
  ck_assert_uint_eq (web->bind_addresses->len, 1);
  ck_assert_uint_eq (web->backends->len, 2);
  app2 = web->backends->pdata[1];
  ck_assert_str_eq (app2->title, "app2");
  ck_assert_uint_eq (app2->addresses->len, 1);
  ck_assert_int_eq (g_socket_address_get_family (app2->addresses->pdata[0]), G_SOCKET_FAMILY_IPV6);
  other = config->frontends->pdata[1];
  ck_assert (other->bind_any);
  ck_assert_uint_eq (other->bind_port, 7071);
  ck_assert_uint_ge (((MbBackendConfig *) other->backends->pdata[0])->addresses->len, 1);
}
END_TEST

START_TEST (test_limits_and_identity)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("id.conf",
    "max_connections = 500\n"
    "workers = 3\n"
    "user = root\n"
    "group = \"root\"\n"
    "frontend f {\n"
    "  bind_on = \"127.0.0.1:1\"\n"
    "  max_connections = 20\n"
    "  backend b { forward_to = \"127.0.0.1:2\" }\n"
    "}\n", NULL, &error);
  MbFrontendConfig *f;

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (config->max_connections, 500);
  ck_assert_uint_eq (config->workers, 3);
  ck_assert_str_eq (config->user, "root");
  ck_assert_str_eq (config->group, "root");
  ck_assert_uint_eq (config->uid, 0);
  ck_assert_uint_eq (config->gid, 0);
  f = config->frontends->pdata[0];
  ck_assert_uint_eq (f->max_connections, 20);
}
END_TEST

START_TEST (test_balancing_options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("lb.conf",
    "frontend web {\n"
    "  bind_on      = \"127.0.0.1:7070\"\n"
    "  balance      = least-connections\n"
    "  max_fails    = 3\n"
    "  fail_timeout = 10s\n"
    "  health_check {\n"
    "    interval = 2s\n"
    "    timeout  = 500ms\n"
    "    rise     = 4\n"
    "    fall     = 5\n"
    "    send     = \"PING\\r\\n\"\n"
    "    expect   = \"PONG\"\n"
    "  }\n"
    "  backend app1 { forward_to = \"127.0.0.1:8080\"  weight = 3 }\n"
    "  backend app2 { forward_to = \"127.0.0.1:9090\"  weight = 1 }\n"
    "  backend spare { forward_to = \"127.0.0.1:9999\" backup = true }\n"
    "}\n"
    "frontend h { bind_on = \"127.0.0.1:7071\" balance = source-hash\n"
    "  health_check { }\n"
    "  backend x { forward_to = \"127.0.0.1:1\" } }\n"
    "frontend r { bind_on = \"127.0.0.1:7072\" balance = random-two\n"
    "  backend x { forward_to = \"127.0.0.1:1\" } }\n"
    "frontend p { bind_on = \"127.0.0.1:7073\" accept_proxy = true send_proxy = v2 freebind = yes\n"
    "  backend inherits { forward_to = \"127.0.0.1:1\" }\n"
    "  backend own { forward_to = \"127.0.0.1:2\" send_proxy = v1 }\n"
    "  backend plain { forward_to = \"127.0.0.1:3\" send_proxy = none } }\n", NULL, &error);
  MbFrontendConfig *web, *h, *r, *p;
  MbBackendConfig *app1, *app2, *spare;
  gsize len;

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
  web = config->frontends->pdata[0];
  ck_assert_int_eq (web->balance, MB_BALANCE_LEAST_CONNECTIONS);
  ck_assert_uint_eq (web->max_fails, 3);
  ck_assert_uint_eq (web->fail_timeout_ms, 10000);
  ck_assert_ptr_nonnull (web->health_check);
  ck_assert_uint_eq (web->health_check->interval_ms, 2000);
  ck_assert_uint_eq (web->health_check->timeout_ms, 500);
  ck_assert_uint_eq (web->health_check->rise, 4);
  ck_assert_uint_eq (web->health_check->fall, 5);
  ck_assert_mem_eq (g_bytes_get_data (web->health_check->send, &len), "PING\r\n", 6);
  ck_assert_uint_eq (len, 6);
  ck_assert_mem_eq (g_bytes_get_data (web->health_check->expect, &len), "PONG", 4);
  ck_assert_uint_eq (len, 4);
  app1 = web->backends->pdata[0];
  app2 = web->backends->pdata[1];
  spare = web->backends->pdata[2];
  ck_assert_uint_eq (app1->weight, 3);
  ck_assert_uint_eq (app2->weight, 1);
  ck_assert (!app1->backup && !app2->backup);
  ck_assert (spare->backup);
  ck_assert_uint_eq (spare->weight, 1);
  h = config->frontends->pdata[1];
  ck_assert_int_eq (h->balance, MB_BALANCE_SOURCE_HASH);
  /* An empty health_check section: every default. */
  ck_assert_ptr_nonnull (h->health_check);
  ck_assert_uint_eq (h->health_check->interval_ms, 2000);
  ck_assert_uint_eq (h->health_check->timeout_ms, 1000);
  ck_assert_uint_eq (h->health_check->rise, 2);
  ck_assert_uint_eq (h->health_check->fall, 3);
  ck_assert_ptr_null (h->health_check->send);
  ck_assert_ptr_null (h->health_check->expect);
  r = config->frontends->pdata[2];
  ck_assert_int_eq (r->balance, MB_BALANCE_RANDOM_TWO);
  ck_assert (!r->accept_proxy);
  ck_assert (!r->freebind);
  ck_assert_int_eq (((MbBackendConfig *) r->backends->pdata[0])->send_proxy, MB_PROXY_NONE);
  /* PROXY protocol: a frontend's send_proxy is its backends' default. */
  p = config->frontends->pdata[3];
  ck_assert (p->accept_proxy);
  ck_assert (p->freebind);
  ck_assert_int_eq (p->send_proxy, MB_PROXY_V2);
  ck_assert_int_eq (((MbBackendConfig *) p->backends->pdata[0])->send_proxy, MB_PROXY_V2);
  ck_assert_int_eq (((MbBackendConfig *) p->backends->pdata[1])->send_proxy, MB_PROXY_V1);
  ck_assert_int_eq (((MbBackendConfig *) p->backends->pdata[2])->send_proxy, MB_PROXY_NONE);
}
END_TEST

START_TEST (test_defaults)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("min.conf",
    "frontend f { bind_on = \"127.0.0.1:1\" backend b { forward_to = \"127.0.0.1:2\" } }\n", NULL, &error);
  MbFrontendConfig *f;

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
  ck_assert_int_eq (config->log_level, MB_LOG_LEVEL_MESSAGE);
  ck_assert_uint_eq (config->shutdown_timeout_ms, 30000);
  f = config->frontends->pdata[0];
  ck_assert_int_eq (f->balance, MB_BALANCE_ROUND_ROBIN);
  ck_assert_uint_eq (f->connect_timeout_ms, 5000);
  ck_assert_uint_eq (f->idle_timeout_ms, 3600000);
  ck_assert_uint_eq (f->backlog, 1024);
  ck_assert_uint_eq (f->max_connections, 0);
  ck_assert_uint_eq (f->max_fails, 0);
  ck_assert_uint_eq (f->fail_timeout_ms, 10000);
  ck_assert_ptr_null (f->health_check);
  ck_assert_uint_eq (((MbBackendConfig *) f->backends->pdata[0])->weight, 1);
  ck_assert (!((MbBackendConfig *) f->backends->pdata[0])->backup);
  ck_assert_uint_eq (config->max_connections, 10000);
  ck_assert_uint_eq (config->workers, 0);   /* auto */
  ck_assert_ptr_null (config->user);
  ck_assert_ptr_null (config->group);
}
END_TEST

/* resolve_interval: names are kept to be resolved again, and one that
 * does not resolve yet starts with no address instead of being an error. */
START_TEST (test_resolve_interval)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("dns.conf",
    "frontend f { bind_on = \"127.0.0.1:1\" resolve_interval = 30s\n"
    "  backend name { forward_to = \"localhost:2\" }\n"
    "  backend literal { forward_to = \"127.0.0.1:3\" }\n"
    "  backend later { forward_to = \"nowhere.invalid:4\" } }\n"
    "frontend once { bind_on = \"127.0.0.1:5\"\n"
    "  backend name { forward_to = \"localhost:6\" } }\n", NULL, &error);
  MbFrontendConfig *f, *once;
  MbBackendConfig *name, *literal, *later;

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
  f = config->frontends->pdata[0];
  ck_assert_uint_eq (f->resolve_interval_ms, 30000);
  name = f->backends->pdata[0];
  literal = f->backends->pdata[1];
  later = f->backends->pdata[2];
  ck_assert_str_eq (name->host, "localhost");
  ck_assert_uint_eq (name->port, 2);
  ck_assert_uint_gt (name->addresses->len, 0);
  ck_assert_ptr_null (name->resolve_error);
  ck_assert_ptr_null (literal->host);   /* nothing to look up again */
  ck_assert_uint_eq (literal->addresses->len, 1);
  ck_assert_str_eq (later->host, "nowhere.invalid");
  ck_assert_uint_eq (later->addresses->len, 0);
  ck_assert_ptr_nonnull (later->resolve_error);
  once = config->frontends->pdata[1];
  ck_assert_uint_eq (once->resolve_interval_ms, 0);
  ck_assert_ptr_null (((MbBackendConfig *) once->backends->pdata[0])->host);
}
END_TEST

/* A valid frontend to put around the error under test. */
#define GOOD_FRONTEND "frontend ok {\n  bind_on = \"127.0.0.1:7070\"\n  backend a { forward_to = \"127.0.0.1:8080\" }\n}\n"

static const struct { const gchar *text; gint line; const gchar *why; } errors[] = {
  /* libconfuse's own errors, on the right line despite the comments above them */
  { "# c\n# c\nbogus = 1\n" GOOD_FRONTEND, 3, "no such option 'bogus'" },
  { "# c\nfrontend web {\n  # c\n  bind_on = \"127.0.0.1:1\"\n  port = 3\n}\n", 5, "no such option 'port'" },
  { GOOD_FRONTEND "frontend ok { bind_on = \"127.0.0.1:1\" backend b { forward_to = \"127.0.0.1:2\" } }\n", 5,
    "duplicate frontend title 'ok'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n  backend b { forward_to = \"127.0.0.1:3\" }\n}\n",
    4, "frontend f: duplicate backend title 'b'" },
  /* values */
  { GOOD_FRONTEND "\n# c\nlog_level = loud\n", 7, "log_level: unknown level 'loud'" },
  { "shutdown_timeout = 1.5s\n" GOOD_FRONTEND, 1, "shutdown_timeout: invalid duration '1.5s'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  # c\n  idle_timeout = 5x\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "frontend f: idle_timeout: invalid duration '5x'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  connect_timeout = 0\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: connect_timeout: must be more than 0" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  connect_timeout = 31d\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: connect_timeout: invalid duration" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  balance = fastest\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: balance: unknown algorithm 'fastest'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backlog = -5\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: backlog: '-5' is not a number" },
  { "frontend f {\n\n  bind_on = \"127.0.0.1\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: bind_on: invalid address '127.0.0.1'" },
  { "frontend f {\n  bind_on = \"[::1:80\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    2, "frontend f: bind_on: invalid address '[::1:80'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b {\n    forward_to = \"*:80\"\n  }\n}\n",
    4, "frontend f: backend b: forward_to: invalid address '*:80'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b {\n    forward_to = \"nowhere.invalid:80\"\n  }\n}\n",
    4, "frontend f: backend b: forward_to: cannot resolve 'nowhere.invalid'" },
  { "frontend f {\n  bind_on = \"nowhere.invalid:80\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    2, "frontend f: bind_on: cannot resolve 'nowhere.invalid'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  resolve_interval = often\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: resolve_interval: invalid duration 'often'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  bind_on = \"127.0.0.1:2\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "bind_on is set twice (first at" },
  { "workers = 0\n" GOOD_FRONTEND, 1, "workers: '0' is neither auto nor a number from 1 to 64" },
  { "\nworkers = many\n" GOOD_FRONTEND, 2, "workers: 'many' is neither auto nor a number from 1 to 64" },
  { "workers = 65\n" GOOD_FRONTEND, 1, "workers: '65' is neither auto nor a number from 1 to 64" },
  { "max_connections = 0\n" GOOD_FRONTEND, 1, "max_connections: '0' is not a number from 1 to 1000000" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  max_connections = lots\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: max_connections: 'lots' is not a number from 0 to 1000000" },
  { GOOD_FRONTEND "user = \"no-such-user-mb\"\n", 5, "user: unknown user 'no-such-user-mb'" },
  { GOOD_FRONTEND "\ngroup = no-such-group-mb\n", 6, "group: unknown group 'no-such-group-mb'" },
  /* balancing */
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b {\n    forward_to = \"127.0.0.1:2\"\n    weight = 0\n  }\n}\n",
    5, "frontend f: backend b: weight: '0' is not a number from 1 to 256" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b { forward_to = \"127.0.0.1:2\" weight = 257 }\n}\n",
    3, "frontend f: backend b: weight: '257' is not a number from 1 to 256" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n  backend c {\n    forward_to = \"127.0.0.1:3\"\n    backup = maybe\n  }\n}\n",
    6, "frontend f: backend c: backup: 'maybe' is neither true nor false" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b { forward_to = \"127.0.0.1:2\" backup = true }\n}\n",
    2, "frontend f: every backend is a backup" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  freebind = sometimes\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: freebind: 'sometimes' is neither true nor false" },
  /* PROXY protocol */
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  accept_proxy = maybe\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: accept_proxy: 'maybe' is neither true nor false" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  send_proxy = v3\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: send_proxy: 'v3' is not none, v1 or v2" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b {\n    forward_to = \"127.0.0.1:2\"\n    send_proxy = V1\n  }\n}\n",
    5, "frontend f: backend b: send_proxy: 'V1' is not none, v1 or v2" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  max_fails = -1\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: max_fails: '-1' is not a number from 0 to 1000" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  fail_timeout = 0\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    3, "frontend f: fail_timeout: must be more than 0" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  health_check {\n    interval = 0s\n  }\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "frontend f: health_check: interval: must be more than 0" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  health_check {\n    timeout = soon\n  }\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "frontend f: health_check: timeout: invalid duration 'soon'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  health_check {\n    rise = 0\n  }\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "frontend f: health_check: rise: '0' is not a number from 1 to 100" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  health_check {\n    fall = 101\n  }\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "frontend f: health_check: fall: '101' is not a number from 1 to 100" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  health_check {\n    expect = \"\"\n  }\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "frontend f: health_check: expect: must not be empty" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  health_check { }\n  health_check { }\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "frontend f: health_check is given twice" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  health_check {\n    port = 80\n  }\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n",
    4, "no such option 'port'" },
  /* structure */
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n}\n", 2, "frontend f: no backend defined" },
  { "frontend f {\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n", 3, "frontend f: bind_on is required" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b {\n  }\n}\n", 4, "frontend f: backend b: forward_to is required" },
  { GOOD_FRONTEND "frontend again {\n  bind_on = \"127.0.0.1:7070\"\n  backend a { forward_to = \"127.0.0.1:8080\" }\n}\n",
    6, "frontend again: bind_on: 127.0.0.1:7070 overlaps frontend ok" },
  { GOOD_FRONTEND "frontend again {\n  bind_on = \"*:7070\"\n  backend a { forward_to = \"127.0.0.1:8080\" }\n}\n",
    6, "overlaps frontend ok" },
  { GOOD_FRONTEND "frontend again {\n  bind_on = \"0.0.0.0:7070\"\n  backend a { forward_to = \"127.0.0.1:8080\" }\n}\n",
    6, "overlaps frontend ok" },
  { "frontend {\n  bind_on = \"127.0.0.1:1\"\n}\n", 1, "missing title for section 'frontend'" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b {\n    forward_to = \"127.0.0.1:2\"\n  }\n", 1,
    "'{' is not closed" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n}\n", 5,
    "unexpected closing brace" },
  { "frontend f {\n  bind_on = \"127.0.0.1:1\" \"x\"\n  backend b { forward_to = \"127.0.0.1:2\" }\n}\n", 2,
    "no such option 'x'" },
};

START_TEST (test_error_names_line)
{
  g_autofree gchar *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("bad.conf", errors[_i].text, &path, &error);

  ck_assert_msg (config == NULL, "accepted:\n%s", errors[_i].text);
  ck_assert (g_error_matches (error, MB_ERROR, MB_ERROR_CONFIG));
  assert_contains (error->message, "%s:%d: ", path, errors[_i].line);
  assert_contains (error->message, "%s", errors[_i].why);
}
END_TEST

START_TEST (test_all_errors_reported)
{
  g_autofree gchar *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("many.conf",
    "log_level = loud\n"
    "frontend f {\n"
    "  bind_on = \"127.0.0.1\"\n"
    "  idle_timeout = forever\n"
    "  backend b { forward_to = \"127.0.0.1:0\" }\n"
    "}\n"
    "frontend g {\n"
    "  bind_on = \"127.0.0.1:9\"\n"
    "}\n", &path, &error);

  ck_assert_ptr_null (config);
  assert_contains (error->message, "%s:1: log_level", path);
  assert_contains (error->message, "%s:3: frontend f: bind_on", path);
  assert_contains (error->message, "%s:4: frontend f: idle_timeout", path);
  assert_contains (error->message, "%s:5: frontend f: backend b: forward_to", path);
  assert_contains (error->message, "%s:8: frontend g: no backend defined", path);
}
END_TEST

START_TEST (test_include)
{
  g_autofree gchar *backends = write_file (dir, "backends.conf",
                                           "# the backends\n\nbackend x {\n  forward_to = \"127.0.0.1:99999\"\n}\n");
  g_autofree gchar *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = load_text ("main.conf",
    "frontend f {\n  bind_on = \"127.0.0.1:1\"\n  include(\"backends.conf\")\n}\n", &path, &error);

  /* The error names the included file and its own line. */
  ck_assert_ptr_null (config);
  assert_contains (error->message, "%s:4: frontend f: backend x: forward_to: invalid address", backends);
}
END_TEST

START_TEST (test_missing_and_empty_files)
{
  g_autofree gchar *missing = g_build_filename (dir, "nothing.conf", NULL);
  g_autofree gchar *empty = NULL;
  g_autofree gchar *comments = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;

  ck_assert_ptr_null (mb_config_load (missing, &e1));
  assert_contains (e1->message, "%s: cannot read the file: No such file or directory", missing);
  ck_assert_ptr_null (load_text ("empty.conf", "", &empty, &e2));
  assert_contains (e2->message, "%s: the file is empty", empty);
  ck_assert_ptr_null (load_text ("comments.conf", "# only\n\n   # comments\n", &comments, &e3));
  assert_contains (e3->message, "%s: the file is empty", comments);
}
END_TEST

START_TEST (test_no_frontend)
{
  g_autofree gchar *path = NULL;
  g_autoptr(GError) error = NULL;

  ck_assert_ptr_null (load_text ("nofe.conf", "log_level = debug\n", &path, &error));
  assert_contains (error->message, "%s: no frontend defined", path);
}
END_TEST

START_TEST (test_log_level_names)
{
  ck_assert_str_eq (mb_log_level_to_string (MB_LOG_LEVEL_ERROR), "error");
  ck_assert_str_eq (mb_log_level_to_string (MB_LOG_LEVEL_DEBUG), "debug");
}
END_TEST

static Suite *
config_suite (void)
{
  Suite *suite = suite_create ("config");
  TCase *tc = tcase_create ("load");

  tcase_add_checked_fixture (tc, dir_setup, dir_teardown);
  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_full_example);
  tcase_add_test (tc, test_defaults);
  tcase_add_test (tc, test_resolve_interval);
  tcase_add_test (tc, test_balancing_options);
  tcase_add_test (tc, test_limits_and_identity);
  tcase_add_loop_test (tc, test_error_names_line, 0, G_N_ELEMENTS (errors));
  tcase_add_test (tc, test_all_errors_reported);
  tcase_add_test (tc, test_include);
  tcase_add_test (tc, test_missing_and_empty_files);
  tcase_add_test (tc, test_no_frontend);
  tcase_add_test (tc, test_log_level_names);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (config_suite)
