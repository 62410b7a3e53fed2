/* address.c - "host:port" addresses; see address.h. */
#include "build-config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "address.h"
#include "error.h"

static gboolean
parse_port (const gchar *text, const gchar *port_text, guint16 *out_port, GError **error)
{
  guint64 port = 0;

  if (*port_text == '\0')
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID, "invalid address '%s': missing port", text);
      return FALSE;
    }
  for (const gchar *p = port_text; *p; p++)
    {
      if (!g_ascii_isdigit (*p) || port > 65535)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "invalid address '%s': port must be a number from 1 to 65535", text);
          return FALSE;
        }
      port = port * 10 + (guint64) (*p - '0');
    }
  if (port < 1 || port > 65535)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                   "invalid address '%s': port must be a number from 1 to 65535", text);
      return FALSE;
    }
  *out_port = (guint16) port;
  return TRUE;
}

static gboolean
is_host_name (const gchar *host)
{
  gsize len = strlen (host);

  if (len == 0 || len > 253 || host[0] == '.' || host[0] == '-')
    return FALSE;
  for (const gchar *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return TRUE;
}

gboolean
mb_address_parse (const gchar *text, gboolean allow_wildcard,
                  gchar **out_host, guint16 *out_port, GError **error)
{
  g_autofree gchar *host = NULL;
  const gchar *colon;

  g_return_val_if_fail (text != NULL, FALSE);

  if (text[0] == '[')
    {
      const gchar *close = strchr (text, ']');
      g_autoptr(GInetAddress) inet = NULL;

      if (close == NULL || close[1] != ':')
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "invalid address '%s': expected [IPv6 address]:port", text);
          return FALSE;
        }
      host = g_strndup (text + 1, (gsize) (close - text - 1));
      inet = g_inet_address_new_from_string (host);
      if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV6)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "invalid address '%s': '%s' is not an IPv6 address", text, host);
          return FALSE;
        }
      if (!parse_port (text, close + 2, out_port, error))
        return FALSE;
      *out_host = g_steal_pointer (&host);
      return TRUE;
    }

  colon = strrchr (text, ':');
  if (colon == NULL)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                   "invalid address '%s': expected host:port", text);
      return FALSE;
    }
  host = g_strndup (text, (gsize) (colon - text));
  if (strchr (host, ':') != NULL)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                   "invalid address '%s': write IPv6 addresses in brackets, as [addr]:port", text);
      return FALSE;
    }
  if (strcmp (host, "*") == 0)
    {
      if (!allow_wildcard)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "invalid address '%s': '*' is only allowed in bind_on", text);
          return FALSE;
        }
      g_clear_pointer (&host, g_free);
    }
  else if (!g_hostname_is_ip_address (host) && !is_host_name (host))
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                   "invalid address '%s': '%s' is not a host name or IP address", text, host);
      return FALSE;
    }
  if (!parse_port (text, colon + 1, out_port, error))
    return FALSE;
  *out_host = g_steal_pointer (&host);
  return TRUE;
}

GPtrArray *
mb_address_resolve (const gchar *host, guint16 port, GError **error)
{
  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GInetAddress) literal = g_inet_address_new_from_string (host);
  g_autoptr(GResolver) resolver = NULL;
  g_autoptr(GError) local_error = NULL;
  GList *found;

  if (literal != NULL)
    {
      g_ptr_array_add (result, g_inet_socket_address_new (literal, port));
      return g_steal_pointer (&result);
    }

  resolver = g_resolver_get_default ();
  found = g_resolver_lookup_by_name (resolver, host, NULL, &local_error);
  if (found == NULL)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_RESOLVE, "cannot resolve '%s': %s",
                   host, local_error ? mb_error_reason (local_error) : "no addresses");
      return NULL;
    }
  for (GList *l = found; l != NULL; l = l->next)
    g_ptr_array_add (result, g_inet_socket_address_new (l->data, port));
  g_resolver_free_addresses (found);
  return g_steal_pointer (&result);
}

int
mb_address_socket (GSocketAddress *address)
{
  int family = g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET;

  return socket (family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
}

int
mb_address_connect (int fd, GSocketAddress *address)
{
  struct sockaddr_storage native;

  if (!g_socket_address_to_native (address, &native, sizeof native, NULL))
    {
      errno = EAFNOSUPPORT;
      return -1;
    }
  return connect (fd, (struct sockaddr *) &native, g_socket_address_get_native_size (address));
}

gint
mb_address_take_error (int fd)
{
  gint errnum = 0;
  socklen_t len = sizeof errnum;

  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &errnum, &len) < 0)
    return errno;
  return errnum;
}

void
mb_address_set_abortive (int fd)
{
  struct linger linger = { 1, 0 };

  setsockopt (fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
}

gchar *
mb_address_to_string (GSocketAddress *address)
{
  GInetSocketAddress *inet;
  g_autofree gchar *ip = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("(unknown)");
  inet = G_INET_SOCKET_ADDRESS (address);
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  /* An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d. */
  if (g_str_has_prefix (ip, "::ffff:") && strchr (ip, '.') != NULL)
    return g_strdup_printf ("%s:%u", ip + 7, g_inet_socket_address_get_port (inet));
  if (g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, g_inet_socket_address_get_port (inet));
  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
}

GSocketAddress *
mb_address_new_any (GSocketFamily family, guint16 port)
{
  g_autoptr(GInetAddress) any = g_inet_address_new_any (family);

  return g_inet_socket_address_new (any, port);
}
