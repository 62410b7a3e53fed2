/* activation.c - systemd socket activation; see activation.h. */
#include "build-config.h"

#include <sys/socket.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "activation.h"
#include "address.h"
#include "error.h"

typedef struct {
  GSocket *socket;        /* NULL once claimed */
  gchar *name;
  GInetSocketAddress *address;
  gchar *label;           /* "fd 3 'mini-balancer.socket' (127.0.0.1:7070)" */
} Inherited;

struct MbInherited {
  GPtrArray *sockets;     /* Inherited */
};

static void
inherited_free (gpointer data)
{
  Inherited *socket = data;

  g_clear_object (&socket->socket);
  g_clear_object (&socket->address);
  g_free (socket->name);
  g_free (socket->label);
  g_free (socket);
}

#ifdef HAVE_SYSTEMD
static gboolean
add_socket (MbInherited *inherited, int fd, const gchar *name, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &local_error);
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree gchar *where = NULL;
  Inherited *entry;
  int listening = 0;
  socklen_t len = sizeof listening;

  if (socket == NULL)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "inherited fd %d '%s': not a socket: %s",
                   fd, name, mb_error_reason (local_error));
      return FALSE;
    }
  address = g_socket_get_local_address (socket, NULL);
  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address)
      || g_socket_get_socket_type (socket) != G_SOCKET_TYPE_STREAM
      || getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO,
                   "inherited fd %d '%s': not a listening TCP socket (use ListenStream= with an IP address)",
                   fd, name);
      return FALSE;
    }
  where = mb_address_to_string (address);
  g_socket_set_blocking (socket, FALSE);

  entry = g_new0 (Inherited, 1);
  entry->socket = g_steal_pointer (&socket);
  entry->name = g_strdup (name);
  entry->address = G_INET_SOCKET_ADDRESS (g_steal_pointer (&address));
  entry->label = g_strdup_printf ("fd %d '%s' (%s)", fd, name, where);
  g_ptr_array_add (inherited->sockets, entry);
  return TRUE;
}
#endif

MbInherited *
mb_inherited_take (GError **error)
{
  g_autoptr(MbInherited) inherited = g_new0 (MbInherited, 1);

  inherited->sockets = g_ptr_array_new_with_free_func (inherited_free);
#ifdef HAVE_SYSTEMD
  {
    char **names = NULL;
    int n = sd_listen_fds_with_names (1, &names);
    gboolean ok = TRUE;

    if (n < 0)
      {
        g_set_error (error, MB_ERROR, MB_ERROR_IO, "cannot read the sockets passed by systemd: %s",
                     g_strerror (-n));
        return NULL;
      }
    for (int i = 0; i < n; i++)
      if (ok && !add_socket (inherited, SD_LISTEN_FDS_START + i, names && names[i] ? names[i] : "unknown", error))
        ok = FALSE;
    g_strfreev (names);
    if (!ok)
      return NULL;
  }
#endif
  return g_steal_pointer (&inherited);
}

void
mb_inherited_free (MbInherited *inherited)
{
  if (inherited == NULL)
    return;
  g_clear_pointer (&inherited->sockets, g_ptr_array_unref);
  g_free (inherited);
}

GSocket *
mb_inherited_claim (MbInherited *inherited, GInetSocketAddress *address, const gchar **name)
{
  for (guint i = 0; i < inherited->sockets->len; i++)
    {
      Inherited *entry = inherited->sockets->pdata[i];

      if (entry->socket == NULL
          || g_inet_socket_address_get_port (entry->address) != g_inet_socket_address_get_port (address)
          || !g_inet_address_equal (g_inet_socket_address_get_address (entry->address),
                                    g_inet_socket_address_get_address (address)))
        continue;
      *name = entry->name;
      return g_steal_pointer (&entry->socket);
    }
  return NULL;
}

gboolean
mb_inherited_check_all_claimed (MbInherited *inherited, GError **error)
{
  g_autoptr(GString) unclaimed = g_string_new (NULL);

  for (guint i = 0; i < inherited->sockets->len; i++)
    {
      Inherited *entry = inherited->sockets->pdata[i];

      if (entry->socket != NULL)
        g_string_append_printf (unclaimed, "%s%s", unclaimed->len ? ", " : "", entry->label);
    }
  if (unclaimed->len == 0)
    return TRUE;
  g_set_error (error, MB_ERROR, MB_ERROR_CONFIG,
               "socket passed by systemd matches no frontend's bind_on: %s", unclaimed->str);
  return FALSE;
}
