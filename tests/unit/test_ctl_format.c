/* Tests for src/ctl-format.c */
#include "build-config.h"

#include "ctl-format.h"
#include "error.h"
#include "testutil.h"

static JsonObject *
parse_ok (const gchar *line)
{
  g_autoptr(GError) error = NULL;
  JsonObject *answer = mb_ctl_answer_parse (line, strlen (line), &error);

  ck_assert_msg (answer != NULL, "'%s' rejected: %s", line, error ? error->message : "");
  return answer;
}

static gchar *
format (const gchar *command, const gchar *line)
{
  g_autoptr(JsonObject) answer = parse_ok (line);

  return mb_ctl_format_answer (command, answer);
}

static gchar *
errors (const gchar *line)
{
  g_autoptr(JsonObject) answer = parse_ok (line);

  return mb_ctl_format_errors ("prog", answer);
}

#define assert_text(got, expected)                                                      \
  ck_assert_msg (g_strcmp0 ((got), (expected)) == 0, "expected:\n%s\n---- got:\n%s\n----", \
                 (expected), (got))

/* ---- parsing ---- */

START_TEST (test_parse_valid)
{
  g_autoptr(JsonObject) yes = parse_ok ("{\"ok\":true,\"x\":1}");
  g_autoptr(JsonObject) no = parse_ok (" {\"ok\" : false, \"error\": \"no\"} \r");

  ck_assert (json_object_get_boolean_member (yes, "ok"));
  ck_assert_int_eq (json_object_get_int_member (yes, "x"), 1);
  ck_assert (!json_object_get_boolean_member (no, "ok"));
}
END_TEST

static const struct { const gchar *line; gsize length; const gchar *says; } invalid[] = {
  { "", 0, "not a JSON object" },
  { "hello", 5, "not JSON" },
  { "{\"ok\":true", 10, "not JSON" },
  { "[{\"ok\":true}]", 13, "not a JSON object" },
  { "null", 4, "not a JSON object" },
  { "{}", 2, "no \"ok\"" },
  { "{\"ok\":1}", 8, "no \"ok\"" },
  { "{\"ok\":\"true\"}", 13, "no \"ok\"" },
  { "{\"ok\":null}", 11, "no \"ok\"" },
  { "{\"ok\":true,\"e\":\"\xff\"}", 20, "not UTF-8" },
  { "{\"ok\":true}\0garbage", 19, "not UTF-8" },
};

START_TEST (test_parse_invalid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = mb_ctl_answer_parse (invalid[_i].line, invalid[_i].length, &error);

  ck_assert_msg (answer == NULL, "'%s' accepted", invalid[_i].line);
  ck_assert (g_error_matches (error, MB_ERROR, MB_ERROR_INVALID));
  assert_contains (error->message, "%s", invalid[_i].says);
}
END_TEST

START_TEST (test_parse_too_long)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = mb_ctl_answer_parse ("{}", MB_CTL_ANSWER_MAX + 1, &error);

  ck_assert (answer == NULL);
  assert_contains (error->message, "longer than %u bytes", (guint) MB_CTL_ANSWER_MAX);
}
END_TEST

/* ---- tables ---- */

START_TEST (test_frontends_table)
{
  g_autofree gchar *text = format ("show frontends",
    "{\"ok\":true,\"frontends\":["
    "{\"title\":\"web\",\"bind_on\":\"127.0.0.1:7070\",\"balance\":\"round-robin\","
    "\"state\":\"listening\",\"sessions\":3,\"connections\":120,\"failed\":0,"
    "\"bytes_received\":1000,\"bytes_sent\":2000},"
    "{\"title\":\"api-internal\",\"bind_on\":\"[::1]:8443\",\"balance\":\"source-hash\","
    "\"state\":\"held\",\"sessions\":10000,\"connections\":12345678901234,\"failed\":7,"
    "\"bytes_received\":9876543210123,\"bytes_sent\":5,\"future_member\":\"ignored\"}]}");

  assert_text (text,
    "FRONTEND      BIND_ON         BALANCE      STATE      SESSIONS     CONNECTIONS  FAILED  BYTES_RECEIVED  BYTES_SENT\n"
    "web           127.0.0.1:7070  round-robin  listening         3             120       0            1000        2000\n"
    "api-internal  [::1]:8443      source-hash  held          10000  12345678901234       7   9876543210123           5\n");
}
END_TEST

