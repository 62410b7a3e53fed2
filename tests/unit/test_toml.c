/* Tests for src/toml.c (through mb_config_load, as the daemon uses it) */
#include "build-config.h"

#include "config.h"
#include "error.h"
#include "testutil.h"

/* The seed README's example, byte for byte. */
static const gchar seed[] =
  "[frontend]\n"
  "bind_on = \"127.0.0.1:7070\"\n"
  "\n"
  "[[frontend.backend]]\n"
  "forward_to = \"127.0.0.1:8080\"\n"
  "\n"
  "[[frontend.backend]]\n"
  "forward_to = \"127.0.0.1:9090\"\n";

START_TEST (test_seed_example)
{
  g_autofree gchar *path = write_file (dir, "mini-balancer.local.toml", seed);
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = mb_config_load (path, &error);
  MbFrontendConfig *frontend;

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (config->frontends->len, 1);
  frontend = config->frontends->pdata[0];
  ck_assert_str_eq (frontend->title, "frontend");
  ck_assert_str_eq (frontend->bind_on, "127.0.0.1:7070");
  ck_assert_uint_eq (frontend->bind_port, 7070);
  ck_assert_uint_eq (frontend->backends->len, 2);
  ck_assert_str_eq (((MbBackendConfig *) frontend->backends->pdata[0])->title, "backend1");
  ck_assert_str_eq (((MbBackendConfig *) frontend->backends->pdata[0])->forward_to, "127.0.0.1:8080");
  ck_assert_str_eq (((MbBackendConfig *) frontend->backends->pdata[1])->title, "backend2");
  ck_assert_str_eq (((MbBackendConfig *) frontend->backends->pdata[1])->forward_to, "127.0.0.1:9090");
  /* Everything else at the documented defaults. */
  ck_assert_uint_eq (frontend->connect_timeout_ms, MB_DEFAULT_CONNECT_TIMEOUT_MS);
  ck_assert_uint_eq (frontend->idle_timeout_ms, MB_DEFAULT_IDLE_TIMEOUT_MS);
  ck_assert_uint_eq (frontend->backlog, MB_DEFAULT_BACKLOG);
  ck_assert_uint_eq (config->shutdown_timeout_ms, MB_DEFAULT_SHUTDOWN_TIMEOUT_MS);
  ck_assert_int_eq (config->log_level, MB_LOG_LEVEL_MESSAGE);
}
END_TEST

START_TEST (test_suffix_case_insensitive)
{
  g_autofree gchar *path = write_file (dir, "Seed.TOML", seed);
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = mb_config_load (path, &error);

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
}
END_TEST

