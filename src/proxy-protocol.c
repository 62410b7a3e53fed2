/* proxy-protocol.c - the PROXY protocol header, versions 1 and 2; see
 * proxy-protocol.h.
 *
 * Both parsers make one pass over the bytes seen so far and stop at the
 * first byte that proves the header invalid, at the end of the header, or at
 * the end of the bytes, whichever comes first: nothing at or past the
 * header's end is ever read, so what follows it stays the stream's.
 *
 * v1 is read token by token.  The token still arriving is fed character by
 * character into a machine of inet-text.h, which knows whether some
 * continuation could still make it valid and how many characters it needs
 * at least; a finished one (ended by its space or CR) is checked whole,
 * inet_pton() having the last word on addresses.  With the least sizes of
 * the fields still to come, that gives the least length of the whole line,
 * so a line that cannot end within 107 bytes is refused at the byte that
 * proves it.
 *
 * v2 is read field by field as its bytes arrive; once the length is known
 * the TLVs are walked as far as they have arrived, each one checked to end
 * within the header as soon as its type and length are seen.
 */
#include "build-config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "error.h"
#include "inet-text.h"
#include "proxy-protocol.h"

static const guint8 v2_signature[12] = {
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

#define V2_COMMAND_LOCAL 0x0
#define V2_COMMAND_PROXY 0x1
#define V2_FAMILY_UNSPEC 0x00
#define V2_FAMILY_TCP4 0x11
#define V2_FAMILY_TCP6 0x21
#define V2_ADDRESSES_TCP4 (2 * 4 + 2 * 2)
#define V2_ADDRESSES_TCP6 (2 * 16 + 2 * 2)
#define V2_TLV_HEADER 3

static MbProxyStatus
invalid (GError **error, gsize *used, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static MbProxyStatus
invalid (GError **error, gsize *used, const gchar *format, ...)
{
  va_list args;

  *used = 0;
  if (error == NULL)
    return MB_PROXY_INVALID;
  va_start (args, format);
  *error = g_error_new_valist (MB_ERROR, MB_ERROR_PROXY, format, args);
  va_end (args);
  return MB_PROXY_INVALID;
}

/* ---- v1 fields as they arrive ----------------------------------------- */

/* The four fields after "TCP4 " or "TCP6 ". */
enum { SOURCE, DESTINATION, SOURCE_PORT, DESTINATION_PORT, N_FIELDS };

static const gchar *const field_names[N_FIELDS] = {
  "source address", "destination address", "source port", "destination port",
};

typedef struct {
  gint family;           /* AF_INET or AF_INET6 */
  guint field;
  gsize start;           /* of the field's token in the data */
  union {
    MbIpv4Text ipv4;
    MbIpv6Text ipv6;
    MbPortText port;
  } text;
} V1Fields;

static void
fields_begin (V1Fields *fields, guint field, gsize start)
{
  fields->field = field;
  fields->start = start;
  memset (&fields->text, 0, sizeof fields->text);
}

static gboolean
fields_feed (V1Fields *fields, gchar c)
{
  if (fields->field >= SOURCE_PORT)
    return mb_port_text_feed (&fields->text.port, c);
  if (fields->family == AF_INET)
    return mb_ipv4_text_feed (&fields->text.ipv4, c);
  return mb_ipv6_text_feed (&fields->text.ipv6, c);
}

static gboolean
fields_complete (const V1Fields *fields)
{
  if (fields->field >= SOURCE_PORT)
    return mb_port_text_complete (&fields->text.port);
  if (fields->family == AF_INET)
    return mb_ipv4_text_complete (&fields->text.ipv4);
  return mb_ipv6_text_complete (&fields->text.ipv6);
}

/* The least number of bytes still to come before the line is complete: the
 * rest of this field, then the shortest forms of the ones after it
 * (separators and CRLF included). */
static guint
fields_needs (const V1Fields *fields)
{
  guint address = fields->family == AF_INET ? 7 : 2;      /* "0.0.0.0", "::" */
  guint after[N_FIELDS] = { 1 + address + 6, 1 + 1 + 1 + 1 + 2, 1 + 1 + 2, 2 };
  guint rest;

  if (fields->field >= SOURCE_PORT)
    rest = mb_port_text_needs (&fields->text.port);
  else if (fields->family == AF_INET)
    rest = mb_ipv4_text_needs (&fields->text.ipv4);
  else
    rest = mb_ipv6_text_needs (&fields->text.ipv6);
  return rest + after[fields->field];
}

/* ---- v1 ---------------------------------------------------------------- */

/* DATA[START..] up to the next space, CR or LF (or the end of the bytes
 * seen), quoted for a message. */
static gchar *
quote_token (const guint8 *data, gsize start, gsize len)
{
  GString *quoted = g_string_new ("\"");

  for (gsize i = start; i < len && i < MB_PROXY_V1_MAX; i++)
    {
      guint8 c = data[i];

      if (c == ' ' || c == '\r' || c == '\n')
        break;
      if (c == '"' || c == '\\')
        g_string_append_printf (quoted, "\\%c", c);
      else if (g_ascii_isprint (c))
        g_string_append_c (quoted, (gchar) c);
      else
        g_string_append_printf (quoted, "\\x%02x", c);
    }
  g_string_append_c (quoted, '"');
  return g_string_free (quoted, FALSE);
}

static MbProxyStatus
bad_field (GError **error, gsize *used, const V1Fields *fields, const guint8 *data, gsize len)
{
  g_autofree gchar *token = quote_token (data, fields->start, len);

  return invalid (error, used, "v1: bad %s %s", field_names[fields->field], token);
}

/* The finished address token DATA[FIELDS->start..END) into ADDRESS. */
static gboolean
v1_address (const V1Fields *fields, const guint8 *data, gsize end,
            struct sockaddr_storage *address)
{
  gchar text[INET6_ADDRSTRLEN];
  gsize length = end - fields->start;

  /* The machines allow no more than 15 or 45 characters. */
  if (length >= sizeof text)
    return FALSE;
  memcpy (text, data + fields->start, length);
  text[length] = '\0';
  if (fields->family == AF_INET)
    {
      struct sockaddr_in *in = (struct sockaddr_in *) address;

      in->sin_family = AF_INET;
      return inet_pton (AF_INET, text, &in->sin_addr) == 1;
    }
  else
    {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) address;

      in6->sin6_family = AF_INET6;
      return inet_pton (AF_INET6, text, &in6->sin6_addr) == 1;
    }
}

static void
v1_port (struct sockaddr_storage *address, guint port)
{
  if (address->ss_family == AF_INET)
    ((struct sockaddr_in *) address)->sin_port = g_htons ((guint16) port);
  else
    ((struct sockaddr_in6 *) address)->sin6_port = g_htons ((guint16) port);
}

typedef enum {
  V1_SIGNATURE,          /* "PROXY " */
  V1_PROTOCOL,           /* "TCP4", "TCP6" or "UNKNOWN" */
  V1_IGNORED,            /* after "UNKNOWN ", anything up to the CR */
  V1_FIELDS,             /* the four fields of TCP4 or TCP6 */
  V1_LF,                 /* after the CR */
} V1State;

static const gchar *const v1_protocols[] = { "TCP4", "TCP6", "UNKNOWN" };

/* Whether DATA[START..END) is a prefix of one of the protocols (or, with
 * WHOLE, one of them); its index in INDEX. */
static gboolean
v1_protocol (const guint8 *data, gsize start, gsize end, gboolean whole, guint *index)
{
  gsize length = end - start;

  for (guint i = 0; i < G_N_ELEMENTS (v1_protocols); i++)
    {
      gsize full = strlen (v1_protocols[i]);

      if (length <= full && (!whole || length == full)
          && memcmp (data + start, v1_protocols[i], length) == 0)
        {
          *index = i;
          return TRUE;
        }
    }
  return FALSE;
}

static MbProxyStatus
parse_v1 (const guint8 *data, gsize len, MbProxyHeader *header, gsize *used, GError **error)
{
  static const gchar signature[] = "PROXY ";
  MbProxyHeader result = { .version = MB_PROXY_V1 };
  V1State state = V1_SIGNATURE;
  V1Fields fields = { 0 };
  gsize protocol_start = strlen (signature);
  gsize i;

  for (i = 0; i < len; i++)
    {
      gchar c = (gchar) data[i];
      guint needs = 0;

      switch (state)
        {
        case V1_SIGNATURE:
          if (c != signature[i])
            {
              if (i < protocol_start - 1)
                return invalid (error, used, "bad signature");
              return invalid (error, used, "v1: no space after \"PROXY\"");
            }
          if (i == protocol_start - 1)
            state = V1_PROTOCOL;
          break;

        case V1_PROTOCOL:
          {
            guint protocol;

            if (c == '\n')
              return invalid (error, used, "v1: LF without CR");
            if (c != ' ' && c != '\r')
              {
                if (!v1_protocol (data, protocol_start, i + 1, FALSE, &protocol))
                  {
                    g_autofree gchar *token = quote_token (data, protocol_start, len);

                    return invalid (error, used, "v1: unknown protocol %s", token);
                  }
                break;
              }
            if (i == protocol_start)
              return invalid (error, used, c == ' ' ? "v1: two spaces before the protocol"
                                                    : "v1: protocol missing");
            if (!v1_protocol (data, protocol_start, i, TRUE, &protocol))
              {
                g_autofree gchar *token = quote_token (data, protocol_start, len);

                return invalid (error, used, "v1: unknown protocol %s", token);
              }
            if (protocol == 2)
              state = c == '\r' ? V1_LF : V1_IGNORED;
            else if (c == '\r')
              return invalid (error, used, "v1: source address missing");
            else
              {
                state = V1_FIELDS;
                fields.family = protocol == 0 ? AF_INET : AF_INET6;
                fields_begin (&fields, SOURCE, i + 1);
              }
            break;
          }

        case V1_IGNORED:
          if (c == '\n')
            return invalid (error, used, "v1: LF without CR");
          if (c == '\r')
            state = V1_LF;
          break;

        case V1_FIELDS:
          if (c == '\n')
            return invalid (error, used, "v1: LF without CR");
          if (c != ' ' && c != '\r')
            {
              if (!fields_feed (&fields, c))
                return bad_field (error, used, &fields, data, len);
              break;
            }
          /* The end of a field. */
          if (i == fields.start)
            {
              if (c == ' ')
                return invalid (error, used, "v1: two spaces before the %s",
                                field_names[fields.field]);
              return invalid (error, used, "v1: %s missing", field_names[fields.field]);
            }
          if (!fields_complete (&fields))
            return bad_field (error, used, &fields, data, len);
          switch (fields.field)
            {
            case SOURCE:
              if (!v1_address (&fields, data, i, &result.source))
                return bad_field (error, used, &fields, data, len);
              break;
            case DESTINATION:
              if (!v1_address (&fields, data, i, &result.destination))
                return bad_field (error, used, &fields, data, len);
              break;
            case SOURCE_PORT:
              v1_port (&result.source, fields.text.port.value);
              break;
            default:
              v1_port (&result.destination, fields.text.port.value);
              break;
            }
          if (fields.field == DESTINATION_PORT)
            {
              if (c == ' ')
                return invalid (error, used, "v1: a field after the destination port");
              state = V1_LF;
            }
          else if (c == '\r')
            return invalid (error, used, "v1: %s missing", field_names[fields.field + 1]);
          else
            fields_begin (&fields, fields.field + 1, i + 1);
          break;

        case V1_LF:
          if (c != '\n')
            return invalid (error, used, "v1: CR not followed by LF");
          result.has_addresses = fields.family != 0;
          if (result.has_addresses)
            result.address_len = fields.family == AF_INET ? sizeof (struct sockaddr_in)
                                                          : sizeof (struct sockaddr_in6);
          *header = result;
          *used = i + 1;
          return MB_PROXY_COMPLETE;
        }

      /* Can the line still end within MB_PROXY_V1_MAX bytes? */
      if (state == V1_FIELDS)
        needs = fields_needs (&fields);
      else if (state == V1_IGNORED)
        needs = 2;
      else if (state == V1_LF)
        needs = 1;
      if (i + 1 + needs > MB_PROXY_V1_MAX)
        return invalid (error, used, "v1 header longer than %u bytes", MB_PROXY_V1_MAX);
    }

  /* Every byte before the LF belongs to the line. */
  *used = len;
  return MB_PROXY_NEED_MORE;
}

/* ---- v2 ---------------------------------------------------------------- */

static guint
v2_length (const guint8 *data)
{
  return ((guint) data[14] << 8) | data[15];
}

static MbProxyStatus
parse_v2 (const guint8 *data, gsize len, MbProxyHeader *header, gsize *used, GError **error)
{
  MbProxyHeader result = { .version = MB_PROXY_V2 };
  guint command, family, length, addresses = 0;
  gsize total;

  if (memcmp (data, v2_signature, MIN (len, sizeof v2_signature)) != 0)
    return invalid (error, used, "bad signature");
  if (len <= 12)
    goto need_more;

  if (data[12] >> 4 != 2)
    return invalid (error, used, "v2: unsupported version %u", data[12] >> 4);
  command = data[12] & 0x0F;
  if (command != V2_COMMAND_LOCAL && command != V2_COMMAND_PROXY)
    return invalid (error, used, "v2: unsupported command 0x%x", command);
  if (len <= 13)
    goto need_more;

  /* LOCAL ignores the family (and the block): the proxy speaks for itself. */
  family = data[13];
  if (command == V2_COMMAND_PROXY)
    switch (family)
      {
      case V2_FAMILY_UNSPEC:
        break;
      case V2_FAMILY_TCP4:
        addresses = V2_ADDRESSES_TCP4;
        break;
      case V2_FAMILY_TCP6:
        addresses = V2_ADDRESSES_TCP6;
        break;
      case 0x12:
        return invalid (error, used, "v2: family UDP over IPv4 not supported");
      case 0x22:
        return invalid (error, used, "v2: family UDP over IPv6 not supported");
      case 0x31:
        return invalid (error, used, "v2: family UNIX stream not supported");
      case 0x32:
        return invalid (error, used, "v2: family UNIX datagram not supported");
      default:
        return invalid (error, used, "v2: bad family 0x%02x", family);
      }
  if (len < MB_PROXY_V2_FIXED)
    goto need_more;

  length = v2_length (data);
  total = MB_PROXY_V2_FIXED + length;
  if (length < addresses)
    return invalid (error, used, "v2: address block of %u bytes too short for TCP over %s",
                    length, family == V2_FAMILY_TCP4 ? "IPv4" : "IPv6");

  /* After the addresses, TLVs fill the block exactly.  With LOCAL or UNSPEC
   * the block holds nothing of a known form: it is skipped whole. */
  if (addresses > 0)
    for (gsize offset = MB_PROXY_V2_FIXED + addresses; offset < total;)
      {
        guint value;

        if (total - offset < V2_TLV_HEADER)
          return invalid (error, used, "v2: TLV cut short by the end of the header (%u of 3 bytes)",
                          (guint) (total - offset));
        if (offset + V2_TLV_HEADER > len)
          break;
        value = ((guint) data[offset + 1] << 8) | data[offset + 2];
        if (offset + V2_TLV_HEADER + value > total)
          return invalid (error, used, "v2: TLV of %u bytes overruns the header", value);
        offset += V2_TLV_HEADER + value;
      }
  if (len < total)
    {
      *used = len;
      return MB_PROXY_NEED_MORE;
    }

  if (addresses == V2_ADDRESSES_TCP4)
    {
      struct sockaddr_in *source = (struct sockaddr_in *) &result.source;
      struct sockaddr_in *destination = (struct sockaddr_in *) &result.destination;

      source->sin_family = destination->sin_family = AF_INET;
      memcpy (&source->sin_addr, data + 16, 4);
      memcpy (&destination->sin_addr, data + 20, 4);
      memcpy (&source->sin_port, data + 24, 2);
      memcpy (&destination->sin_port, data + 26, 2);
      result.address_len = sizeof (struct sockaddr_in);
      result.has_addresses = TRUE;
    }
  else if (addresses == V2_ADDRESSES_TCP6)
    {
      struct sockaddr_in6 *source = (struct sockaddr_in6 *) &result.source;
      struct sockaddr_in6 *destination = (struct sockaddr_in6 *) &result.destination;

      source->sin6_family = destination->sin6_family = AF_INET6;
      memcpy (&source->sin6_addr, data + 16, 16);
      memcpy (&destination->sin6_addr, data + 32, 16);
      memcpy (&source->sin6_port, data + 48, 2);
      memcpy (&destination->sin6_port, data + 50, 2);
      result.address_len = sizeof (struct sockaddr_in6);
      result.has_addresses = TRUE;
    }
  *header = result;
  *used = total;
  return MB_PROXY_COMPLETE;

need_more:
  /* No v2 header is shorter than its fixed part. */
  *used = len;
  return MB_PROXY_NEED_MORE;
}

/* ---- the interface ----------------------------------------------------- */

MbProxyStatus
mb_proxy_parse (const guint8 *data, gsize len, MbProxyHeader *header, gsize *used,
                GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, MB_PROXY_INVALID);
  g_return_val_if_fail (header != NULL && used != NULL, MB_PROXY_INVALID);
  g_return_val_if_fail (error == NULL || *error == NULL, MB_PROXY_INVALID);

  if (len == 0)
    {
      *used = 0;
      return MB_PROXY_NEED_MORE;
    }
  if (data[0] == 'P')
    return parse_v1 (data, len, header, used, error);
  if (data[0] == v2_signature[0])
    return parse_v2 (data, len, header, used, error);
  return invalid (error, used, "bad signature");
}