START_TEST (test_backends_table)
{
  g_autofree gchar *text = format ("show backends web",
    "{\"ok\":true,\"backends\":["
    "{\"frontend\":\"web\",\"title\":\"app1\",\"address\":\"127.0.0.1:8080\","
    "\"forward_to\":\"127.0.0.1:8080\",\"state\":\"up\",\"why\":null,\"weight\":1,"
    "\"backup\":false,\"sessions\":1,\"connections\":60,\"connect_failures\":0,"
    "\"bytes_sent\":500,\"bytes_received\":1000,"
    "\"last_check\":{\"at\":\"2026-11-28T06:45:17Z\",\"ok\":true,\"detail\":null}},"
    "{\"frontend\":\"web\",\"title\":\"app2\",\"address\":\"10.0.0.2:9090\","
    "\"forward_to\":\"app2.internal:9090\",\"state\":\"down\","
    "\"why\":\"3 failed checks: Connection refused\",\"weight\":256,"
    "\"backup\":true,\"sessions\":0,\"connections\":4294967296,\"connect_failures\":12,"
    "\"bytes_sent\":0,\"bytes_received\":0,"
    "\"last_check\":{\"at\":\"2026-11-28T06:45:18Z\",\"ok\":false,\"detail\":\"Connection refused\"}},"
    "{\"frontend\":\"web\",\"title\":\"app3\",\"address\":null,"
    "\"state\":\"maint\",\"why\":\"set with the control socket\",\"weight\":2,"
    "\"backup\":false,\"sessions\":0,\"connections\":0,\"connect_failures\":0,"
    "\"bytes_sent\":0,\"bytes_received\":0,\"last_check\":null}]}");

  assert_text (text,
    "FRONTEND  BACKEND  ADDRESS                             STATE  WEIGHT  BACKUP  SESSIONS  CONNECTIONS  CONNECT_FAILURES  BYTES_SENT  BYTES_RECEIVED  LAST_CHECK                                       WHY\n"
    "web       app1     127.0.0.1:8080                      up          1  no             1           60                 0         500            1000  ok 2026-11-28T06:45:17Z                          -\n"
    "web       app2     10.0.0.2:9090 (app2.internal:9090)  down      256  yes            0   4294967296                12           0               0  failed 2026-11-28T06:45:18Z: Connection refused  3 failed checks: Connection refused\n"
    "web       app3     -                                   maint       2  no             0            0                 0           0               0  -                                                set with the control socket\n");
}
END_TEST

START_TEST (test_empty_table)
{
  g_autofree gchar *text = format ("show frontends", "{\"ok\":true,\"frontends\":[]}");

  assert_text (text,
    "FRONTEND  BIND_ON  BALANCE  STATE  SESSIONS  CONNECTIONS  FAILED  BYTES_RECEIVED  BYTES_SENT\n");
}
END_TEST

/* Widths count characters, not bytes; missing members and doubles. */
START_TEST (test_table_cells)
{
  g_autofree gchar *text = format ("show  frontends",
    "{\"ok\":true,\"frontends\":["
    "{\"title\":\"café\",\"sessions\":2.0,\"connections\":1e15,\"failed\":0.5},"
    "{\"title\":\"x\\ny\\u001b[2J\",\"bind_on\":[1,2],\"balance\":{\"a\":1}}]}");

  assert_text (text,
    "FRONTEND  BIND_ON  BALANCE  STATE  SESSIONS       CONNECTIONS  FAILED  BYTES_RECEIVED  BYTES_SENT\n"
    "café      -        -        -             2  1000000000000000     0.5               -           -\n"
    "x?y?[2J   [1,2]    {\"a\":1}  -             -                 -       -               -           -\n");
}
END_TEST

/* ---- key: value ---- */

START_TEST (test_info)
{
  g_autofree gchar *text = format ("show info",
    "{\"ok\":true,\"version\":\"0.1.0\",\"pid\":1234,\"uptime_s\":56,"
    "\"config_file\":\"/etc/mini-balancer/mini-balancer.conf\",\"workers\":2,\"sessions\":3,"
    "\"reloads\":2,\"last_reload\":{\"ok\":false,\"at\":\"2026-11-28T06:45:17Z\","
    "\"errors\":[\"/etc/x.conf:3: a, b\",\"/etc/x.conf:4: c\"]},"
    "\"descriptors\":{\"limit\":65536,\"in_use\":40},\"relay\":\"splice\",\"spare\":null,"
    "\"empty\":[],\"nothing\":{}}");

  assert_text (text,
    "version:            0.1.0\n"
    "pid:                1234\n"
    "uptime_s:           56\n"
    "config_file:        /etc/mini-balancer/mini-balancer.conf\n"
    "workers:            2\n"
    "sessions:           3\n"
    "reloads:            2\n"
    "last_reload.ok:     no\n"
    "last_reload.at:     2026-11-28T06:45:17Z\n"
    "last_reload.errors: /etc/x.conf:3: a, b\n"
    "                    /etc/x.conf:4: c\n"
    "descriptors.limit:  65536\n"
    "descriptors.in_use: 40\n"
    "relay:              splice\n"
    "spare:              -\n"
    "empty:              -\n"
    "nothing:            -\n");
}
END_TEST

START_TEST (test_info_never_reloaded)
{
  g_autofree gchar *text = format ("show info",
    "{\"ok\":true,\"version\":\"0.1.0\",\"pid\":7,\"last_reload\":null}");

  assert_text (text,
    "version:     0.1.0\n"
    "pid:         7\n"
    "last_reload: -\n");
}
END_TEST

/* ---- one line answers ---- */

