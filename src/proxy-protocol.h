/* proxy-protocol.h - the PROXY protocol header, versions 1 and 2 (HAProxy's
 * proxy-protocol.txt): a parser for what an upstream sends in front of its
 * client's stream, and a writer for what we send in front of ours to a
 * backend.  Pure: no I/O, no allocation, no logging.
 *
 * Parsing is incremental and never looks past the header's end: given the
 * first LEN bytes a client sent, mb_proxy_parse() says that the header is
 * complete (and how long it is), or that more bytes are needed (and how
 * many of those given certainly belong to the header, so a reader may
 * consume them without taking a byte of the stream), or that the bytes can
 * never begin a valid header (with the reason).  It is strict: whatever the
 * specification does not allow is an error, decided as soon as the bytes
 * seen prove it.
 *
 * What is accepted:
 *  v1  "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" and TCP6 likewise, single
 *      spaces, addresses in their usual text form (inet_pton), ports 0..65535
 *      in decimal without leading zeros; "PROXY UNKNOWN" followed by anything
 *      up to the CRLF; 107 bytes at most, CRLF included.
 *  v2  the 12-byte signature, version 2, command LOCAL or PROXY; with PROXY,
 *      family TCP over IPv4 or IPv6, or UNSPEC (addresses not given); the
 *      length covers the addresses and any TLVs, which are checked to fit
 *      exactly and otherwise skipped.  LOCAL ignores the family and the
 *      block (length still bounded).  UDP and UNIX families are rejected:
 *      this is a TCP balancer.
 * A header that gives no addresses (v1 UNKNOWN, v2 LOCAL or UNSPEC) leaves
 * MbProxyHeader.has_addresses FALSE: the real peer address stands.
 */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define MB_PROXY_V1_MAX 107               /* the longest v1 header, CRLF included */
#define MB_PROXY_V2_FIXED 16              /* v2: signature, command, family, length */
#define MB_PROXY_V2_MAX (16 + 65535)      /* the longest v2 header */
#define MB_PROXY_WRITE_MAX 108            /* room for any header mb_proxy_write() makes */

typedef enum {
  MB_PROXY_NONE = 0,
  MB_PROXY_V1 = 1,
  MB_PROXY_V2 = 2,
} MbProxyVersion;

typedef enum {
  MB_PROXY_COMPLETE,    /* *used = the header's length; HEADER filled */
  MB_PROXY_NEED_MORE,   /* *used = how many of the LEN bytes certainly belong to it */
  MB_PROXY_INVALID,     /* ERROR set: MB_ERROR_PROXY, message says what is wrong; *used = 0 */
} MbProxyStatus;

typedef struct {
  MbProxyVersion version;
  gboolean has_addresses;            /* FALSE: UNKNOWN, LOCAL, UNSPEC */
  struct sockaddr_storage source;    /* AF_INET or AF_INET6, port set */
  struct sockaddr_storage destination;
  socklen_t address_len;             /* of each of them */
} MbProxyHeader;

/* Parses the first LEN bytes of a stream (LEN may be 0).  See above.
 * HEADER is written only on MB_PROXY_COMPLETE.  How many bytes a reader
 * should peek at next: at most mb_proxy_wanted() in all. */
MbProxyStatus mb_proxy_parse (const guint8 *data, gsize len, MbProxyHeader *header, gsize *used,
                              GError **error);

/* How many bytes, counted from the stream's start, the next peek (recv with
 * MSG_PEEK) should ask for in all, given the first LEN bytes (as already
 * passed to mb_proxy_parse() with MB_PROXY_NEED_MORE).  A bound for a peek,
 * not for a read: it may lie past the end of a v1 header (a line's end is
 * known only when its CRLF arrives) and, while LEN is 0, past the end of the
 * shortest v1 one; peeked bytes past the header are harmless because a
 * reader consumes only the *used bytes that mb_proxy_parse() reports.  For
 * v2 it never lies past the header's end.  Always > LEN for such a prefix. */
gsize mb_proxy_wanted (const guint8 *data, gsize len);

/* Writes a VERSION header into OUT (MB_PROXY_WRITE_MAX bytes) and returns
 * its length.  SOURCE and DESTINATION: the client's address and the address
 * it connected to, both AF_INET or AF_INET6 (an IPv4-mapped IPv6 address is
 * written as IPv4, so that a dual-stack listener's clients go out as TCP4;
 * when the two still differ in family, the destination is written in the
 * source's family as its unspecified address).  SOURCE NULL: v1 "UNKNOWN" /
 * v2 LOCAL (health checks).  VERSION must be MB_PROXY_V1 or MB_PROXY_V2. */
gsize mb_proxy_write (MbProxyVersion version, const struct sockaddr *source,
                      const struct sockaddr *destination, guint8 *out);

/* "none", "v1", "v2" and back; FALSE for any other text. */
gboolean mb_proxy_version_parse (const gchar *text, MbProxyVersion *out);
const gchar *mb_proxy_version_name (MbProxyVersion version);

G_END_DECLS
