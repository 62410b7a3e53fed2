/* Tests for src/proxy-protocol.c
 *
 * Every parse is given a copy of exactly the bytes it may read, so that
 * valgrind (and ASan) see any read past LEN. */
#include "build-config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "error.h"
#include "proxy-protocol.h"
#include "testutil.h"

#define SIG "0d0a0d0a000d0a515549540a"
#define ADDRESSES4 "c0a80001 0a000001 dc04 01bb"          /* 192.168.0.1:56324 -> 10.0.0.1:443 */
#define ADDRESSES6 "20010db8000000000000000000000001 20010db8000000000000000000000002 0050 01bb"

/* ---- helpers ------------------------------------------------------------ */

/* "0d 0a ..." (spaces ignored) as bytes. */
static GByteArray *
hex (const gchar *text)
{
  GByteArray *bytes = g_byte_array_new ();

  for (const gchar *p = text; *p != '\0';)
    {
      guint8 byte;

      if (*p == ' ')
        {
          p++;
          continue;
        }
      ck_assert_msg (g_ascii_isxdigit (p[0]) && g_ascii_isxdigit (p[1]), "bad hex in test: %s", text);
      byte = (guint8) (g_ascii_xdigit_value (p[0]) << 4 | g_ascii_xdigit_value (p[1]));
      g_byte_array_append (bytes, &byte, 1);
      p += 2;
    }
  return bytes;
}

static MbProxyStatus
parse (const guint8 *data, gsize len, MbProxyHeader *header, gsize *used, GError **error)
{
  g_autofree guint8 *copy = len > 0 ? g_memdup2 (data, len) : NULL;

  return mb_proxy_parse (copy, len, header, used, error);
}

static gsize
wanted (const guint8 *data, gsize len)
{
  g_autofree guint8 *copy = len > 0 ? g_memdup2 (data, len) : NULL;

  return mb_proxy_wanted (copy, len);
}

static guint16
port_of (const struct sockaddr_storage *address)
{
  if (address->ss_family == AF_INET)
    return g_ntohs (((const struct sockaddr_in *) address)->sin_port);
  return g_ntohs (((const struct sockaddr_in6 *) address)->sin6_port);
}

static void
assert_address (const struct sockaddr_storage *address, gint family, const gchar *text, guint port)
{
  guint8 expected[16], got[16];
  gsize size = family == AF_INET ? 4 : 16;

  ck_assert_int_eq (address->ss_family, family);
  ck_assert_msg (inet_pton (family, text, expected) == 1, "bad address in test: %s", text);
  if (family == AF_INET)
    memcpy (got, &((const struct sockaddr_in *) address)->sin_addr, 4);
  else
    memcpy (got, &((const struct sockaddr_in6 *) address)->sin6_addr, 16);
  ck_assert_msg (memcmp (expected, got, size) == 0, "address is not %s", text);
  ck_assert_uint_eq (port_of (address), port);
}

typedef struct {
  gint family;               /* 0: no addresses */
  const gchar *source, *destination;
  guint source_port, destination_port;
} Expected;

static void
assert_header (const MbProxyHeader *header, MbProxyVersion version, const Expected *expected)
{
  ck_assert_int_eq (header->version, version);
  if (expected->family == 0)
    {
      ck_assert (!header->has_addresses);
      ck_assert_uint_eq (header->address_len, 0);
      return;
    }
  ck_assert (header->has_addresses);
  ck_assert_uint_eq (header->address_len, expected->family == AF_INET ? sizeof (struct sockaddr_in)
                                                                      : sizeof (struct sockaddr_in6));
  assert_address (&header->source, expected->family, expected->source, expected->source_port);
  assert_address (&header->destination, expected->family, expected->destination,
                  expected->destination_port);
}

/* What may follow a header: the stream, which is none of its business. */
static const gchar *const streams[] = {
  "GET / HTTP/1.1\r\n\r\n", "\r\n", "\n", " ", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
  "\x0d\x0a\x0d\x0a", "\xff\x00\x01",
};

/* DATA holds a valid header of HEADER_LEN bytes: every shorter prefix needs
 * more (all of it belonging to the header, HEADER untouched, the peek bound
 * beyond it and, for v2, not beyond the header), the whole is complete, and
 * so it stays whatever follows. */