/* A bound for the next peek (MSG_PEEK), not for a read: the first byte tells
 * the version; until then 16 (no header of either version is shorter than
 * 15 bytes, and a v2 one not shorter than 16).  v1: MB_PROXY_V1_MAX, the
 * line's limit, which may lie past the end of a shorter line.  v2: 16 until
 * the length is seen, then exactly the header's end.  So peeking this many
 * bytes never waits for more than a valid header can hold (v1, before the
 * version is known) or than it holds (v2), and a reader that consumes only
 * the *used bytes of mb_proxy_parse() never takes a byte of the stream.
 * Larger than LEN for any LEN that got MB_PROXY_NEED_MORE. */
gsize
mb_proxy_wanted (const guint8 *data, gsize len)
{
  g_return_val_if_fail (data != NULL || len == 0, MB_PROXY_V2_FIXED);

  if (len == 0)
    return MB_PROXY_V2_FIXED;
  if (data[0] == 'P')
    return MB_PROXY_V1_MAX;
  if (len < MB_PROXY_V2_FIXED)
    return MB_PROXY_V2_FIXED;
  return MB_PROXY_V2_FIXED + v2_length (data);
}

/* ---- the writer -------------------------------------------------------- */

/* ADDRESS into OUT, an IPv4-mapped IPv6 address as IPv4. */
static void
unmapped (const struct sockaddr *address, struct sockaddr_storage *out)
{
  memset (out, 0, sizeof *out);
  if (address->sa_family == AF_INET)
    {
      memcpy (out, address, sizeof (struct sockaddr_in));
      return;
    }
  memcpy (out, address, sizeof (struct sockaddr_in6));
  if (IN6_IS_ADDR_V4MAPPED (&((const struct sockaddr_in6 *) address)->sin6_addr))
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) address;
      struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = in6->sin6_port };

      memcpy (&in.sin_addr, in6->sin6_addr.s6_addr + 12, 4);
      memset (out, 0, sizeof *out);
      memcpy (out, &in, sizeof in);
    }
}

