/* Tests for src/inet-text.c
 *
 * Against the reference (inet_pton, or the plain rule for ports) on every
 * string of a few characters up to a length, after a prefix that takes it
 * near the limits: a string the reference takes
 * is never refused on the way and ends complete; a string refused on the
 * way has no extension the reference takes; a string the machine calls
 * complete is taken; and "needs" is exactly the distance to the nearest
 * string taken (whenever that fits within the length searched). */
#include "build-config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "inet-text.h"
#include "testutil.h"

typedef struct {
  gint family;               /* AF_INET, AF_INET6, or 0 for a port */
  union {
    MbIpv4Text ipv4;
    MbIpv6Text ipv6;
    MbPortText port;
  } text;
} Machine;

static gboolean
machine_feed (Machine *machine, gchar c)
{
  if (machine->family == AF_INET)
    return mb_ipv4_text_feed (&machine->text.ipv4, c);
  if (machine->family == AF_INET6)
    return mb_ipv6_text_feed (&machine->text.ipv6, c);
  return mb_port_text_feed (&machine->text.port, c);
}

static gboolean
machine_complete (const Machine *machine)
{
  if (machine->family == AF_INET)
    return mb_ipv4_text_complete (&machine->text.ipv4);
  if (machine->family == AF_INET6)
    return mb_ipv6_text_complete (&machine->text.ipv6);
  return mb_port_text_complete (&machine->text.port);
}

static guint
machine_needs (const Machine *machine)
{
  if (machine->family == AF_INET)
    return mb_ipv4_text_needs (&machine->text.ipv4);
  if (machine->family == AF_INET6)
    return mb_ipv6_text_needs (&machine->text.ipv6);
  return mb_port_text_needs (&machine->text.port);
}

static gboolean
reference (gint family, const gchar *text)
{
  guint8 address[16];
  gsize length = strlen (text);

  if (family != 0)
    return inet_pton (family, text, address) == 1;
  /* A port: 0..65535 in decimal, without leading zeros. */
  if (length == 0 || length > 5 || strspn (text, "0123456789") != length
      || (text[0] == '0' && length > 1))
    return FALSE;
  return strtoul (text, NULL, 10) <= 65535;
}

typedef struct {
  gint family;
  const gchar *alphabet;
  guint max;
  gchar text[32];
  guint64 taken;             /* strings the reference takes */
} Search;

#define FAR G_MAXUINT

/* ck_assert_msg() records its place on every call, which for millions of
 * strings costs far more than the checks: fail only. */
#define expect(condition, ...)                          \
  G_STMT_START {                                        \
    if (!(condition))                                   \
      ck_abort_msg (__VA_ARGS__);                       \
  } G_STMT_END

/* Checks the text of LENGTH characters in SEARCH, which MACHINE has been fed
 * (DEAD: it refused one of them), and every extension of it; returns the
 * fewest characters that make it a string the reference takes (FAR: none
 * within SEARCH->max). */
static guint
explore (Search *search, guint length, const Machine *machine, gboolean dead)
{
  gboolean taken;
  guint distance;

  search->text[length] = '\0';
  taken = reference (search->family, search->text);
  distance = taken ? 0 : FAR;
  if (taken)
    {
      search->taken++;
      expect (!dead, "\"%s\" refused on the way", search->text);
      expect (machine_complete (machine), "\"%s\" not complete", search->text);
    }
  else
    expect (dead || !machine_complete (machine), "\"%s\" complete", search->text);

  for (const gchar *c = search->alphabet; length < search->max && *c != '\0'; c++)
    {
      Machine next = *machine;
      gboolean next_dead = dead || !machine_feed (&next, *c);
      guint further;

      search->text[length] = *c;
      further = explore (search, length + 1, &next, next_dead);
      if (further != FAR && further + 1 < distance)
        distance = further + 1;
    }
  search->text[length] = '\0';

  if (dead)
    expect (distance == FAR, "\"%s\" refused, yet it can be completed", search->text);
  else if (length + machine_needs (machine) <= search->max)
    expect (distance == machine_needs (machine), "\"%s\" needs %u, not %u", search->text,
            distance, machine_needs (machine));
  return distance;
}