static void
assert_valid (const guint8 *data, gsize header_len, MbProxyVersion version, const Expected *expected)
{
  MbProxyHeader header, untouched;
  g_autoptr(GError) error = NULL;
  gsize used = G_MAXSIZE;

  memset (&untouched, 0xA5, sizeof untouched);
  for (gsize len = 0; len < header_len; len++)
    {
      MbProxyStatus status;
      gsize bound;

      memcpy (&header, &untouched, sizeof header);
      used = G_MAXSIZE;
      status = parse (data, len, &header, &used, &error);
      ck_assert_msg (status == MB_PROXY_NEED_MORE, "prefix of %zu of %zu bytes: status %d: %s",
                     len, header_len, status, error ? error->message : "");
      ck_assert_ptr_null (error);
      ck_assert_uint_eq (used, len);
      ck_assert_msg (memcmp (&header, &untouched, sizeof header) == 0, "header written at %zu", len);

      bound = wanted (data, len);
      ck_assert_uint_gt (bound, len);
      if (len == 0)
        ck_assert_uint_eq (bound, MB_PROXY_V2_FIXED);
      else if (version == MB_PROXY_V1)
        ck_assert_uint_eq (bound, MB_PROXY_V1_MAX);
      else
        ck_assert_uint_le (bound, header_len);
    }

  ck_assert_int_eq (parse (data, header_len, &header, &used, &error), MB_PROXY_COMPLETE);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (used, header_len);
  assert_header (&header, version, expected);

  for (gsize i = 0; i <= G_N_ELEMENTS (streams); i++)
    {
      g_autoptr(GByteArray) both = g_byte_array_new ();

      g_byte_array_append (both, data, (guint) header_len);
      if (i < G_N_ELEMENTS (streams))
        g_byte_array_append (both, (const guint8 *) streams[i], (guint) strlen (streams[i]) + 1);
      else
        for (guint j = 0; j < 1000; j++)
          g_byte_array_append (both, (const guint8 *) "x", 1);
      used = G_MAXSIZE;
      ck_assert_int_eq (parse (both->data, both->len, &header, &used, &error), MB_PROXY_COMPLETE);
      ck_assert_uint_eq (used, header_len);
      assert_header (&header, version, expected);
    }
}

/* DATA[0..LEN) is invalid for MESSAGE, first so at the prefix of DECIDED
 * bytes: every shorter one needs more, every longer one is invalid too. */
static void
assert_invalid (const guint8 *data, gsize len, gsize decided, const gchar *message)
{
  MbProxyHeader header, untouched;

  memset (&untouched, 0xA5, sizeof untouched);
  for (gsize prefix = 0; prefix <= len; prefix++)
    {
      g_autoptr(GError) error = NULL;
      MbProxyStatus status;
      gsize used = G_MAXSIZE;

      memcpy (&header, &untouched, sizeof header);
      status = parse (data, prefix, &header, &used, &error);
      ck_assert_msg (memcmp (&header, &untouched, sizeof header) == 0, "header written");
      if (prefix < decided)
        {
          ck_assert_msg (status == MB_PROXY_NEED_MORE, "prefix of %zu bytes: status %d: %s (expected "
                         "it at %zu)", prefix, status, error ? error->message : "", decided);
          ck_assert_uint_eq (used, prefix);
          continue;
        }
      ck_assert_msg (status == MB_PROXY_INVALID, "prefix of %zu bytes: status %d, not invalid",
                     prefix, status);
      ck_assert (g_error_matches (error, MB_ERROR, MB_ERROR_PROXY));
      ck_assert_uint_eq (used, 0);
      if (prefix == len)
        assert_contains (error->message, "%s", message);
    }

  /* Without a GError to fill. */
  {
    gsize used = G_MAXSIZE;

    ck_assert_int_eq (parse (data, len, &header, &used, NULL), MB_PROXY_INVALID);
    ck_assert_uint_eq (used, 0);
  }
}

/* ---- v1 ----------------------------------------------------------------- */