static const struct { const gchar *command; const gchar *answer; const gchar *text; } lines[] = {
  { "disable web/app1", "{\"ok\":true,\"frontend\":\"web\",\"backend\":\"app1\",\"state\":\"maint\"}",
    "web/app1: maint\n" },
  { "drain web/app1", "{\"ok\":true,\"frontend\":\"web\",\"backend\":\"app1\",\"state\":\"drain\"}",
    "web/app1: drain\n" },
  { "enable web/app1", "{\"ok\":true,\"frontend\":\"web\",\"backend\":\"app1\",\"state\":\"down\"}",
    "web/app1: down\n" },
  { "enable web/a/b", "{\"ok\":true,\"state\":\"up\"}", "web/a/b: up\n" },
  { "set weight web/app1 3", "{\"ok\":true,\"frontend\":\"web\",\"backend\":\"app1\",\"weight\":3}",
    "web/app1: weight 3\n" },
  { "shutdown sessions web/app1",
    "{\"ok\":true,\"frontend\":\"web\",\"backend\":\"app1\",\"closed\":2}",
    "web/app1: 2 sessions closed\n" },
  { "shutdown sessions web/app1",
    "{\"ok\":true,\"frontend\":\"web\",\"backend\":\"app1\",\"closed\":1}",
    "web/app1: 1 session closed\n" },
  { "reload", "{\"ok\":true,\"errors\":[]}", "reloaded\n" },
  { "help", "{\"ok\":true,\"commands\":[\"show info\",\"reload\",\"help\"]}",
    "show info\nreload\nhelp\n" },
  /* Unknown forms: every member but ok/error/errors, aligned. */
  { "frobnicate", "{\"ok\":true}", "ok\n" },
  { "frobnicate now", "{\"ok\":true,\"a\":1,\"long_name\":\"x\",\"errors\":[\"w\"]}",
    "a:         1\nlong_name: x\n" },
  /* Known forms without the members they need fall back to the generic one. */
  { "show frontends", "{\"ok\":true,\"frontends\":[1]}", "frontends: 1\n" },
  { "show backends", "{\"ok\":true}", "ok\n" },
  { "disable web/app1", "{\"ok\":true,\"frontend\":\"web\"}", "frontend: web\n" },
  { "set weight web/app1 3", "{\"ok\":true,\"weight\":\"3\"}", "weight: 3\n" },
  { "help", "{\"ok\":true,\"commands\":\"all\"}", "commands: all\n" },
};

START_TEST (test_lines)
{
  g_autofree gchar *text = format (lines[_i].command, lines[_i].answer);

  assert_text (text, lines[_i].text);
}
END_TEST

/* ---- stderr ---- */

static const struct { const gchar *answer; const gchar *text; } complaints[] = {
  { "{\"ok\":true}", "" },
  { "{\"ok\":true,\"errors\":[]}", "" },
  { "{\"ok\":false,\"error\":\"no frontend 'x'\"}", "prog: no frontend 'x'\n" },
  { "{\"ok\":false,\"error\":\"reload failed: 2 errors\","
    "\"errors\":[\"/etc/x.conf:3: bad\",\"/etc/x.conf:9: worse\"]}",
    "prog: reload failed: 2 errors\n/etc/x.conf:3: bad\n/etc/x.conf:9: worse\n" },
  { "{\"ok\":false}", "prog: the daemon refused the command and gave no reason\n" },
  { "{\"ok\":false,\"error\":null}", "prog: the daemon refused the command and gave no reason\n" },
  { "{\"ok\":false,\"error\":\"two\\nlines\\u001b\"}", "prog: two?lines?\n" },
  { "{\"ok\":true,\"errors\":[\"a warning\"]}", "a warning\n" },
};

START_TEST (test_errors)
{
  g_autofree gchar *text = errors (complaints[_i].answer);

  assert_text (text, complaints[_i].text);
}
END_TEST

static Suite *
ctl_format_suite (void)
{
  Suite *suite = suite_create ("ctl-format");
  TCase *parse = tcase_create ("parse");
  TCase *tables = tcase_create ("tables");
  TCase *pairs = tcase_create ("pairs");
  TCase *stderr_case = tcase_create ("errors");

  tcase_add_test (parse, test_parse_valid);
  tcase_add_loop_test (parse, test_parse_invalid, 0, G_N_ELEMENTS (invalid));
  tcase_add_test (parse, test_parse_too_long);
  suite_add_tcase (suite, parse);

  tcase_add_test (tables, test_frontends_table);
  tcase_add_test (tables, test_backends_table);
  tcase_add_test (tables, test_empty_table);
  tcase_add_test (tables, test_table_cells);
  suite_add_tcase (suite, tables);

  tcase_add_test (pairs, test_info);
  tcase_add_test (pairs, test_info_never_reloaded);
  tcase_add_loop_test (pairs, test_lines, 0, G_N_ELEMENTS (lines));
  suite_add_tcase (suite, pairs);

  tcase_add_loop_test (stderr_case, test_errors, 0, G_N_ELEMENTS (complaints));
  suite_add_tcase (suite, stderr_case);
  return suite;
}

RUN_SUITE (ctl_format_suite)
