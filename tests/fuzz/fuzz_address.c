/* fuzz_address.c - libFuzzer harness: the address parser (with and without
 * "*"), resolving and printing what it accepts, and the duration parser, all
 * on the same input and each checked against what its header promises. */
#include "build-config.h"

#include <gio/gio.h>
#include <string.h>

#include "address.h"
#include "duration.h"
#include "error.h"
#include "fuzz-common.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

/* duration.h's rule written the plain way: digits, then "ms", "s", "m", "h"
 * or nothing (seconds); at most MB_DURATION_MAX_MS. */
static gboolean
reference_duration (const gchar *text, guint64 *out_ms)
{
  static const struct { const gchar *unit; guint64 factor; } units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 }, { "", 1000 },
  };
  gsize digits = strspn (text, "0123456789");
  guint64 value = 0;

  if (digits == 0)
    return FALSE;
  for (gsize i = 0; i < digits; i++)
    if (__builtin_mul_overflow (value, 10, &value)
        || __builtin_add_overflow (value, (guint64) (text[i] - '0'), &value))
      return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    if (strcmp (text + digits, units[i].unit) == 0)
      {
        if (__builtin_mul_overflow (value, units[i].factor, &value) || value > MB_DURATION_MAX_MS)
          return FALSE;
        *out_ms = value;
        return TRUE;
      }
  return FALSE;
}

static void
check_duration (const gchar *text)
{
  g_autoptr(GError) error = NULL;
  guint64 ms = G_MAXUINT64, expected = G_MAXUINT64;
  gboolean ok = mb_duration_parse (text, &ms, &error);

  g_assert_true (ok == reference_duration (text, &expected));
  if (ok)
    {
      g_assert_null (error);
      g_assert_cmpuint (ms, ==, expected);
    }
  else
    {
      g_assert_true (g_error_matches (error, MB_ERROR, MB_ERROR_INVALID));
      g_assert_cmpuint (ms, ==, G_MAXUINT64);
    }
}

/* A resolved address, printed, must parse back to itself. */
static void
check_round_trip (GInetSocketAddress *address)
{
  g_autofree gchar *text = mb_address_to_string (G_SOCKET_ADDRESS (address));
  g_autofree gchar *host = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  guint16 port = 0;

  if (!mb_address_parse (text, FALSE, &host, &port, &error))
    g_error ("'%s' does not parse back: %s", text, error->message);
  g_assert_cmpuint (port, ==, g_inet_socket_address_get_port (address));
  inet = g_inet_address_new_from_string (host);
  g_assert_nonnull (inet);
  /* ::ffff:a.b.c.d is printed as a.b.c.d: compare the printed forms. */
  {
    g_autoptr(GSocketAddress) again = g_inet_socket_address_new (inet, port);
    g_autofree gchar *text_again = mb_address_to_string (again);

    g_assert_cmpstr (text, ==, text_again);
  }
}

static void
check_resolve (const gchar *host, guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) addresses = mb_address_resolve (host, port, &error);

  if (addresses == NULL)
    {
      g_assert_true (g_error_matches (error, MB_ERROR, MB_ERROR_RESOLVE));
      /* An IP literal needs no resolver. */
      g_assert_false (g_hostname_is_ip_address (host));
      return;
    }
  g_assert_null (error);
  g_assert_cmpuint (addresses->len, >, 0);
  for (guint i = 0; i < addresses->len; i++)
    {
      g_assert_cmpuint (g_inet_socket_address_get_port (addresses->pdata[i]), ==, port);
      check_round_trip (addresses->pdata[i]);
    }
}

static void
check_address (const gchar *text)
{
  g_autofree gchar *strict_host = NULL, *any_host = NULL;
  g_autoptr(GError) strict_error = NULL, any_error = NULL;
  guint16 strict_port = 0, any_port = 0;
  gboolean strict_ok = mb_address_parse (text, FALSE, &strict_host, &strict_port, &strict_error);
  gboolean any_ok = mb_address_parse (text, TRUE, &any_host, &any_port, &any_error);

  g_assert_true (strict_ok == (strict_error == NULL));
  g_assert_true (any_ok == (any_error == NULL));
  if (!strict_ok)
    {
      g_assert_null (strict_host);
      g_assert_true (g_error_matches (strict_error, MB_ERROR, MB_ERROR_INVALID));
    }
  if (!any_ok)
    {
      g_assert_null (any_host);
      g_assert_true (g_error_matches (any_error, MB_ERROR, MB_ERROR_INVALID));
    }

  /* Allowing "*" only ever accepts more, and "*" is the only thing it adds. */
  if (strict_ok)
    {
      g_assert_true (any_ok);
      g_assert_nonnull (strict_host);
      g_assert_cmpstr (strict_host, ==, any_host);
      g_assert_cmpuint (strict_port, ==, any_port);
    }
  else if (any_ok)
    g_assert_null (any_host);

  if (any_ok)
    {
      g_assert_cmpuint (any_port, >=, 1);
      if (any_host != NULL)
        check_resolve (any_host, any_port);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree gchar *text = fuzz_string (data, size);

  if (text == NULL)
    return 0;
  check_address (text);
  check_duration (text);
  return 0;
}
