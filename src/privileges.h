/* privileges.h - descriptors and identity of the running daemon.
 *
 * At start-up mini-balancer raises its descriptor limit as far as it may
 * (each session holds two), binds what it must as the user it was started
 * as, then drops to the configured user and group for good.  Under systemd
 * the unit's DynamicUser= does the dropping instead.
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

/* Raises RLIMIT_NOFILE's soft limit to the hard limit.  Returns the soft
 * limit now in force (G_MAXUINT64: none). */
guint64 mb_privileges_raise_fd_limit (void);
/* Warns when that limit cannot hold CONFIG's max_connections sessions
 * besides what the daemon holds and keeps in reserve: call once the
 * descriptor budget knows its base (fds.h). */
void mb_privileges_check_fd_limit (const MbConfig *config);

/* Switches to CONFIG's user and group (setgroups, setgid, setuid, each
 * checked, and checked that root cannot be regained).  Without a user or
 * group: warns when running as root.  FALSE with ERROR set on failure. */
gboolean mb_privileges_drop (const MbConfig *config, GError **error);

G_END_DECLS
