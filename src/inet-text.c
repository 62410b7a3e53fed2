/* inet-text.c - addresses and ports checked as their characters arrive; see
 * inet-text.h. */
#include "build-config.h"

#include <string.h>

#include "inet-text.h"

/* ---- IPv4 --------------------------------------------------------------- */

gboolean
mb_ipv4_text_feed (MbIpv4Text *text, gchar c)
{
  if (g_ascii_isdigit (c))
    {
      if (text->digits == 0)
        {
          if (text->numbers == 4)
            return FALSE;
          text->numbers++;
        }
      else if (text->value == 0)
        return FALSE;                           /* a leading zero */
      text->value = text->value * 10 + (guint) (c - '0');
      text->digits++;
      return text->value <= 255;
    }
  if (c == '.' && text->digits > 0 && text->numbers < 4)
    {
      text->digits = 0;
      text->value = 0;
      return TRUE;
    }
  return FALSE;
}

gboolean
mb_ipv4_text_complete (const MbIpv4Text *text)
{
  return text->numbers == 4 && text->digits > 0;
}

/* "0.0.0.0" from nothing, ".0.0" after "1.2", "0.0" after "1.2.". */
guint
mb_ipv4_text_needs (const MbIpv4Text *text)
{
  return (4 - text->numbers) * 2 - (text->digits > 0 ? 0 : 1);
}

/* ---- IPv6 --------------------------------------------------------------- */

/* Whether the finished groups leave room for EXTRA more: eight in all, or at
 * most seven beside a "::", which stands for one zero group at least. */
static gboolean
ipv6_room (const MbIpv6Text *text, guint extra)
{
  return text->groups + extra <= (text->gap ? 7u : 8u);
}

gboolean
mb_ipv6_text_feed (MbIpv6Text *text, gchar c)
{
  gboolean first = text->length++ == 0;

  if (text->quad)
    return mb_ipv4_text_feed (&text->ipv4, c);
  if (first && c == ':')
    {
      text->leading = TRUE;
      return TRUE;
    }
  if (text->leading)
    {
      /* A leading ':' must begin "::". */
      text->leading = FALSE;
      text->gap = TRUE;
      return c == ':';
    }
  if (g_ascii_isxdigit (c))
    {
      text->colon = FALSE;
      if (text->hex_digits == 4)
        return FALSE;
      if (text->hex_digits == 0)
        {
          text->decimal = TRUE;
          memset (&text->ipv4, 0, sizeof text->ipv4);
        }
      text->hex_digits++;
      if (text->decimal && !mb_ipv4_text_feed (&text->ipv4, c))
        text->decimal = FALSE;
      /* However it ends, this group takes room. */
      return ipv6_room (text, 1);
    }
  if (c == ':')
    {
      if (text->hex_digits == 0)
        {
          /* "::" after a group; a third ':' or a second "::" is wrong. */
          if (!text->colon || text->gap)
            return FALSE;
          text->colon = FALSE;
          text->gap = TRUE;
          return ipv6_room (text, 0);
        }
      text->groups++;
      text->hex_digits = 0;
      text->colon = TRUE;
      /* Another group, or a ':' making "::", must follow. */
      return ipv6_room (text, 1);
    }
  if (c == '.')
    {
      /* The group read so far was the first number of an IPv4 address,
       * which takes two groups and ends the text: without "::" it must make
       * exactly eight. */
      if (text->hex_digits == 0 || !text->decimal)
        return FALSE;
      if (text->gap ? !ipv6_room (text, 2) : text->groups + 2 != 8)
        return FALSE;
      text->quad = TRUE;
      return mb_ipv4_text_feed (&text->ipv4, c);
    }
  return FALSE;
}

gboolean
mb_ipv6_text_complete (const MbIpv6Text *text)
{
  if (text->quad)
    return mb_ipv4_text_complete (&text->ipv4);
  if (text->hex_digits > 0)
    return text->gap || text->groups + 1 == 8;
  /* "", ":", "1:" are not; "::", "1::" are. */
  return text->gap && !text->colon && !text->leading;
}

guint
mb_ipv6_text_needs (const MbIpv6Text *text)
{
  if (mb_ipv6_text_complete (text))
    return 0;
  if (text->quad)
    return mb_ipv4_text_needs (&text->ipv4);
  if (text->leading || text->colon)
    return 1;                                   /* ":" or a digit */
  return 2;                                     /* "::" */
}

/* ---- ports -------------------------------------------------------------- */

gboolean
mb_port_text_feed (MbPortText *text, gchar c)
{
  if (!g_ascii_isdigit (c) || (text->digits > 0 && text->value == 0))
    return FALSE;
  text->value = text->value * 10 + (guint) (c - '0');
  text->digits++;
  return text->value <= 65535;
}

gboolean
mb_port_text_complete (const MbPortText *text)
{
  return text->digits > 0;
}

guint
mb_port_text_needs (const MbPortText *text)
{
  return text->digits > 0 ? 0 : 1;
}
