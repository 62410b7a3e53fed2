/* admin-command.c - parsing the control socket's commands; see admin-command.h. */
#include "build-config.h"

#include <string.h>

#include "admin-command.h"
#include "config.h"

typedef struct {
  const gchar *words;     /* the command's own words */
  guint n_args;           /* arguments after them */
  guint n_optional;       /* of which this many may be left out */
  const gchar *usage;
  MbAdminVerb verb;
} Syntax;

static const Syntax syntaxes[] = {
  { "show info", 0, 0, "show info", MB_ADMIN_SHOW_INFO },
  { "show frontends", 0, 0, "show frontends", MB_ADMIN_SHOW_FRONTENDS },
  { "show backends", 1, 1, "show backends [FRONTEND]", MB_ADMIN_SHOW_BACKENDS },
  { "disable", 1, 0, "disable FRONTEND/BACKEND", MB_ADMIN_DISABLE },
  { "drain", 1, 0, "drain FRONTEND/BACKEND", MB_ADMIN_DRAIN },
  { "enable", 1, 0, "enable FRONTEND/BACKEND", MB_ADMIN_ENABLE },
  { "set weight", 2, 0, "set weight FRONTEND/BACKEND WEIGHT", MB_ADMIN_SET_WEIGHT },
  { "shutdown sessions", 1, 0, "shutdown sessions FRONTEND/BACKEND", MB_ADMIN_SHUTDOWN_SESSIONS },
  { "reload", 0, 0, "reload", MB_ADMIN_RELOAD },
  { "help", 0, 0, "help", MB_ADMIN_HELP },
};

const gchar *const *
mb_admin_command_usages (void)
{
  static const gchar *usages[G_N_ELEMENTS (syntaxes) + 1];

  if (usages[0] == NULL)
    for (guint i = 0; i < G_N_ELEMENTS (syntaxes); i++)
      usages[i] = syntaxes[i].usage;
  return usages;
}

void
mb_admin_command_free (MbAdminCommand *command)
{
  if (command == NULL)
    return;
  g_free (command->frontend);
  g_free (command->backend);
  g_free (command);
}

/* Whether WORDS (space-separated) are the first words of ARGV. */
static guint
match_words (const gchar *words, gchar **argv, guint argc)
{
  g_auto(GStrv) want = g_strsplit (words, " ", -1);
  guint n = g_strv_length (want);

  if (n > argc)
    return 0;
  for (guint i = 0; i < n; i++)
    if (strcmp (want[i], argv[i]) != 0)
      return 0;
  return n;
}

static gboolean
parse_target (MbAdminCommand *command, const gchar *target, gchar **error)
{
  const gchar *slash = strchr (target, '/');

  if (slash == NULL || slash == target || slash[1] == '\0')
    {
      *error = g_strdup_printf ("'%s' is not FRONTEND/BACKEND", target);
      return FALSE;
    }
  command->frontend = g_strndup (target, (gsize) (slash - target));
  command->backend = g_strdup (slash + 1);
  return TRUE;
}

MbAdminCommand *
mb_admin_command_parse (const gchar *line, gchar **error)
{
  g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) split = g_strsplit_set (line, " \t", -1);
  g_autoptr(MbAdminCommand) command = g_new0 (MbAdminCommand, 1);
  gchar **argv;
  guint argc;

  g_return_val_if_fail (line != NULL && error != NULL, NULL);

  for (guint i = 0; split[i] != NULL; i++)
    if (split[i][0] != '\0')
      g_ptr_array_add (words, g_strdup (split[i]));
  g_ptr_array_add (words, NULL);
  argv = (gchar **) words->pdata;
  argc = words->len - 1;
  if (argc == 0)
    {
      *error = g_strdup ("empty command (try 'help')");
      return NULL;
    }

  for (guint s = 0; s < G_N_ELEMENTS (syntaxes); s++)
    {
      const Syntax *syntax = &syntaxes[s];
      guint used = match_words (syntax->words, argv, argc);
      guint args = argc - used;

      if (used == 0)
        continue;
      if (args > syntax->n_args || args + syntax->n_optional < syntax->n_args)
        {
          *error = g_strdup_printf ("usage: %s", syntax->usage);
          return NULL;
        }
      command->verb = syntax->verb;
      switch (syntax->verb)
        {
        case MB_ADMIN_SHOW_BACKENDS:
          if (args == 1)
            command->frontend = g_strdup (argv[used]);
          break;
        case MB_ADMIN_SET_WEIGHT:
          {
            guint64 weight = 0;

            if (!parse_target (command, argv[used], error))
              return NULL;
            if (!g_ascii_string_to_unsigned (argv[used + 1], 10, 1, MB_MAX_WEIGHT, &weight, NULL))
              {
                *error = g_strdup_printf ("weight: '%s' is not a number from 1 to %u", argv[used + 1],
                                          MB_MAX_WEIGHT);
                return NULL;
              }
            command->weight = (guint) weight;
          }
          break;
        case MB_ADMIN_DISABLE:
        case MB_ADMIN_DRAIN:
        case MB_ADMIN_ENABLE:
        case MB_ADMIN_SHUTDOWN_SESSIONS:
          if (!parse_target (command, argv[used], error))
            return NULL;
          break;
        case MB_ADMIN_HELP:
        case MB_ADMIN_SHOW_INFO:
        case MB_ADMIN_SHOW_FRONTENDS:
        case MB_ADMIN_RELOAD:
          break;
        }
      return g_steal_pointer (&command);
    }

  /* The first words of a two-word command alone ("show", "set"). */
  for (guint s = 0; s < G_N_ELEMENTS (syntaxes); s++)
    if (g_str_has_prefix (syntaxes[s].words, argv[0]) && syntaxes[s].words[strlen (argv[0])] == ' ')
      {
        g_autoptr(GString) usages = g_string_new (NULL);

        for (guint t = s; t < G_N_ELEMENTS (syntaxes); t++)
          if (g_str_has_prefix (syntaxes[t].words, argv[0]) && syntaxes[t].words[strlen (argv[0])] == ' ')
            g_string_append_printf (usages, "%s%s", usages->len > 0 ? " | " : "", syntaxes[t].usage);
        *error = g_strdup_printf ("usage: %s", usages->str);
        return NULL;
      }
  *error = g_strdup_printf ("unknown command '%s' (try 'help')", argv[0]);
  return NULL;
}
