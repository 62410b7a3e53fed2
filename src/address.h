/* address.h - "host:port" addresses as written in configuration files.
 *
 * Accepted forms: "192.0.2.1:80", "[2001:db8::1]:80", "name.example:80" and,
 * where allowed (bind_on), "*:80" for every local address.  Parsing is pure;
 * resolving a host name blocks and is meant for start-up only.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Splits TEXT into a host and a port.  *OUT_HOST is NULL for "*" (only when
 * ALLOW_WILDCARD), otherwise a newly allocated host name or IP literal without
 * brackets.  The port must be 1..65535. */
gboolean mb_address_parse (const gchar *text, gboolean allow_wildcard,
                           gchar **out_host, guint16 *out_port, GError **error);

/* Resolves HOST (an IP literal or a name) to GInetSocketAddress objects with
 * PORT, in the resolver's order.  Returns a new array that owns its elements,
 * or NULL with ERROR set (MB_ERROR_RESOLVE). */
GPtrArray *mb_address_resolve (const gchar *host, guint16 port, GError **error);

/* A non-blocking, close-on-exec TCP socket of ADDRESS's family, for
 * connecting to it; -1 with errno set. */
int mb_address_socket (GSocketAddress *address);
/* Starts connecting FD (from mb_address_socket) to ADDRESS: connect(2)'s
 * result, so -1 with errno EINPROGRESS while the handshake goes on. */
int mb_address_connect (int fd, GSocketAddress *address);

/* Takes FD's pending error (getsockopt SO_ERROR, which clears it): an
 * errno value, 0 when there is none. */
gint mb_address_take_error (int fd);

/* Makes close(FD) send RST instead of FIN (SO_LINGER 0), discarding what
 * the kernel holds for it: for a stream that was cut, which the peer must
 * not take for a complete one. */
void mb_address_set_abortive (int fd);

/* "192.0.2.1:80" or "[2001:db8::1]:80"; newly allocated. */
gchar *mb_address_to_string (GSocketAddress *address);
/* The wildcard address of FAMILY ([::] or 0.0.0.0) on PORT: what bind_on
 * = "*:PORT" listens on.  Newly allocated. */
GSocketAddress *mb_address_new_any (GSocketFamily family, guint16 port);

G_END_DECLS
