/* admin.h - the control socket (admin_socket): runtime control and `show`.
 *
 * A unix stream socket on the main thread's loop (its listener and clients
 * wait in the main thread's epoll set, poller.h).  One command per line,
 * one JSON object per answer (json-glib), as DESIGN.md and
 * mini-balancerctl(8) describe; the commands are parsed by
 * admin-command.c.
 *
 * Nothing a client does can stop, block or crash the daemon: every socket
 * is non-blocking; a line is at most 4 KiB and must be UTF-8; at most 16
 * clients at once; a client silent for 30 s is closed; an answer a client
 * does not read is bounded (the client is closed past 4 MiB); a client that
 * goes away before its answer (a reload, a shutdown of sessions) is
 * forgotten when the answer comes.  Peers are checked once, at accept,
 * with SO_PEERCRED (and SO_PEERGROUPS): uid 0, the daemon's own uid, or a
 * member of admin_group.
 *
 * The socket file is made after privileges are dropped, mode 0660 (group
 * admin_group when set and allowed), and removed at exit.  A stale file is
 * replaced; a path on which another process answers is an error.
 *
 * Main thread only.
 */
#pragma once

#include <glib.h>

#include "daemon.h"

G_BEGIN_DECLS

typedef struct MbAdmin MbAdmin;

/* Listens on PATH for DAEMON's control clients; NULL with ERROR set
 * (naming PATH) when it cannot. */
MbAdmin *mb_admin_new (MbDaemon *daemon, const gchar *path, GError **error);
/* Closes every client and the socket, and removes its file. */
void mb_admin_free (MbAdmin *admin);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbAdmin, mb_admin_free)

G_END_DECLS