START_TEST (test_comments_crlf_and_order)
{
  g_autofree gchar *path = write_file (dir, "x.toml",
                                       "# leading comment\r\n"
                                       "[[frontend.backend]]   # backends may come first\r\n"
                                       "  forward_to = \"127.0.0.1:1\"\r\n"
                                       "[ frontend ]\r\n"
                                       "bind_on=\"[::1]:7070\"# tight\r\n"
                                       "[[ frontend . backend ]]\r\n"
                                       "forward_to = \"127.0.0.\\u0031:2\"\r\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = mb_config_load (path, &error);
  MbFrontendConfig *frontend;

  ck_assert_msg (config != NULL, "%s", error ? error->message : "");
  frontend = config->frontends->pdata[0];
  ck_assert_str_eq (frontend->bind_on, "[::1]:7070");
  ck_assert_uint_eq (frontend->backends->len, 2);
  ck_assert_str_eq (((MbBackendConfig *) frontend->backends->pdata[0])->forward_to, "127.0.0.1:1");
  ck_assert_str_eq (((MbBackendConfig *) frontend->backends->pdata[1])->forward_to, "127.0.0.1:2");
}
END_TEST

static const struct { const gchar *text; gint line; const gchar *why; } errors[] = {
  { "[frontend]\nbind_on = \"127.0.0.1:7070\"\nbalance = \"round-robin\"\n", 3, "unknown key 'balance' in [frontend]" },
  { "[frontend]\nbind_on = \"127.0.0.1:7070\"\n[backend]\n", 3, "unknown table [backend]" },
  { "[frontend]\nbind_on = \"127.0.0.1:7070\"\n[[frontend.backend]]\nforward_to = \"127.0.0.1:1\"\nweight = \"3\"\n", 5, "unknown key 'weight'" },
  { "[frontend]\nbind_on = 7070\n", 2, "expected a string" },
  { "[frontend]\nbind_on = '127.0.0.1:7070'\n", 2, "expected a string" },
  { "[frontend]\nbind_on = \"127.0.0.1:7070\n", 2, "unterminated string" },
  { "[frontend]\nbind_on = \"127.0.0.1:7070\" x\n", 2, "unexpected text after the value" },
  { "[frontend]\nbind_on = \"a\\qb\"\n", 2, "invalid escape" },
  { "[frontend]\nbind_on = \"127.0.0.1:7070\"\nbind_on = \"127.0.0.1:7071\"\n", 3, "set twice" },
  { "[frontend]\n[frontend]\n", 2, "defined twice" },
  { "bind_on = \"127.0.0.1:7070\"\n[frontend]\n", 1, "outside [frontend]" },
  { "[frontend\n", 1, "malformed table header" },
  { "[front end]\n", 1, "malformed table header" },
  { "[[frontend.]]\n", 1, "malformed table header" },
  { "[[frontend..backend]]\n", 1, "malformed table header" },
  { "[frontend]\njust words\n", 2, "expected key = \"value\"" },
  { "[frontend]\nbind_on = \"127.0.0.1\"\n[[frontend.backend]]\nforward_to = \"127.0.0.1:1\"\n", 2, "bind_on: invalid address" },
  { "[frontend]\nbind_on = \"127.0.0.1:7070\"\n", 2, "no backend defined" },
  { "[frontend]\nbind_on = \"127.0.0.1:7070\"\n[[frontend.backend]]\n", 3, "forward_to is required" },
  { "[frontend]\n[[frontend.backend]]\nforward_to = \"127.0.0.1:1\"\n", 1, "bind_on is required" },
};

START_TEST (test_errors_name_file_and_line)
{
  g_autofree gchar *path = write_file (dir, "bad.toml", errors[_i].text);
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = mb_config_load (path, &error);

  ck_assert_ptr_null (config);
  ck_assert (g_error_matches (error, MB_ERROR, MB_ERROR_CONFIG));
  assert_contains (error->message, "%s:%d: ", path, errors[_i].line);
  assert_contains (error->message, "%s", errors[_i].why);
}
END_TEST

START_TEST (test_empty_and_missing)
{
  g_autofree gchar *empty = write_file (dir, "empty.toml", "");
  g_autofree gchar *missing = g_build_filename (dir, "missing.toml", NULL);
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  ck_assert_ptr_null (mb_config_load (empty, &e1));
  assert_contains (e1->message, "%s: no [frontend] table", empty);
  ck_assert_ptr_null (mb_config_load (missing, &e2));
  assert_contains (e2->message, "%s: cannot read the file: No such file", missing);
}
END_TEST

START_TEST (test_every_error_reported)
{
  g_autofree gchar *path = write_file (dir, "two.toml",
                                       "[frontend]\nport = \"1\"\nbind_on = \"127.0.0.1:7070\"\n"
                                       "[[frontend.backend]]\nforward_to = \"x\"\n");
  g_autoptr(GError) error = NULL;

  ck_assert_ptr_null (mb_config_load (path, &error));
  assert_contains (error->message, "%s:2: unknown key 'port'", path);
}
END_TEST

static Suite *
toml_suite (void)
{
  Suite *suite = suite_create ("toml");
  TCase *tc = tcase_create ("load");

  tcase_add_checked_fixture (tc, dir_setup, dir_teardown);
  tcase_add_test (tc, test_seed_example);
  tcase_add_test (tc, test_suffix_case_insensitive);
  tcase_add_test (tc, test_comments_crlf_and_order);
  tcase_add_loop_test (tc, test_errors_name_file_and_line, 0, G_N_ELEMENTS (errors));
  tcase_add_test (tc, test_empty_and_missing);
  tcase_add_test (tc, test_every_error_reported);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (toml_suite)