/* Every string PREFIX + characters of ALPHABET, up to MAX characters in all. */
static const struct { gint family; const gchar *prefix, *alphabet; guint max; } searches[] = {
  /* Around 255 and 256, leading zeros, too many and too few numbers. */
  { AF_INET, "", "0.256", 9 },
  { AF_INET, "", "0.19", 10 },
  /* Groups and "::" up to eight and beyond, an IPv4 address at the end. */
  { AF_INET6, "", "0:.1", 10 },
  { AF_INET6, "", "0:", 18 },
  { AF_INET6, "0:0:0:0:", "0:.1", 18 },
  { AF_INET6, "0:0:0:0:0:", "0:.f", 20 },
  { AF_INET6, "::0:0:", "0:.", 20 },
  { AF_INET6, "0::0:0:0", "0:.", 21 },
  /* Hex digits, groups of four or five, hex where the IPv4 address goes. */
  { AF_INET6, "", "0:.af", 8 },
  { AF_INET6, "", "01:", 12 },
  { 0, "", "01569", 6 },
};

START_TEST (test_exhaustive)
{
  Search search = { .family = searches[_i].family, .alphabet = searches[_i].alphabet,
                    .max = searches[_i].max };
  Machine machine = { .family = searches[_i].family };
  const gchar *prefix = searches[_i].prefix;
  gboolean dead = FALSE;

  ck_assert_uint_lt (search.max, sizeof search.text);
  for (guint i = 0; prefix[i] != '\0'; i++)
    {
      search.text[i] = prefix[i];
      dead = dead || !machine_feed (&machine, prefix[i]);
    }
  ck_assert (!dead);
  explore (&search, (guint) strlen (prefix), &machine, dead);
  ck_assert_uint_gt (search.taken, 0);
}
END_TEST

/* The longest forms and a few that the searches above cannot spell. */
static const struct { gint family; const gchar *text; gboolean valid; } samples[] = {
  { AF_INET, "255.255.255.255", TRUE },
  { AF_INET, "1.2.3.4 ", FALSE },
  { AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TRUE },
  { AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", TRUE },
  { AF_INET6, "ABCD:ef01:2345:6789:aBcD:EF01:2345:6789", TRUE },
  { AF_INET6, "::ffff:192.0.2.1", TRUE },
  { AF_INET6, "1:2:3:4:5::192.0.2.1", TRUE },
  { AF_INET6, "1:2:3:4:5:6::192.0.2.1", FALSE },
  { AF_INET6, "1:2:3:4:5:6:7::", TRUE },
  { AF_INET6, "1:2:3:4:5:6:7:8::", FALSE },
  { AF_INET6, "fe80::1%lo", FALSE },
  { AF_INET6, "::g", FALSE },
  { AF_INET6, "[::1]", FALSE },
  { 0, "65535", TRUE },
  { 0, "65536", FALSE },
};

START_TEST (test_samples)
{
  Machine machine = { .family = samples[_i].family };
  const gchar *text = samples[_i].text;
  gboolean alive = TRUE;

  ck_assert (reference (samples[_i].family, text) == samples[_i].valid);
  for (const gchar *c = text; *c != '\0' && alive; c++)
    alive = machine_feed (&machine, *c);
  ck_assert_msg ((alive && machine_complete (&machine)) == samples[_i].valid, "\"%s\"", text);
}
END_TEST

static Suite *
inet_text_suite (void)
{
  Suite *suite = suite_create ("inet-text");
  TCase *tc = tcase_create ("machines");

  tcase_set_timeout (tc, 60);
  tcase_add_loop_test (tc, test_exhaustive, 0, G_N_ELEMENTS (searches));
  tcase_add_loop_test (tc, test_samples, 0, G_N_ELEMENTS (samples));
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (inet_text_suite)
