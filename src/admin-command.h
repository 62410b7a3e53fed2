/* admin-command.h - the control socket's commands, parsed.
 *
 * Pure: a line in, a command (or the error to answer) out; no sockets, no
 * runtime objects, so that `check` tests every form and every mistake.
 * The protocol is one command per line, words separated by spaces:
 *
 *   help | show info | show frontends | show backends [FRONTEND]
 *   disable|drain|enable FRONTEND/BACKEND
 *   set weight FRONTEND/BACKEND WEIGHT (1 to 256)
 *   shutdown sessions FRONTEND/BACKEND | reload
 *
 * A target is split at its first "/" (a frontend title cannot contain one
 * that matters: the backend title may).  Whether the frontend and backend
 * exist is the daemon's to say (admin.c).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MB_ADMIN_HELP,
  MB_ADMIN_SHOW_INFO,
  MB_ADMIN_SHOW_FRONTENDS,
  MB_ADMIN_SHOW_BACKENDS,
  MB_ADMIN_DISABLE,
  MB_ADMIN_DRAIN,
  MB_ADMIN_ENABLE,
  MB_ADMIN_SET_WEIGHT,
  MB_ADMIN_SHUTDOWN_SESSIONS,
  MB_ADMIN_RELOAD,
} MbAdminVerb;

typedef struct {
  MbAdminVerb verb;
  gchar *frontend;   /* the target's, or show backends' filter; NULL: none */
  gchar *backend;    /* the target's; NULL: none */
  guint weight;      /* set weight */
} MbAdminCommand;

/* Parses LINE (valid UTF-8, no newline): a new command, or NULL with
 * *ERROR set to the message to answer ("unknown command 'x' (try
 * 'help')", "usage: ...", "weight: 'abc' is not a number from 1 to 256"). */
MbAdminCommand *mb_admin_command_parse (const gchar *line, gchar **error);
void mb_admin_command_free (MbAdminCommand *command);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbAdminCommand, mb_admin_command_free)

/* Every command's usage, in the order of `help`; NULL-terminated. */
const gchar *const *mb_admin_command_usages (void);

G_END_DECLS