static gsize
write_v1 (const struct sockaddr_storage *source, const struct sockaddr_storage *destination,
          guint8 *out)
{
  gchar source_text[INET6_ADDRSTRLEN], destination_text[INET6_ADDRSTRLEN];
  gint length;

  if (source->ss_family == AF_INET)
    {
      const struct sockaddr_in *s = (const struct sockaddr_in *) source;
      const struct sockaddr_in *d = (const struct sockaddr_in *) destination;

      inet_ntop (AF_INET, &s->sin_addr, source_text, sizeof source_text);
      inet_ntop (AF_INET, &d->sin_addr, destination_text, sizeof destination_text);
      length = g_snprintf ((gchar *) out, MB_PROXY_WRITE_MAX, "PROXY TCP4 %s %s %u %u\r\n",
                           source_text, destination_text,
                           g_ntohs (s->sin_port), g_ntohs (d->sin_port));
    }
  else
    {
      const struct sockaddr_in6 *s = (const struct sockaddr_in6 *) source;
      const struct sockaddr_in6 *d = (const struct sockaddr_in6 *) destination;

      /* At most 39 characters each ("::a.b.c.d" forms are shorter): 104 in all. */
      inet_ntop (AF_INET6, &s->sin6_addr, source_text, sizeof source_text);
      inet_ntop (AF_INET6, &d->sin6_addr, destination_text, sizeof destination_text);
      length = g_snprintf ((gchar *) out, MB_PROXY_WRITE_MAX, "PROXY TCP6 %s %s %u %u\r\n",
                           source_text, destination_text,
                           g_ntohs (s->sin6_port), g_ntohs (d->sin6_port));
    }
  g_assert (length > 0 && length <= MB_PROXY_V1_MAX);
  return (gsize) length;
}

