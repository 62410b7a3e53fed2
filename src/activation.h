/* activation.h - listening sockets handed over by systemd (socket activation).
 *
 * When mini-balancer is started by a .socket unit, the listening sockets
 * arrive as inherited descriptors (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES).
 * Each frontend claims the socket whose local address is its bind_on; a
 * frontend with no such socket binds its own.  A socket nobody claims is an
 * error: it means the .socket unit and the configuration disagree.
 * Without libsystemd there are never inherited sockets.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct MbInherited MbInherited;

/* Takes the sockets passed by the service manager (and clears its
 * environment variables).  Returns NULL with ERROR set when one of them is
 * not a listening TCP socket. */
MbInherited *mb_inherited_take (GError **error);
void mb_inherited_free (MbInherited *inherited);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbInherited, mb_inherited_free)

/* The inherited socket listening on exactly ADDRESS, or NULL.  The caller
 * owns the returned reference; a socket is claimed at most once.  *NAME is
 * set to the socket's name from LISTEN_FDNAMES (owned by INHERITED). */
GSocket *mb_inherited_claim (MbInherited *inherited, GInetSocketAddress *address, const gchar **name);

/* Fails, naming every one, if any inherited socket was not claimed. */
gboolean mb_inherited_check_all_claimed (MbInherited *inherited, GError **error);

G_END_DECLS
