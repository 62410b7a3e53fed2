/* inet-text.h - IPv4 and IPv6 addresses and ports in text, checked one
 * character at a time as they arrive.
 *
 * For a reader that must refuse bad text as soon as it is bad, before the
 * rest arrives (the PROXY v1 line): each machine starts zeroed, is fed the
 * characters of one token, and says after each whether some continuation
 * can still make the token valid (feed), whether it is valid as it stands
 * (complete), and how many characters it needs at least to become so
 * (needs).  The rules are glibc's inet_pton(), which stays the final judge
 * of a finished address:
 *  IPv4  four decimal numbers 0..255 without leading zeros, three dots;
 *  IPv6  groups of one to four hex digits separated by ':', one "::"
 *        standing for one zero group or more, eight groups in all, the last
 *        two of which may be written as an IPv4 address;
 *  port  a decimal number 0..65535 without leading zeros.
 * Feeding a machine after it said FALSE is meaningless.  Pure, no
 * allocation.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint numbers;         /* begun so far */
  guint digits;          /* of the current one */
  guint value;           /* of the current one */
} MbIpv4Text;

typedef struct {
  guint length;
  guint groups;          /* finished */
  guint hex_digits;      /* of the group being read */
  gboolean gap;          /* "::" seen */
  gboolean colon;        /* the last character was a ':' ending a group */
  gboolean leading;      /* the text is ":" so far */
  gboolean decimal;      /* the group being read may begin an IPv4 address */
  gboolean quad;         /* in the IPv4 address at the end */
  MbIpv4Text ipv4;       /* the group being read, as an IPv4 address */
} MbIpv6Text;

typedef struct {
  guint digits;
  guint value;
} MbPortText;

gboolean mb_ipv4_text_feed (MbIpv4Text *text, gchar c);
gboolean mb_ipv4_text_complete (const MbIpv4Text *text);
guint mb_ipv4_text_needs (const MbIpv4Text *text);

gboolean mb_ipv6_text_feed (MbIpv6Text *text, gchar c);
gboolean mb_ipv6_text_complete (const MbIpv6Text *text);
guint mb_ipv6_text_needs (const MbIpv6Text *text);

gboolean mb_port_text_feed (MbPortText *text, gchar c);
gboolean mb_port_text_complete (const MbPortText *text);
guint mb_port_text_needs (const MbPortText *text);

G_END_DECLS
