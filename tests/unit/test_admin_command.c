/* Tests for src/admin-command.c: the control socket's command parser. */
#include "build-config.h"

#include "admin-command.h"
#include "testutil.h"

static const struct {
  const gchar *line;
  MbAdminVerb verb;
  const gchar *frontend, *backend;
  guint weight;
} valid[] = {
  { "help", MB_ADMIN_HELP, NULL, NULL, 0 },
  { "show info", MB_ADMIN_SHOW_INFO, NULL, NULL, 0 },
  { "  show   frontends ", MB_ADMIN_SHOW_FRONTENDS, NULL, NULL, 0 },
  { "show backends", MB_ADMIN_SHOW_BACKENDS, NULL, NULL, 0 },
  { "show backends web", MB_ADMIN_SHOW_BACKENDS, "web", NULL, 0 },
  { "disable web/app1", MB_ADMIN_DISABLE, "web", "app1", 0 },
  { "drain web/app1", MB_ADMIN_DRAIN, "web", "app1", 0 },
  { "enable web/app1", MB_ADMIN_ENABLE, "web", "app1", 0 },
  { "enable web/db.example:5432", MB_ADMIN_ENABLE, "web", "db.example:5432", 0 },
  { "enable web/a/b", MB_ADMIN_ENABLE, "web", "a/b", 0 },
  { "set weight web/app1 1", MB_ADMIN_SET_WEIGHT, "web", "app1", 1 },
  { "set weight web/app1 256", MB_ADMIN_SET_WEIGHT, "web", "app1", 256 },
  { "set\tweight web/app1 7", MB_ADMIN_SET_WEIGHT, "web", "app1", 7 },
  { "shutdown sessions web/app1", MB_ADMIN_SHUTDOWN_SESSIONS, "web", "app1", 0 },
  { "reload", MB_ADMIN_RELOAD, NULL, NULL, 0 },
};

static const struct {
  const gchar *line;
  const gchar *error;
} invalid[] = {
  { "", "empty command (try 'help')" },
  { "   ", "empty command (try 'help')" },
  { "frobnicate", "unknown command 'frobnicate' (try 'help')" },
  { "SHOW info", "unknown command 'SHOW' (try 'help')" },
  { "show", "usage: show info | show frontends | show backends [FRONTEND]" },
  { "show nothing", "usage: show info | show frontends | show backends [FRONTEND]" },
  { "show info now", "usage: show info" },
  { "show backends web api", "usage: show backends [FRONTEND]" },
  { "help me", "usage: help" },
  { "reload now", "usage: reload" },
  { "disable", "usage: disable FRONTEND/BACKEND" },
  { "disable web/a web/b", "usage: disable FRONTEND/BACKEND" },
  { "drain", "usage: drain FRONTEND/BACKEND" },
  { "enable web", "'web' is not FRONTEND/BACKEND" },
  { "enable /app1", "'/app1' is not FRONTEND/BACKEND" },
  { "enable web/", "'web/' is not FRONTEND/BACKEND" },
  { "set", "usage: set weight FRONTEND/BACKEND WEIGHT" },
  { "set weight", "usage: set weight FRONTEND/BACKEND WEIGHT" },
  { "set weight web/app1", "usage: set weight FRONTEND/BACKEND WEIGHT" },
  { "set weight web/app1 2 3", "usage: set weight FRONTEND/BACKEND WEIGHT" },
  { "set weight web/app1 0", "weight: '0' is not a number from 1 to 256" },
  { "set weight web/app1 257", "weight: '257' is not a number from 1 to 256" },
  { "set weight web/app1 abc", "weight: 'abc' is not a number from 1 to 256" },
  { "set weight web/app1 -1", "weight: '-1' is not a number from 1 to 256" },
  { "set weight web/app1 99999999999999999999", "weight: '99999999999999999999' is not a number from 1 to 256" },
  { "set weight web 3", "'web' is not FRONTEND/BACKEND" },
  { "set height web/app1 3", "usage: set weight FRONTEND/BACKEND WEIGHT" },
  { "shutdown", "usage: shutdown sessions FRONTEND/BACKEND" },
  { "shutdown now", "usage: shutdown sessions FRONTEND/BACKEND" },
};

START_TEST (test_valid)
{
  g_autofree gchar *error = NULL;
  g_autoptr(MbAdminCommand) command = mb_admin_command_parse (valid[_i].line, &error);

  ck_assert_msg (command != NULL, "'%s' refused: %s", valid[_i].line, error);
  ck_assert_int_eq (command->verb, valid[_i].verb);
  ck_assert_pstr_eq (command->frontend, valid[_i].frontend);
  ck_assert_pstr_eq (command->backend, valid[_i].backend);
  ck_assert_uint_eq (command->weight, valid[_i].weight);
}
END_TEST

START_TEST (test_invalid)
{
  g_autofree gchar *error = NULL;
  g_autoptr(MbAdminCommand) command = mb_admin_command_parse (invalid[_i].line, &error);

  ck_assert_msg (command == NULL, "'%s' accepted", invalid[_i].line);
  ck_assert_str_eq (error, invalid[_i].error);
}
END_TEST

/* help lists every command, each of which parses (with its arguments
 * filled in). */
START_TEST (test_usages)
{
  const gchar *const *usages = mb_admin_command_usages ();
  guint n = 0;

  for (; usages[n] != NULL; n++)
    {
      g_autofree gchar *line = g_strdup (usages[n]);
      g_autofree gchar *error = NULL;
      g_autoptr(MbAdminCommand) command = NULL;
      gchar *bracket = strchr (line, '[');

      if (bracket != NULL)
        *bracket = '\0';
      g_strdelimit (line, NULL, ' ');
      {
        g_autoptr(GString) filled = g_string_new (line);

        g_string_replace (filled, "FRONTEND/BACKEND", "web/a", 0);
        g_string_replace (filled, "WEIGHT", "2", 0);
        command = mb_admin_command_parse (filled->str, &error);
        ck_assert_msg (command != NULL, "'%s' from help refused: %s", filled->str, error);
      }
    }
  ck_assert_uint_eq (n, 10);
}
END_TEST

static Suite *
admin_command_suite (void)
{
  Suite *suite = suite_create ("admin-command");
  TCase *tc = tcase_create ("parse");

  tcase_add_loop_test (tc, test_valid, 0, G_N_ELEMENTS (valid));
  tcase_add_loop_test (tc, test_invalid, 0, G_N_ELEMENTS (invalid));
  tcase_add_test (tc, test_usages);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (admin_command_suite)
