/* fuzz_proxy_protocol.c - libFuzzer harness: the PROXY header parser on the
 * input whole and on every prefix of it, and the writer on every header it
 * accepts with addresses, each checked against proxy-protocol.h.
 *
 * Each prefix is parsed from a copy of exactly its bytes, so that ASan sees
 * any read past LEN.  A v1 line whose end has arrived is also judged by a
 * plain reference (split at spaces, inet_pton, strtoul), which must agree. */
#include "build-config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <glib/gprintf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz-common.h"
#include "proxy-protocol.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

/* g_error() would stop on SIGTRAP, which libFuzzer does not catch: no
 * crash-* file would keep the input.  abort() it is, as g_assert() does. */
static void G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
fail (const gchar *format, ...)
{
  va_list args;

  va_start (args, format);
  g_vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  abort ();
}

typedef struct {
  MbProxyStatus status;
  MbProxyHeader header;
  gsize used;
  gsize wanted;          /* with MB_PROXY_NEED_MORE */
} Result;

/* Parses DATA[0..LEN) and checks what holds of any single result. */
static Result
parse (const uint8_t *data, size_t len)
{
  g_autofree guint8 *copy = len > 0 ? g_memdup2 (data, len) : NULL;
  g_autoptr(GError) error = NULL;
  Result result;

  memset (&result, 0, sizeof result);
  memset (&result.header, 0xA5, sizeof result.header);
  result.used = G_MAXSIZE;
  result.status = mb_proxy_parse (copy, len, &result.header, &result.used, &error);
  switch (result.status)
    {
    case MB_PROXY_COMPLETE:
      g_assert_null (error);
      g_assert_cmpuint (result.used, >, 0);
      g_assert_cmpuint (result.used, <=, len);
      if (result.header.version == MB_PROXY_V1)
        {
          g_assert_cmpuint (result.used, <=, MB_PROXY_V1_MAX);
          g_assert_true (data[0] == 'P' && data[result.used - 2] == '\r' && data[result.used - 1] == '\n');
        }
      else
        {
          g_assert_cmpint (result.header.version, ==, MB_PROXY_V2);
          g_assert_cmpuint (result.used, >=, MB_PROXY_V2_FIXED);
          g_assert_cmpuint (result.used, ==, MB_PROXY_V2_FIXED + ((gsize) data[14] << 8 | data[15]));
        }
      if (result.header.has_addresses)
        {
          gint family = result.header.source.ss_family;

          g_assert_true (family == AF_INET || family == AF_INET6);
          g_assert_cmpint (result.header.destination.ss_family, ==, family);
          g_assert_cmpuint (result.header.address_len, ==,
                            family == AF_INET ? sizeof (struct sockaddr_in) : sizeof (struct sockaddr_in6));
        }
      else
        g_assert_cmpuint (result.header.address_len, ==, 0);
      break;

    case MB_PROXY_NEED_MORE:
      g_assert_null (error);
      /* Every byte of a prefix that still needs more belongs to the header. */
      g_assert_cmpuint (result.used, ==, len);
      result.wanted = mb_proxy_wanted (copy, len);
      g_assert_cmpuint (result.wanted, >, len);
      if (len > 0 && data[0] == 'P')
        g_assert_cmpuint (result.wanted, ==, MB_PROXY_V1_MAX);
      else
        g_assert_cmpuint (result.wanted, <=, MB_PROXY_V2_MAX);
      /* HEADER is written only on MB_PROXY_COMPLETE. */
      for (gsize i = 0; i < sizeof result.header; i++)
        g_assert_cmpuint (((const guint8 *) &result.header)[i], ==, 0xA5);
      break;

    case MB_PROXY_INVALID:
      g_assert_true (g_error_matches (error, MB_ERROR, MB_ERROR_PROXY));
      g_assert_cmpstr (error->message, !=, "");
      g_assert_cmpuint (result.used, ==, 0);
      break;

    default:
      g_assert_not_reached ();
    }
  return result;
}

static gboolean
same_header (const MbProxyHeader *a, const MbProxyHeader *b)
{
  return a->version == b->version && a->has_addresses == b->has_addresses
         && a->address_len == b->address_len
         && (!a->has_addresses
             || (memcmp (&a->source, &b->source, sizeof a->source) == 0
                 && memcmp (&a->destination, &b->destination, sizeof a->destination) == 0));
}

/* proxy-protocol.h's rule for what the writer sends, written the plain way:
 * an IPv4-mapped address as IPv4; if the families still differ, the
 * destination's port with the unspecified address of the source's family. */