static gsize
write_v2 (const struct sockaddr_storage *source, const struct sockaddr_storage *destination,
          guint8 *out)
{
  memcpy (out, v2_signature, sizeof v2_signature);
  out[12] = 0x20 | V2_COMMAND_PROXY;
  out[14] = 0;
  if (source->ss_family == AF_INET)
    {
      const struct sockaddr_in *s = (const struct sockaddr_in *) source;
      const struct sockaddr_in *d = (const struct sockaddr_in *) destination;

      out[13] = V2_FAMILY_TCP4;
      out[15] = V2_ADDRESSES_TCP4;
      memcpy (out + 16, &s->sin_addr, 4);
      memcpy (out + 20, &d->sin_addr, 4);
      memcpy (out + 24, &s->sin_port, 2);
      memcpy (out + 26, &d->sin_port, 2);
      return MB_PROXY_V2_FIXED + V2_ADDRESSES_TCP4;
    }
  else
    {
      const struct sockaddr_in6 *s = (const struct sockaddr_in6 *) source;
      const struct sockaddr_in6 *d = (const struct sockaddr_in6 *) destination;

      out[13] = V2_FAMILY_TCP6;
      out[15] = V2_ADDRESSES_TCP6;
      memcpy (out + 16, &s->sin6_addr, 16);
      memcpy (out + 32, &d->sin6_addr, 16);
      memcpy (out + 48, &s->sin6_port, 2);
      memcpy (out + 50, &d->sin6_port, 2);
      return MB_PROXY_V2_FIXED + V2_ADDRESSES_TCP6;
    }
}