static const struct {
  const gchar *text;
  Expected expected;
} v1_valid[] = {
  { "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
    { AF_INET, "192.168.0.1", "192.168.0.11", 56324, 443 } },
  { "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
    { AF_INET, "255.255.255.255", "255.255.255.255", 65535, 65535 } },
  { "PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", { AF_INET, "0.0.0.0", "10.0.0.1", 0, 0 } },
  { "PROXY TCP4 1.20.100.200 9.99.199.250 10 6553\r\n",
    { AF_INET, "1.20.100.200", "9.99.199.250", 10, 6553 } },
  { "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n",
    { AF_INET6, "2001:db8::1", "2001:db8::2", 1, 65535 } },
  { "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    { AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535 } },
  { "PROXY TCP6 :: ::1 0 1\r\n", { AF_INET6, "::", "::1", 0, 1 } },
  { "PROXY TCP6 ::ffff:192.0.2.1 ::192.0.2.2 80 443\r\n",
    { AF_INET6, "::ffff:192.0.2.1", "::192.0.2.2", 80, 443 } },
  { "PROXY TCP6 1:2:3:4:5:6:7:8 1:2:3:4:5:6:1.2.3.4 10 20\r\n",
    { AF_INET6, "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", 10, 20 } },
  { "PROXY TCP6 1:: 1:2:3:4:5:6:7:: 10 20\r\n", { AF_INET6, "1::", "1:2:3:4:5:6:7::", 10, 20 } },
  { "PROXY TCP6 ::2:3:4:5:6:7:8 1::8 10 20\r\n", { AF_INET6, "::2:3:4:5:6:7:8", "1::8", 10, 20 } },
  { "PROXY TCP6 1:2:3:4:5::1.2.3.4 ::0:1.2.3.4 10 20\r\n",
    { AF_INET6, "1:2:3:4:5::1.2.3.4", "::1.2.3.4", 10, 20 } },
  { "PROXY TCP6 ABCD:EF01::1 fe80::0001 10 20\r\n", { AF_INET6, "abcd:ef01::1", "fe80::1", 10, 20 } },
  /* 107 bytes, the most allowed, with the longest addresses inet_pton takes. */
  { "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 fff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 1 2\r\n",
    { AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
      "fff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 1, 2 } },
  { "PROXY UNKNOWN\r\n", { 0 } },
  { "PROXY UNKNOWN \r\n", { 0 } },
  { "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", { 0 } },
  { "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    { 0 } },
  { "PROXY UNKNOWN anything: \"quoted\"\t\x01\x7f\xff  two  spaces 300.0.0.1 65536\r\n", { 0 } },
};

START_TEST (test_v1_valid)
{
  const gchar *text = v1_valid[_i].text;

  assert_valid ((const guint8 *) text, strlen (text), MB_PROXY_V1, &v1_valid[_i].expected);
}
END_TEST

/* The line up to 107 bytes, whatever UNKNOWN is followed by; 108 is too long,
 * known at the 106th byte (not a CR: no CRLF can end the line in time). */
START_TEST (test_v1_length)
{
  static const Expected none = { 0 };
  g_autoptr(GString) line = g_string_new ("PROXY UNKNOWN ");
  g_autoptr(GString) too_long = NULL;

  while (line->len < MB_PROXY_V1_MAX - 2)
    g_string_append_c (line, 'x');
  g_string_append (line, "\r\n");
  ck_assert_uint_eq (line->len, 107);
  assert_valid ((const guint8 *) line->str, line->len, MB_PROXY_V1, &none);

  too_long = g_string_new_len (line->str, line->len - 2);
  g_string_append (too_long, "x\r\n");
  ck_assert_uint_eq (too_long->len, 108);
  assert_invalid ((const guint8 *) too_long->str, too_long->len, 106, "v1 header longer than 107 bytes");

  /* No CRLF at all. */
  g_string_truncate (too_long, 106);
  for (guint i = 0; i < 500; i++)
    g_string_append_c (too_long, 'x');
  assert_invalid ((const guint8 *) too_long->str, too_long->len, 106, "v1 header longer than 107 bytes");
}
END_TEST

/* TEXT is invalid for MESSAGE, which the first DECIDED bytes of it prove. */
static const struct { const gchar *text, *decided, *message; } v1_invalid[] = {
  { "X", "X", "bad signature" },
  { "GET / HTTP/1.1\r\n\r\n", "G", "bad signature" },
  { "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "p", "bad signature" },
  { "PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXZ", "bad signature" },
  { "PROXY\r\n", "PROXY\r", "v1: no space after \"PROXY\"" },
  { "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY  ", "v1: two spaces before the protocol" },
  { "PROXY \r\n", "PROXY \r", "v1: protocol missing" },
  { "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP5", "v1: unknown protocol \"TCP5\"" },
  { "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY t", "v1: unknown protocol \"tcp4\"" },
  { "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP ", "v1: unknown protocol \"TCP\"" },
  { "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY UD", "v1: unknown protocol \"UDP4\"" },
  { "PROXY UNKNOWNX\r\n", "PROXY UNKNOWNX", "v1: unknown protocol \"UNKNOWNX\"" },
  { "PROXY TCP4\r\n", "PROXY TCP4\r", "v1: source address missing" },
  /* Addresses. */
  { "PROXY TCP4 300.1.1.1 1.2.3.4 1 2\r\n", "PROXY TCP4 300", "v1: bad source address \"300.1.1.1\"" },
  { "PROXY TCP4 1.2.3.4 1.2.3.256 1 2\r\n", "PROXY TCP4 1.2.3.4 1.2.3.256",
    "v1: bad destination address \"1.2.3.256\"" },
  { "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 01", "v1: bad source address \"01.2.3.4\"" },
  { "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3 ", "v1: bad source address \"1.2.3\"" },
  { "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4.", "v1: bad source address \"1.2.3.4.5\"" },
  { "PROXY TCP4 1..2.3 5.6.7.8 1 2\r\n", "PROXY TCP4 1..", "v1: bad source address \"1..2.3\"" },
  { "PROXY TCP4 .1.2.3 5.6.7.8 1 2\r\n", "PROXY TCP4 .", "v1: bad source address \".1.2.3\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8. 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8.",
    "v1: bad destination address \"5.6.7.8.\"" },
  { "PROXY TCP4 a.b.c.d 5.6.7.8 1 2\r\n", "PROXY TCP4 a", "v1: bad source address \"a.b.c.d\"" },
  { "PROXY TCP4 ::1 ::1 1 2\r\n", "PROXY TCP4 :", "v1: bad source address \"::1\"" },
  { "PROXY TCP4 ::ffff:1.2.3.4 ::ffff:1.2.3.4 1 2\r\n", "PROXY TCP4 :",
    "v1: bad source address \"::ffff:1.2.3.4\"" },
  { "PROXY TCP4 1.2.3.4 2001:db8::1 1 2\r\n", "PROXY TCP4 1.2.3.4 2001",
    "v1: bad destination address \"2001:db8::1\"" },
  { "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP6 1.", "v1: bad source address \"1.2.3.4\"" },
  { "PROXY TCP6 :::1 ::1 1 2\r\n", "PROXY TCP6 :::", "v1: bad source address \":::1\"" },
  { "PROXY TCP6 :1 ::1 1 2\r\n", "PROXY TCP6 :1", "v1: bad source address \":1\"" },
  { "PROXY TCP6 1:::2 ::1 1 2\r\n", "PROXY TCP6 1:::", "v1: bad source address \"1:::2\"" },
  { "PROXY TCP6 1::2::3 ::1 1 2\r\n", "PROXY TCP6 1::2::", "v1: bad source address \"1::2::3\"" },
  { "PROXY TCP6 12345:: ::1 1 2\r\n", "PROXY TCP6 12345", "v1: bad source address \"12345::\"" },
  { "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:6:7:8:",
    "v1: bad source address \"1:2:3:4:5:6:7:8:9\"" },
  { "PROXY TCP6 1:2:3:4:5:6:7:8:: ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:6:7:8:",
    "v1: bad source address \"1:2:3:4:5:6:7:8::\"" },
  { "PROXY TCP6 1::2:3:4:5:6:7:8 ::1 1 2\r\n", "PROXY TCP6 1::2:3:4:5:6:7:",
    "v1: bad source address \"1::2:3:4:5:6:7:8\"" },
  { "PROXY TCP6 1:2:3:4:5:6:7::8 ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:6:7::8",
    "v1: bad source address \"1:2:3:4:5:6:7::8\"" },
  { "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:6:7 ",
    "v1: bad source address \"1:2:3:4:5:6:7\"" },
  { "PROXY TCP6 1: ::1 1 2\r\n", "PROXY TCP6 1: ", "v1: bad source address \"1:\"" },
  { "PROXY TCP6 ::1 2001:db8: 1 2\r\n", "PROXY TCP6 ::1 2001:db8: ",
    "v1: bad destination address \"2001:db8:\"" },
  { "PROXY TCP6 ::g ::1 1 2\r\n", "PROXY TCP6 ::g", "v1: bad source address \"::g\"" },
  { "PROXY TCP6 [::1] ::1 1 2\r\n", "PROXY TCP6 [", "v1: bad source address \"[::1]\"" },
  { "PROXY TCP6 fe80::1%lo ::1 1 2\r\n", "PROXY TCP6 fe80::1%", "v1: bad source address \"fe80::1%lo\"" },
  { "PROXY TCP6 ::1.2.3.04 ::1 1 2\r\n", "PROXY TCP6 ::1.2.3.04",
    "v1: bad source address \"::1.2.3.04\"" },
  { "PROXY TCP6 ::1.2.3 ::1 1 2\r\n", "PROXY TCP6 ::1.2.3 ", "v1: bad source address \"::1.2.3\"" },
  { "PROXY TCP6 ::a.2.3.4 ::1 1 2\r\n", "PROXY TCP6 ::a.", "v1: bad source address \"::a.2.3.4\"" },
  { "PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:6:7:1.",
    "v1: bad source address \"1:2:3:4:5:6:7:1.2.3.4\"" },
  { "PROXY TCP6 1:2:3:4:5:6::1.2.3.4 ::1 1 2\r\n", "PROXY TCP6 1:2:3:4:5:6::1.",
    "v1: bad source address \"1:2:3:4:5:6::1.2.3.4\"" },
  { "PROXY TCP6 ::1.2.3.4:5 ::1 1 2\r\n", "PROXY TCP6 ::1.2.3.4:", "v1: bad source address \"::1.2.3.4:5\"" },
  { "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4\t",
    "v1: bad source address \"1.2.3.4\\x095.6.7.8\"" },
  /* Ports. */
  { "PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 65536",
    "v1: bad source port \"65536\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 80 99999\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 80 99999",
    "v1: bad destination port \"99999\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 655350 80\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 655350",
    "v1: bad source port \"655350\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 08", "v1: bad source port \"080\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 80 00\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 80 00",
    "v1: bad destination port \"00\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 -", "v1: bad source port \"-1\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 +1 80\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 +", "v1: bad source port \"+1\"" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 0x50 80\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 0x", "v1: bad source port \"0x50\"" },
  { "PROXY TCP6 ::1 ::1 80a 80\r\n", "PROXY TCP6 ::1 ::1 80a", "v1: bad source port \"80a\"" },
  /* Spaces, fields, line ends. */
  { "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4  ", "v1: two spaces before the source address" },
  { "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4  ",
    "v1: two spaces before the destination address" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1  ",
    "v1: two spaces before the destination port" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ",
    "v1: a field after the destination port" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ",
    "v1: a field after the destination port" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r", "v1: destination port missing" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r", "v1: destination port missing" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8\r", "v1: source port missing" },
  { "PROXY TCP4 1.2.3.4\r\n", "PROXY TCP4 1.2.3.4\r", "v1: destination address missing" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1: LF without CR" },
  { "PROXY TCP4 1.2.3.4\n", "PROXY TCP4 1.2.3.4\n", "v1: LF without CR" },
  { "PROXY TCP4\n", "PROXY TCP4\n", "v1: LF without CR" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r", "v1: CR not followed by LF" },
  { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rG", "v1: CR not followed by LF" },
  { "PROXY UNKNOWN\n", "PROXY UNKNOWN\n", "v1: LF without CR" },
  { "PROXY UNKNOWN\rX\r\n", "PROXY UNKNOWN\rX", "v1: CR not followed by LF" },
  { "PROXY UNKNOWN one\ntwo\r\n", "PROXY UNKNOWN one\n", "v1: LF without CR" },
  { "PROXY UNKNOWN one\rtwo\r\n", "PROXY UNKNOWN one\rt", "v1: CR not followed by LF" },
  /* Too long: 116 bytes; after the destination address 6 more are needed at least. */
  { "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 1 2\r\n",
    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
    "v1 header longer than 107 bytes" },
};

START_TEST (test_v1_invalid)
{
  const gchar *text = v1_invalid[_i].text;

  ck_assert (g_str_has_prefix (text, v1_invalid[_i].decided));
  assert_invalid ((const guint8 *) text, strlen (text), strlen (v1_invalid[_i].decided),
                  v1_invalid[_i].message);
}
END_TEST

/* A NUL byte is just another byte: ignored after UNKNOWN, wrong in a field. */
START_TEST (test_v1_nul)
{
  static const guint8 unknown[] = "PROXY UNKNOWN a\0b\r\n";
  static const guint8 field[] = "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n";
  static const Expected none = { 0 };

  assert_valid (unknown, sizeof unknown - 1, MB_PROXY_V1, &none);
  assert_invalid (field, sizeof field - 1, 19, "v1: bad source address \"1.2.3.4\\x00\"");
}
END_TEST

/* ---- v2 ----------------------------------------------------------------- */

static const struct {
  const gchar *hex;
  Expected expected;
} v2_valid[] = {
  /* PROXY */
  { SIG "21 11 000c" ADDRESSES4, { AF_INET, "192.168.0.1", "10.0.0.1", 56324, 443 } },
  { SIG "21 21 0024" ADDRESSES6, { AF_INET6, "2001:db8::1", "2001:db8::2", 80, 443 } },
  { SIG "21 11 000c ffffffff 00000000 ffff 0000", { AF_INET, "255.255.255.255", "0.0.0.0", 65535, 0 } },
  /* With TLVs: ALPN "h2", an empty NOOP, AUTHORITY "example.org". */
  { SIG "21 11 0022 7f000001 7f000002 0001 ffff 01 0002 6832 04 0000 02 000b 6578616d706c652e6f7267",
    { AF_INET, "127.0.0.1", "127.0.0.2", 1, 65535 } },
  { SIG "21 21 002b" ADDRESSES6 "05 0004 01020304",
    { AF_INET6, "2001:db8::1", "2001:db8::2", 80, 443 } },
  /* LOCAL: the family and the block are ignored, whatever they hold. */
  { SIG "20 00 0000", { 0 } },
  { SIG "20 11 000c" ADDRESSES4, { 0 } },
  { SIG "20 ff 0003 01ffff", { 0 } },
  { SIG "20 31 0001 00", { 0 } },
  /* PROXY UNSPEC: no addresses, the block skipped. */
  { SIG "21 00 0000", { 0 } },
  { SIG "21 00 0005 0102030405", { 0 } },
};

START_TEST (test_v2_valid)
{
  g_autoptr(GByteArray) header = hex (v2_valid[_i].hex);

  assert_valid (header->data, header->len, MB_PROXY_V2, &v2_valid[_i].expected);
}
END_TEST

/* A long header: TLVs of 1000 and 0 bytes after TCP over IPv4. */
START_TEST (test_v2_long)
{
  static const Expected expected = { AF_INET, "192.168.0.1", "10.0.0.1", 56324, 443 };
  g_autoptr(GByteArray) header = hex (SIG "21 11 03fa" ADDRESSES4 "04 03e8");
  g_autoptr(GByteArray) local = hex (SIG "20 00 ffff");
  MbProxyHeader parsed;
  gsize used;

  for (guint i = 0; i < 1000; i++)
    g_byte_array_append (header, (const guint8 *) "\x01", 1);
  g_byte_array_append (header, (const guint8 *) "\x04\x00\x00", 3);
  ck_assert_uint_eq (header->len, 16 + 12 + 1003 + 3);
  assert_valid (header->data, header->len, MB_PROXY_V2, &expected);

  /* The longest header there is. */
  g_byte_array_set_size (local, MB_PROXY_V2_MAX + 10);
  memset (local->data + 16, 0, local->len - 16);
  ck_assert_int_eq (parse (local->data, MB_PROXY_V2_MAX - 1, &parsed, &used, NULL), MB_PROXY_NEED_MORE);
  ck_assert_uint_eq (used, MB_PROXY_V2_MAX - 1);
  ck_assert_uint_eq (wanted (local->data, MB_PROXY_V2_MAX - 1), MB_PROXY_V2_MAX);
  ck_assert_int_eq (parse (local->data, local->len, &parsed, &used, NULL), MB_PROXY_COMPLETE);
  ck_assert_uint_eq (used, MB_PROXY_V2_MAX);
  ck_assert (!parsed.has_addresses);
}
END_TEST

/* HEX is invalid for MESSAGE, which its first DECIDED bytes prove. */
static const struct { const gchar *hex; gsize decided; const gchar *message; } v2_invalid[] = {
  { "0d0d0a", 2, "bad signature" },
  { "0d0a0d0a 01", 5, "bad signature" },
  { "0d0a0d0a000d0a515549540b 21 11 000c" ADDRESSES4, 12, "bad signature" },
  { "0d0a0d0a000d0a5155495420 21 11 000c", 12, "bad signature" },
  { SIG "11 11 000c" ADDRESSES4, 13, "v2: unsupported version 1" },
  { SIG "31 11 000c" ADDRESSES4, 13, "v2: unsupported version 3" },
  { SIG "01 11 000c" ADDRESSES4, 13, "v2: unsupported version 0" },
  { SIG "22 11 000c" ADDRESSES4, 13, "v2: unsupported command 0x2" },
  { SIG "23 11 000c" ADDRESSES4, 13, "v2: unsupported command 0x3" },
  { SIG "2f 11 000c" ADDRESSES4, 13, "v2: unsupported command 0xf" },
  { SIG "21 12 000c" ADDRESSES4, 14, "v2: family UDP over IPv4 not supported" },
  { SIG "21 22 0024" ADDRESSES6, 14, "v2: family UDP over IPv6 not supported" },
  { SIG "21 31 0000", 14, "v2: family UNIX stream not supported" },
  { SIG "21 32 0000", 14, "v2: family UNIX datagram not supported" },
  { SIG "21 13 000c" ADDRESSES4, 14, "v2: bad family 0x13" },
  { SIG "21 10 000c" ADDRESSES4, 14, "v2: bad family 0x10" },
  { SIG "21 01 000c" ADDRESSES4, 14, "v2: bad family 0x01" },
  { SIG "21 41 000c" ADDRESSES4, 14, "v2: bad family 0x41" },
  { SIG "21 ff 000c" ADDRESSES4, 14, "v2: bad family 0xff" },
  { SIG "21 11 0008 c0a80001 0a000001", 16, "v2: address block of 8 bytes too short for TCP over IPv4" },
  { SIG "21 11 0000", 16, "v2: address block of 0 bytes too short for TCP over IPv4" },
  { SIG "21 21 000c" ADDRESSES4, 16, "v2: address block of 12 bytes too short for TCP over IPv6" },
  { SIG "21 21 0023" ADDRESSES6, 16, "v2: address block of 35 bytes too short for TCP over IPv6" },
  /* Longer than the addresses, but not by whole TLVs. */
  { SIG "21 11 0014" ADDRESSES4 "01 0009 6832 000000", 31, "v2: TLV of 9 bytes overruns the header" },
  { SIG "21 11 0010" ADDRESSES4 "01 0002 ff", 31, "v2: TLV of 2 bytes overruns the header" },
  { SIG "21 11 ffff" ADDRESSES4 "05 fffd", 31, "v2: TLV of 65533 bytes overruns the header" },
  { SIG "21 21 0028" ADDRESSES6 "02 0100 00", 55, "v2: TLV of 256 bytes overruns the header" },
  { SIG "21 11 000d" ADDRESSES4 "00", 16, "v2: TLV cut short by the end of the header (1 of 3 bytes)" },
  { SIG "21 11 000e" ADDRESSES4 "0000", 16, "v2: TLV cut short by the end of the header (2 of 3 bytes)" },
  { SIG "21 11 0011" ADDRESSES4 "04 0000 0000", 31, "v2: TLV cut short by the end of the header (2 of 3 bytes)" },
  { SIG "21 21 0025" ADDRESSES6 "00", 16, "v2: TLV cut short by the end of the header (1 of 3 bytes)" },
};

START_TEST (test_v2_invalid)
{
  g_autoptr(GByteArray) header = hex (v2_invalid[_i].hex);

  assert_invalid (header->data, header->len, v2_invalid[_i].decided, v2_invalid[_i].message);
}
END_TEST

/* ---- the peek bound ----------------------------------------------------- */

START_TEST (test_wanted)
{
  g_autoptr(GByteArray) v2 = hex (SIG "21 11 0010" ADDRESSES4 "04 0001 00");

  ck_assert_uint_eq (mb_proxy_wanted (NULL, 0), MB_PROXY_V2_FIXED);
  ck_assert_uint_eq (wanted ((const guint8 *) "P", 1), MB_PROXY_V1_MAX);
  ck_assert_uint_eq (wanted ((const guint8 *) "PROXY UNKNOWN\r", 14), MB_PROXY_V1_MAX);
  for (gsize len = 1; len < 16; len++)
    ck_assert_uint_eq (wanted (v2->data, len), MB_PROXY_V2_FIXED);
  for (gsize len = 16; len < v2->len; len++)
    ck_assert_uint_eq (wanted (v2->data, len), 32);
}
END_TEST

/* ---- the writer --------------------------------------------------------- */

static struct sockaddr_storage
address (const gchar *text, guint16 port)
{
  struct sockaddr_storage storage;

  memset (&storage, 0, sizeof storage);
  if (strchr (text, ':') == NULL)
    {
      struct sockaddr_in *in = (struct sockaddr_in *) &storage;

      in->sin_family = AF_INET;
      in->sin_port = g_htons (port);
      ck_assert (inet_pton (AF_INET, text, &in->sin_addr) == 1);
    }
  else
    {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &storage;

      in6->sin6_family = AF_INET6;
      in6->sin6_port = g_htons (port);
      ck_assert (inet_pton (AF_INET6, text, &in6->sin6_addr) == 1);
    }
  return storage;
}

/* What each source and destination goes out as, in both versions, and the
 * exact v1 line. */
static const struct {
  const gchar *source, *destination;
  guint16 source_port, destination_port;
  Expected expected;
  const gchar *v1;
} round_trips[] = {
  { "192.168.0.1", "192.168.0.11", 56324, 443, { AF_INET, "192.168.0.1", "192.168.0.11", 56324, 443 },
    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" },
  { "0.0.0.0", "255.255.255.255", 0, 65535, { AF_INET, "0.0.0.0", "255.255.255.255", 0, 65535 },
    "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n" },
  { "2001:db8::1", "2001:db8::2", 80, 8080, { AF_INET6, "2001:db8::1", "2001:db8::2", 80, 8080 },
    "PROXY TCP6 2001:db8::1 2001:db8::2 80 8080\r\n" },
  { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535,
    { AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535 },
    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n" },
  { "::", "::1", 1, 2, { AF_INET6, "::", "::1", 1, 2 }, "PROXY TCP6 :: ::1 1 2\r\n" },
  /* IPv4-compatible (not mapped): stays IPv6; glibc's inet_ntop writes a
   * dotted quad for both, which the parser takes back. */
  { "::192.0.2.1", "::1:2", 1, 2, { AF_INET6, "::192.0.2.1", "::1:2", 1, 2 },
    "PROXY TCP6 ::192.0.2.1 ::0.1.0.2 1 2\r\n" },
  /* A dual-stack listener's IPv4 client goes out as TCP4. */
  { "::ffff:192.0.2.1", "::ffff:192.0.2.2", 40000, 80, { AF_INET, "192.0.2.1", "192.0.2.2", 40000, 80 },
    "PROXY TCP4 192.0.2.1 192.0.2.2 40000 80\r\n" },
  /* Families that still differ: the destination's unspecified address, in
   * the source's family, with its port. */
  { "::ffff:192.0.2.1", "2001:db8::2", 40000, 80, { AF_INET, "192.0.2.1", "0.0.0.0", 40000, 80 },
    "PROXY TCP4 192.0.2.1 0.0.0.0 40000 80\r\n" },
  { "192.0.2.1", "2001:db8::2", 40000, 80, { AF_INET, "192.0.2.1", "0.0.0.0", 40000, 80 },
    "PROXY TCP4 192.0.2.1 0.0.0.0 40000 80\r\n" },
  { "2001:db8::1", "192.0.2.2", 40000, 80, { AF_INET6, "2001:db8::1", "::", 40000, 80 },
    "PROXY TCP6 2001:db8::1 :: 40000 80\r\n" },
  { "2001:db8::1", "::ffff:192.0.2.2", 40000, 80, { AF_INET6, "2001:db8::1", "::", 40000, 80 },
    "PROXY TCP6 2001:db8::1 :: 40000 80\r\n" },
};

static void
assert_round_trip (MbProxyVersion version, const struct sockaddr *source,
                   const struct sockaddr *destination, const Expected *expected)
{
  g_autofree guint8 *out = g_malloc (MB_PROXY_WRITE_MAX);  /* exactly: valgrind sees overruns */
  g_autoptr(GError) error = NULL;
  MbProxyHeader header;
  gsize length, used = 0;

  length = mb_proxy_write (version, source, destination, out);
  ck_assert_uint_gt (length, 0);
  ck_assert_uint_le (length, MB_PROXY_WRITE_MAX);
  ck_assert_int_eq (parse (out, length, &header, &used, &error), MB_PROXY_COMPLETE);
  ck_assert_uint_eq (used, length);
  assert_header (&header, version, expected);
  assert_valid (out, length, version, expected);
}

START_TEST (test_round_trip)
{
  struct sockaddr_storage source = address (round_trips[_i].source, round_trips[_i].source_port);
  struct sockaddr_storage destination = address (round_trips[_i].destination,
                                                 round_trips[_i].destination_port);
  guint8 out[MB_PROXY_WRITE_MAX];
  gsize length;

  for (MbProxyVersion version = MB_PROXY_V1; version <= MB_PROXY_V2; version++)
    assert_round_trip (version, (struct sockaddr *) &source, (struct sockaddr *) &destination,
                       &round_trips[_i].expected);

  length = mb_proxy_write (MB_PROXY_V1, (struct sockaddr *) &source, (struct sockaddr *) &destination, out);
  ck_assert_uint_eq (length, strlen (round_trips[_i].v1));
  ck_assert (memcmp (out, round_trips[_i].v1, length) == 0);
}
END_TEST

START_TEST (test_write_exact)
{
  struct sockaddr_storage source = address ("192.168.0.1", 56324);
  struct sockaddr_storage destination = address ("10.0.0.1", 443);
  struct sockaddr_storage source6 = address ("2001:db8::1", 80);
  struct sockaddr_storage destination6 = address ("2001:db8::2", 443);
  g_autoptr(GByteArray) v2 = hex (SIG "21 11 000c" ADDRESSES4);
  g_autoptr(GByteArray) v2_6 = hex (SIG "21 21 0024" ADDRESSES6);
  g_autoptr(GByteArray) local = hex (SIG "20 00 0000");
  static const Expected none = { 0 };
  guint8 out[MB_PROXY_WRITE_MAX];
  gsize length;

  length = mb_proxy_write (MB_PROXY_V2, (struct sockaddr *) &source, (struct sockaddr *) &destination, out);
  ck_assert_uint_eq (length, v2->len);
  ck_assert (memcmp (out, v2->data, length) == 0);
  length = mb_proxy_write (MB_PROXY_V2, (struct sockaddr *) &source6, (struct sockaddr *) &destination6, out);
  ck_assert_uint_eq (length, v2_6->len);
  ck_assert (memcmp (out, v2_6->data, length) == 0);

  /* No source: health checks. */
  length = mb_proxy_write (MB_PROXY_V1, NULL, NULL, out);
  ck_assert_uint_eq (length, 15);
  ck_assert (memcmp (out, "PROXY UNKNOWN\r\n", 15) == 0);
  assert_round_trip (MB_PROXY_V1, NULL, NULL, &none);
  length = mb_proxy_write (MB_PROXY_V2, NULL, (struct sockaddr *) &destination, out);
  ck_assert_uint_eq (length, local->len);
  ck_assert (memcmp (out, local->data, length) == 0);
  assert_round_trip (MB_PROXY_V2, NULL, NULL, &none);
}
END_TEST

/* ---- names -------------------------------------------------------------- */

START_TEST (test_version_names)
{
  static const struct { const gchar *name; MbProxyVersion version; } names[] = {
    { "none", MB_PROXY_NONE }, { "v1", MB_PROXY_V1 }, { "v2", MB_PROXY_V2 },
  };
  static const gchar *const bad[] = { "", "V1", "1", "v3", "v1 ", "None", "no" };
  MbProxyVersion version;

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      version = 42;
      ck_assert (mb_proxy_version_parse (names[i].name, &version));
      ck_assert_int_eq (version, names[i].version);
      ck_assert_str_eq (mb_proxy_version_name (names[i].version), names[i].name);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    ck_assert_msg (!mb_proxy_version_parse (bad[i], &version), "\"%s\" accepted", bad[i]);
}
END_TEST

static Suite *
proxy_protocol_suite (void)
{
  Suite *suite = suite_create ("proxy-protocol");
  TCase *v1 = tcase_create ("v1");
  TCase *v2 = tcase_create ("v2");
  TCase *write = tcase_create ("write");

  tcase_add_loop_test (v1, test_v1_valid, 0, G_N_ELEMENTS (v1_valid));
  tcase_add_test (v1, test_v1_length);
  tcase_add_loop_test (v1, test_v1_invalid, 0, G_N_ELEMENTS (v1_invalid));
  tcase_add_test (v1, test_v1_nul);
  suite_add_tcase (suite, v1);

  tcase_add_loop_test (v2, test_v2_valid, 0, G_N_ELEMENTS (v2_valid));
  tcase_add_test (v2, test_v2_long);
  tcase_add_loop_test (v2, test_v2_invalid, 0, G_N_ELEMENTS (v2_invalid));
  tcase_add_test (v2, test_wanted);
  suite_add_tcase (suite, v2);

  tcase_add_loop_test (write, test_round_trip, 0, G_N_ELEMENTS (round_trips));
  tcase_add_test (write, test_write_exact);
  tcase_add_test (write, test_version_names);
  suite_add_tcase (suite, write);
  return suite;
}

RUN_SUITE (proxy_protocol_suite)