static void
expected_address (const struct sockaddr_storage *address, struct sockaddr_storage *out)
{
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) address;

  memset (out, 0, sizeof *out);
  if (address->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED (&in6->sin6_addr))
    {
      struct sockaddr_in *in = (struct sockaddr_in *) out;

      in->sin_family = AF_INET;
      in->sin_port = in6->sin6_port;
      memcpy (&in->sin_addr, in6->sin6_addr.s6_addr + 12, 4);
    }
  else if (address->ss_family == AF_INET)
    memcpy (out, address, sizeof (struct sockaddr_in));
  else
    {
      /* Only the address and the port travel. */
      struct sockaddr_in6 *copy = (struct sockaddr_in6 *) out;

      copy->sin6_family = AF_INET6;
      copy->sin6_port = in6->sin6_port;
      copy->sin6_addr = in6->sin6_addr;
    }
}

static void
assert_same_address (const struct sockaddr_storage *got, const struct sockaddr_storage *expected)
{
  g_assert_cmpint (got->ss_family, ==, expected->ss_family);
  if (expected->ss_family == AF_INET)
    {
      const struct sockaddr_in *a = (const struct sockaddr_in *) got;
      const struct sockaddr_in *b = (const struct sockaddr_in *) expected;

      g_assert_true (a->sin_port == b->sin_port);
      g_assert_true (memcmp (&a->sin_addr, &b->sin_addr, 4) == 0);
    }
  else
    {
      const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) got;
      const struct sockaddr_in6 *b = (const struct sockaddr_in6 *) expected;

      g_assert_true (a->sin6_port == b->sin6_port);
      g_assert_true (memcmp (&a->sin6_addr, &b->sin6_addr, 16) == 0);
    }
}

/* A header with addresses, written in each version, parses back to them. */
static void
check_round_trip (const MbProxyHeader *header)
{
  struct sockaddr_storage source, destination;

  expected_address (&header->source, &source);
  expected_address (&header->destination, &destination);
  if (source.ss_family != destination.ss_family)
    {
      in_port_t port = destination.ss_family == AF_INET
                         ? ((struct sockaddr_in *) &destination)->sin_port
                         : ((struct sockaddr_in6 *) &destination)->sin6_port;

      memset (&destination, 0, sizeof destination);
      destination.ss_family = source.ss_family;
      if (source.ss_family == AF_INET)
        ((struct sockaddr_in *) &destination)->sin_port = port;
      else
        ((struct sockaddr_in6 *) &destination)->sin6_port = port;
    }

  for (MbProxyVersion version = MB_PROXY_V1; version <= MB_PROXY_V2; version++)
    {
      guint8 *out = g_malloc (MB_PROXY_WRITE_MAX);   /* exactly: ASan sees overruns */
      gsize length = mb_proxy_write (version, (const struct sockaddr *) &header->source,
                                     (const struct sockaddr *) &header->destination, out);
      Result back;

      g_assert_cmpuint (length, >, 0);
      g_assert_cmpuint (length, <=, MB_PROXY_WRITE_MAX);
      back = parse (out, length);
      if (back.status != MB_PROXY_COMPLETE)
        fail ("a written v%d header does not parse back: %.*s", version, (int) length, out);
      g_assert_cmpuint (back.used, ==, length);
      g_assert_cmpint (back.header.version, ==, version);
      g_assert_true (back.header.has_addresses);
      assert_same_address (&back.header.source, &source);
      assert_same_address (&back.header.destination, &destination);
      g_free (out);
    }
}

/* A v1 line judged the plain way, once its end has arrived: up to the first
 * CR or LF, which must be a CRLF ending within MB_PROXY_V1_MAX bytes;
 * "PROXY UNKNOWN" alone or followed by a space and anything; or exactly six
 * fields split at single spaces, addresses by inet_pton() in the family
 * named, ports 0..65535 without leading zeros.  Returns FALSE when the line
 * has not ended yet; *VALID, *LENGTH and HEADER otherwise. */
static gboolean
reference_port (const gchar *text, in_port_t *port)
{
  gsize length = strlen (text);

  if (length == 0 || length > 5 || strspn (text, "0123456789") != length
      || (text[0] == '0' && length > 1) || strtoul (text, NULL, 10) > 65535)
    return FALSE;
  *port = g_htons ((guint16) strtoul (text, NULL, 10));
  return TRUE;
}