gsize
mb_proxy_write (MbProxyVersion version, const struct sockaddr *source,
                const struct sockaddr *destination, guint8 *out)
{
  struct sockaddr_storage s, d;

  g_return_val_if_fail (version == MB_PROXY_V1 || version == MB_PROXY_V2, 0);
  g_return_val_if_fail (out != NULL, 0);
  g_return_val_if_fail (source == NULL || source->sa_family == AF_INET
                        || source->sa_family == AF_INET6, 0);
  g_return_val_if_fail (source == NULL || (destination != NULL
                                           && (destination->sa_family == AF_INET
                                               || destination->sa_family == AF_INET6)), 0);

  if (source == NULL)
    {
      static const gchar unknown[] = "PROXY UNKNOWN\r\n";

      if (version == MB_PROXY_V1)
        {
          memcpy (out, unknown, strlen (unknown));
          return strlen (unknown);
        }
      memcpy (out, v2_signature, sizeof v2_signature);
      out[12] = 0x20 | V2_COMMAND_LOCAL;
      out[13] = V2_FAMILY_UNSPEC;
      out[14] = out[15] = 0;
      return MB_PROXY_V2_FIXED;
    }

  unmapped (source, &s);
  unmapped (destination, &d);
  if (s.ss_family != d.ss_family)
    {
      /* The source's family wins; the destination keeps only its port. */
      in_port_t port = d.ss_family == AF_INET ? ((struct sockaddr_in *) &d)->sin_port
                                              : ((struct sockaddr_in6 *) &d)->sin6_port;

      memset (&d, 0, sizeof d);
      d.ss_family = s.ss_family;
      if (s.ss_family == AF_INET)
        ((struct sockaddr_in *) &d)->sin_port = port;
      else
        ((struct sockaddr_in6 *) &d)->sin6_port = port;
    }
  if (version == MB_PROXY_V1)
    return write_v1 (&s, &d, out);
  return write_v2 (&s, &d, out);
}

/* ---- names ------------------------------------------------------------- */

static const gchar *const version_names[] = { "none", "v1", "v2" };

gboolean
mb_proxy_version_parse (const gchar *text, MbProxyVersion *out)
{
  g_return_val_if_fail (text != NULL && out != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (version_names); i++)
    if (strcmp (text, version_names[i]) == 0)
      {
        *out = (MbProxyVersion) i;
        return TRUE;
      }
  return FALSE;
}

const gchar *
mb_proxy_version_name (MbProxyVersion version)
{
  g_return_val_if_fail ((guint) version < G_N_ELEMENTS (version_names), "?");
  return version_names[version];
}