static gboolean
reference_v1 (const uint8_t *data, size_t size, gboolean *valid, gsize *length,
              MbProxyHeader *header)
{
  gsize end = 0;
  g_autofree gchar *line = NULL;
  g_auto(GStrv) fields = NULL;
  gint family;

  while (end < size && data[end] != '\r' && data[end] != '\n')
    end++;
  *valid = FALSE;
  /* No CRLF can end the line in time, or a LF ends it alone. */
  if (end >= MB_PROXY_V1_MAX - 1 || (end < size && data[end] == '\n'))
    return TRUE;
  if (end + 1 >= size)
    return FALSE;
  *length = end + 2;
  if (data[end + 1] != '\n')
    return TRUE;
  if (end >= 13 && memcmp (data, "PROXY UNKNOWN", 13) == 0 && (end == 13 || data[13] == ' '))
    {
      memset (header, 0, sizeof *header);
      header->version = MB_PROXY_V1;
      *valid = TRUE;
      return TRUE;
    }
  if (memchr (data, '\0', end) != NULL)
    return TRUE;
  line = g_strndup ((const gchar *) data, end);
  fields = g_strsplit (line, " ", -1);
  if (g_strv_length (fields) != 6 || strcmp (fields[0], "PROXY") != 0)
    return TRUE;
  if (strcmp (fields[1], "TCP4") == 0)
    family = AF_INET;
  else if (strcmp (fields[1], "TCP6") == 0)
    family = AF_INET6;
  else
    return TRUE;

  memset (header, 0, sizeof *header);
  header->version = MB_PROXY_V1;
  header->has_addresses = TRUE;
  if (family == AF_INET)
    {
      struct sockaddr_in *source = (struct sockaddr_in *) &header->source;
      struct sockaddr_in *destination = (struct sockaddr_in *) &header->destination;

      header->address_len = sizeof (struct sockaddr_in);
      source->sin_family = destination->sin_family = AF_INET;
      *valid = inet_pton (AF_INET, fields[2], &source->sin_addr) == 1
               && inet_pton (AF_INET, fields[3], &destination->sin_addr) == 1
               && reference_port (fields[4], &source->sin_port)
               && reference_port (fields[5], &destination->sin_port);
    }
  else
    {
      struct sockaddr_in6 *source = (struct sockaddr_in6 *) &header->source;
      struct sockaddr_in6 *destination = (struct sockaddr_in6 *) &header->destination;

      header->address_len = sizeof (struct sockaddr_in6);
      source->sin6_family = destination->sin6_family = AF_INET6;
      *valid = inet_pton (AF_INET6, fields[2], &source->sin6_addr) == 1
               && inet_pton (AF_INET6, fields[3], &destination->sin6_addr) == 1
               && reference_port (fields[4], &source->sin6_port)
               && reference_port (fields[5], &destination->sin6_port);
    }
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Result whole = parse (data, size);
  Result first = { .status = MB_PROXY_NEED_MORE };
  size_t decided = 0;

  /* Prefixes need more until the first that is decided, which is decided
   * the way the whole input is: no byte after a header's end, nor any byte
   * after the one proving it invalid, changes the answer. */
  for (size_t len = 0; len <= size; len++)
    {
      first = parse (data, len);
      if (first.status != MB_PROXY_NEED_MORE)
        {
          decided = len;
          break;
        }
      /* A v2 peek never goes past the header's end. */
      if (whole.status == MB_PROXY_COMPLETE && whole.header.version == MB_PROXY_V2)
        g_assert_cmpuint (first.wanted, <=, whole.used);
    }
  g_assert_cmpint (first.status, ==, whole.status);
  if (whole.status == MB_PROXY_COMPLETE)
    {
      /* Complete exactly at the header's end, with the same result. */
      g_assert_cmpuint (decided, ==, whole.used);
      g_assert_true (same_header (&first.header, &whole.header));
    }
  if (decided > 0 && decided < size)
    {
      Result next = parse (data, decided + 1);

      g_assert_cmpint (next.status, ==, whole.status);
    }

  if (size > 0 && data[0] == 'P')
    {
      MbProxyHeader expected;
      gboolean valid;
      gsize length;

      if (reference_v1 (data, size, &valid, &length, &expected))
        {
          if (valid != (whole.status == MB_PROXY_COMPLETE))
            fail ("v1 line %s, yet the reference says %s", whole.status == MB_PROXY_COMPLETE
                     ? "accepted" : whole.status == MB_PROXY_INVALID ? "refused" : "undecided",
                     valid ? "valid" : "invalid");
          if (valid)
            {
              g_assert_cmpuint (whole.used, ==, length);
              g_assert_true (same_header (&whole.header, &expected));
            }
        }
    }

  if (whole.status == MB_PROXY_COMPLETE && whole.header.has_addresses)
    check_round_trip (&whole.header);
  return 0;
}
