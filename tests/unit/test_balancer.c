/* Tests for src/balancer.c and the algorithms behind it (src/lb-*.c) */
#include "build-config.h"

#include "balancer.h"
#include "lb-algorithm.h"       /* MbBalancer.rebuilds: whether a table was built */
#include "testutil.h"

#define MAX_BACKENDS 16
#define DRAWS 100000

/* ck_assert() sends the runner a message for every assertion that holds;
 * over DRAWS picks that is a hundred megabytes through a temporary file.
 * The checks made per pick say something only when they fail. */
#define expect(condition, ...)          \
  G_STMT_START {                        \
    if (G_UNLIKELY (!(condition)))      \
      ck_abort_msg (__VA_ARGS__);       \
  } G_STMT_END

/* A balancer over N backends named "b0", "b1", ...; WEIGHTS and BACKUP may
 * be NULL (weight 1, no backups). */
static MbBalancer *
balancer_new (MbBalance algorithm, guint n, const guint *weights, const gboolean *backup)
{
  MbBackendSpec specs[MAX_BACKENDS] = { { 0 } };
  gchar names[MAX_BACKENDS][8];
  MbBalancer *balancer;

  ck_assert_uint_le (n, MAX_BACKENDS);
  for (guint i = 0; i < n; i++)
    {
      g_snprintf (names[i], sizeof names[i], "b%u", i);
      specs[i].name = names[i];
      specs[i].weight = weights != NULL ? weights[i] : 1;
      specs[i].backup = backup != NULL && backup[i];
    }
  balancer = mb_balancer_new (algorithm, specs, n);
  ck_assert_ptr_nonnull (balancer);
  return balancer;
}

/* Plans a connection (no live counts, key 0) and checks that the plan is
 * EXPECTED, N_EXPECTED backend indices. */
static void
plan_is (MbBalancer *balancer, const guint *expected, guint n_expected)
{
  guint order[MAX_BACKENDS];
  guint n = mb_balancer_plan (balancer, NULL, 0, order);

  ck_assert_uint_eq (n, n_expected);
  for (guint i = 0; i < n; i++)
    ck_assert_msg (order[i] == expected[i], "plan[%u] is %u, expected %u", i, order[i], expected[i]);
}

#define PLAN_IS(balancer, ...)                                     \
  G_STMT_START {                                                    \
    const guint expected_[] = { __VA_ARGS__ };                      \
    plan_is ((balancer), expected_, G_N_ELEMENTS (expected_));      \
  } G_STMT_END

/* The first backend of a plan, checking that the plan is the eligible
 * tier GROUP (backend indices in ascending order), from the pick on and
 * cyclically after it, then TAIL, the backends outside the tier in the
 * order they are tried. */
static guint
pick_in (MbBalancer *balancer, const guint *live, guint64 key,
         const guint *group, guint n_group, const guint *tail, guint n_tail)
{
  guint order[MAX_BACKENDS];
  guint n = mb_balancer_plan (balancer, live, key, order);
  guint at = n_group;

  expect (n == n_group + n_tail, "plan of %u backends, expected %u", n, n_group + n_tail);
  for (guint p = 0; p < n_group; p++)
    if (group[p] == order[0])
      at = p;
  expect (at < n_group, "picked %u, outside the tier", order[0]);
  for (guint i = 0; i < n_group; i++)
    expect (order[i] == group[(at + i) % n_group], "plan[%u] is %u, expected %u",
            i, order[i], group[(at + i) % n_group]);
  for (guint i = 0; i < n_tail; i++)
    expect (order[n_group + i] == tail[i], "plan[%u] is %u, expected %u",
            n_group + i, order[n_group + i], tail[i]);
  return order[0];
}

/* The first backend of a plan over all N backends, all of them eligible. */
static guint
pick_all (MbBalancer *balancer, const guint *live, guint64 key, guint n)
{
  guint all[MAX_BACKENDS];

  for (guint i = 0; i < n; i++)
    all[i] = i;
  return pick_in (balancer, live, key, all, n, NULL, 0);
}

/* Asserts that successive picks spell SEQUENCE ('a' is backend 0, 'b' 1,
 * ...), REPEATS times over. */
static void
assert_sequence (MbBalancer *balancer, guint n, const gchar *sequence, guint repeats)
{
  for (guint r = 0; r < repeats; r++)
    for (const gchar *c = sequence; *c != '\0'; c++)
      {
        guint picked = pick_all (balancer, NULL, 0, n);

        ck_assert_msg (picked == (guint) (*c - 'a'), "round %u of \"%s\": picked %c at '%c'",
                       r, sequence, 'a' + picked, *c);
      }
}

/* Checks that each of backends 0 .. N-1 comes first in EXPECTED[i] of the
 * DRAWS plans whose first backends are WHERE, within TOLERANCE. */
static void
assert_shares (const guint *where, guint n, const gdouble *expected, gdouble tolerance)
{
  guint count[MAX_BACKENDS] = { 0 };

  for (guint k = 0; k < DRAWS; k++)
    count[where[k]]++;
  for (guint i = 0; i < n; i++)
    {
      gdouble share = (gdouble) count[i] / DRAWS;

      ck_assert_msg (share >= expected[i] - tolerance && share <= expected[i] + tolerance,
                     "backend %u: share %.4f, expected %.4f", i, share, expected[i]);
    }
}

/* Round-robin ------------------------------------------------------------ */

/* Equal weights: connection k goes first to backend ((k - 1) mod n) + 1,
 * and fails over to the following ones in order, wrapping around. */
START_TEST (test_round_robin_order)
{
  for (guint n = 1; n <= 7; n++)
    {
      g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, n, NULL, NULL);

      for (guint k = 1; k <= 100; k++)
        ck_assert_uint_eq (pick_all (balancer, NULL, 0, n), (k - 1) % n);
    }
}
END_TEST

START_TEST (test_round_robin_failover_order)
{
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 3, NULL, NULL);

  PLAN_IS (balancer, 0, 1, 2);
  PLAN_IS (balancer, 1, 2, 0);
  PLAN_IS (balancer, 2, 0, 1);
  PLAN_IS (balancer, 0, 1, 2);
}
END_TEST

/* Plain round-robin would give a b a b: the weights must show, spread out. */
START_TEST (test_round_robin_weighted)
{
  const guint three_one[] = { 3, 1 };
  const guint five_one_one[] = { 5, 1, 1 };
  const guint one_three[] = { 1, 3 };
  g_autoptr(MbBalancer) a = balancer_new (MB_BALANCE_ROUND_ROBIN, 2, three_one, NULL);
  g_autoptr(MbBalancer) b = balancer_new (MB_BALANCE_ROUND_ROBIN, 3, five_one_one, NULL);
  g_autoptr(MbBalancer) c = balancer_new (MB_BALANCE_ROUND_ROBIN, 2, one_three, NULL);

  assert_sequence (a, 2, "aaba", 10);
  /* nginx's example in ngx_http_upstream_round_robin.c. */
  assert_sequence (b, 3, "aabacaa", 10);
  /* The heavier backend need not be the first. */
  assert_sequence (c, 2, "babb", 10);
}
END_TEST

/* Over every run of total-weight picks, each backend comes up exactly
 * weight times. */
START_TEST (test_round_robin_shares)
{
  const guint weights[] = { 4, 7, 1, 2, 256, 3 };
  const guint n = G_N_ELEMENTS (weights);
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, n, weights, NULL);
  guint total = 0;

  for (guint i = 0; i < n; i++)
    total += weights[i];
  for (guint round = 0; round < 5; round++)
    {
      guint count[MAX_BACKENDS] = { 0 };

      for (guint k = 0; k < total; k++)
        count[pick_all (balancer, NULL, 0, n)]++;
      for (guint i = 0; i < n; i++)
        ck_assert_uint_eq (count[i], weights[i]);
    }
}
END_TEST

/* A down backend is not picked (it comes last in the plan); the others'
 * sequence is the smooth one of their own weights. */
START_TEST (test_round_robin_down)
{
  const guint weights[] = { 3, 1, 1 };
  const guint a_c[] = { 0, 2 }, a_b[] = { 0, 1 }, b[] = { 1 }, c[] = { 2 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 3, weights, NULL);

  mb_balancer_set_down (balancer, 1, TRUE);
  ck_assert (mb_balancer_is_down (balancer, 1));
  ck_assert (!mb_balancer_is_down (balancer, 0));
  for (guint r = 0; r < 10; r++)
    {
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_c, 2, b, 1), 0);
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_c, 2, b, 1), 0);
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_c, 2, b, 1), 2);
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_c, 2, b, 1), 0);
    }
  /* Mid-sequence: b back, c down. */
  pick_in (balancer, NULL, 0, a_c, 2, b, 1);
  mb_balancer_set_down (balancer, 1, FALSE);
  mb_balancer_set_down (balancer, 2, TRUE);
  for (guint r = 0; r < 10; r++)
    {
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_b, 2, c, 1), 0);
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_b, 2, c, 1), 0);
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_b, 2, c, 1), 1);
      ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_b, 2, c, 1), 0);
    }
}
END_TEST

START_TEST (test_round_robin_down_equal)
{
  const guint up[] = { 0, 2, 3 }, down[] = { 1 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 4, NULL, NULL);

  mb_balancer_set_down (balancer, 1, TRUE);
  for (guint k = 0; k < 30; k++)
    ck_assert_uint_eq (pick_in (balancer, NULL, 0, up, 3, down, 1), up[k % 3]);
  PLAN_IS (balancer, 0, 2, 3, 1);
  PLAN_IS (balancer, 2, 3, 0, 1);
  PLAN_IS (balancer, 3, 0, 2, 1);
}
END_TEST

/* Marking a backup down or up while the primaries serve does not change
 * the tier, only where the backup comes after it: the sequence goes on
 * where it was. */
START_TEST (test_round_robin_backup_change_keeps_sequence)
{
  const gboolean backup[] = { FALSE, FALSE, FALSE, TRUE, TRUE };
  const guint primaries[] = { 0, 1, 2 };
  const guint backups[] = { 3, 4 }, backups_4_up[] = { 4, 3 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 5, NULL, backup);

  ck_assert_uint_eq (pick_in (balancer, NULL, 0, primaries, 3, backups, 2), 0);
  mb_balancer_set_down (balancer, 3, TRUE);
  ck_assert_uint_eq (pick_in (balancer, NULL, 0, primaries, 3, backups_4_up, 2), 1);
  mb_balancer_set_down (balancer, 3, FALSE);
  ck_assert_uint_eq (pick_in (balancer, NULL, 0, primaries, 3, backups, 2), 2);
  /* Marking a backend up that is up is no change. */
  mb_balancer_set_down (balancer, 0, FALSE);
  ck_assert_uint_eq (pick_in (balancer, NULL, 0, primaries, 3, backups, 2), 0);
}
END_TEST

/* Tiers and plans ----------------------------------------------------------- */

/* Primaries p1, p2 and a backup s, all up (the case): the backup is
 * in every plan, after the primaries, so when both primaries refuse before
 * any is marked down, the client still reaches s. */
START_TEST (test_backup_after_the_primaries)
{
  const gboolean backup[] = { FALSE, FALSE, TRUE };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 3, NULL, backup);

  PLAN_IS (balancer, 0, 1, 2);
  PLAN_IS (balancer, 1, 0, 2);
  PLAN_IS (balancer, 0, 1, 2);
}
END_TEST

/* A down primary is tried last of all: after the up primaries and after the
 * backups, which are up. */
START_TEST (test_down_primary_after_the_backups)
{
  const gboolean backup[] = { FALSE, FALSE, FALSE, TRUE, TRUE };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 5, NULL, backup);

  mb_balancer_set_down (balancer, 1, TRUE);
  PLAN_IS (balancer, 0, 2, 3, 4, 1);
  PLAN_IS (balancer, 2, 0, 3, 4, 1);
  /* A down backup comes after the down primaries. */
  mb_balancer_set_down (balancer, 3, TRUE);
  PLAN_IS (balancer, 0, 2, 4, 1, 3);
  mb_balancer_set_down (balancer, 0, TRUE);
  PLAN_IS (balancer, 2, 4, 0, 1, 3);
}
END_TEST

/* Every primary down, backups up: the up backups take turns first, then
 * the primaries (the checks may be wrong), then the down backups. */
START_TEST (test_primaries_down_backups_up)
{
  const gboolean backup[] = { FALSE, TRUE, FALSE, TRUE, TRUE };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 5, NULL, backup);

  mb_balancer_set_down (balancer, 0, TRUE);
  mb_balancer_set_down (balancer, 2, TRUE);
  PLAN_IS (balancer, 1, 3, 4, 0, 2);
  PLAN_IS (balancer, 3, 4, 1, 0, 2);
  PLAN_IS (balancer, 4, 1, 3, 0, 2);
  mb_balancer_set_down (balancer, 3, TRUE);
  PLAN_IS (balancer, 1, 4, 0, 2, 3);
  PLAN_IS (balancer, 4, 1, 0, 2, 3);
}
END_TEST

/* Backups are picked only when every primary is down, and come after the
 * tier otherwise; when everything is down, the primaries are picked in and
 * the backups follow them. */
START_TEST (test_backups)
{
  /* Primaries 0 and 2, backups 1 and 3: the tiers are not index ranges. */
  const gboolean backup[] = { FALSE, TRUE, FALSE, TRUE };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 4, NULL, backup);

  PLAN_IS (balancer, 0, 2, 1, 3);
  PLAN_IS (balancer, 2, 0, 1, 3);
  mb_balancer_set_down (balancer, 1, TRUE);
  PLAN_IS (balancer, 0, 2, 3, 1);
  mb_balancer_set_down (balancer, 1, FALSE);
  mb_balancer_set_down (balancer, 0, TRUE);
  PLAN_IS (balancer, 2, 1, 3, 0);
  PLAN_IS (balancer, 2, 1, 3, 0);
  mb_balancer_set_down (balancer, 2, TRUE);
  PLAN_IS (balancer, 1, 3, 0, 2);
  PLAN_IS (balancer, 3, 1, 0, 2);
  PLAN_IS (balancer, 1, 3, 0, 2);
  mb_balancer_set_down (balancer, 1, TRUE);
  PLAN_IS (balancer, 3, 0, 2, 1);
  mb_balancer_set_down (balancer, 3, TRUE);
  /* All down: round-robin over the primaries, then the backups, as before
   * backups were tried in every plan. */
  PLAN_IS (balancer, 0, 2, 1, 3);
  PLAN_IS (balancer, 2, 0, 1, 3);
  PLAN_IS (balancer, 0, 2, 1, 3);
  mb_balancer_set_down (balancer, 2, FALSE);
  PLAN_IS (balancer, 2, 0, 1, 3);
  mb_balancer_set_down (balancer, 0, FALSE);
  PLAN_IS (balancer, 0, 2, 1, 3);
  PLAN_IS (balancer, 2, 0, 1, 3);
}
END_TEST

START_TEST (test_all_down_only_backups)
{
  const gboolean backup[] = { TRUE, TRUE, TRUE };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 3, NULL, backup);

  PLAN_IS (balancer, 0, 1, 2);
  PLAN_IS (balancer, 1, 2, 0);
  for (guint i = 0; i < 3; i++)
    mb_balancer_set_down (balancer, i, TRUE);
  PLAN_IS (balancer, 0, 1, 2);
  PLAN_IS (balancer, 1, 2, 0);
}
END_TEST

/* Keys for source-hash that land all over its table. */
static guint64
spread_key (guint k)
{
  return k * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
}

static const MbBalance every_algorithm[] = {
  MB_BALANCE_ROUND_ROBIN, MB_BALANCE_LEAST_CONNECTIONS,
  MB_BALANCE_RANDOM_TWO, MB_BALANCE_SOURCE_HASH,
};

/* Every algorithm keeps to the tier, and every plan goes on with the
 * backends outside it: the up backups, the down primaries, the down
 * backups. */
START_TEST (test_every_algorithm_plans_every_backend)
{
  const gboolean backup[] = { FALSE, FALSE, TRUE, FALSE, TRUE };
  const guint live[] = { 0, 3, 0, 1, 2 };
  const guint primaries[] = { 0, 1, 3 }, backups[] = { 2, 4 };
  const guint primaries_up[] = { 1, 3 }, then_0[] = { 2, 4, 0 };
  const guint primaries_down[] = { 0, 1, 3 };
  const guint backup_4_up[] = { 4 }, then_0_1_3_2[] = { 0, 1, 3, 2 };

  for (guint a = 0; a < G_N_ELEMENTS (every_algorithm); a++)
    {
      g_autoptr(MbBalancer) balancer = balancer_new (every_algorithm[a], 5, NULL, backup);

      for (guint k = 0; k < 200; k++)
        pick_in (balancer, live, spread_key (k), primaries, 3, backups, 2);
      mb_balancer_set_down (balancer, 0, TRUE);
      for (guint k = 0; k < 200; k++)
        pick_in (balancer, live, spread_key (k), primaries_up, 2, then_0, 3);
      mb_balancer_set_down (balancer, 1, TRUE);
      mb_balancer_set_down (balancer, 3, TRUE);
      for (guint k = 0; k < 200; k++)
        pick_in (balancer, live, spread_key (k), backups, 2, primaries_down, 3);
      mb_balancer_set_down (balancer, 2, TRUE);
      for (guint k = 0; k < 200; k++)
        pick_in (balancer, live, spread_key (k), backup_4_up, 1, then_0_1_3_2, 4);
      mb_balancer_set_down (balancer, 4, TRUE);
      for (guint k = 0; k < 200; k++)
        pick_in (balancer, live, spread_key (k), primaries, 3, backups, 2);
    }
}
END_TEST

/* The rule of balancer.h, written out the long way: the tier, then the up
 * backups outside it, then the down primaries outside it, then the down
 * backups outside it. */
static void
expected_plan (const gboolean *backup, const gboolean *down, guint n,
               guint *tier, guint *n_tier, guint *tail, guint *n_tail)
{
  gboolean in_tier[MAX_BACKENDS] = { FALSE };

  gboolean any_up = FALSE, any_primary_up = FALSE, any_primary = FALSE;

  for (guint i = 0; i < n; i++)
    {
      any_up |= !down[i];
      any_primary_up |= !backup[i] && !down[i];
      any_primary |= !backup[i];
    }
  *n_tier = *n_tail = 0;
  for (guint i = 0; i < n; i++)
    if (any_primary_up ? !backup[i] && !down[i]
        : any_up ? !down[i]
        : any_primary ? !backup[i]
        : TRUE)
      tier[(*n_tier)++] = i;
  for (guint t = 0; t < *n_tier; t++)
    in_tier[tier[t]] = TRUE;
  for (guint i = 0; i < n; i++)
    if (!in_tier[i] && backup[i] && !down[i])
      tail[(*n_tail)++] = i;
  for (guint i = 0; i < n; i++)
    if (!in_tier[i] && !backup[i] && down[i])
      tail[(*n_tail)++] = i;
  for (guint i = 0; i < n; i++)
    if (!in_tier[i] && backup[i] && down[i])
      tail[(*n_tail)++] = i;
}

/* Backends go down and up at random: after each change, every
 * algorithm's plans follow the rule above and hold every backend. */
START_TEST (test_plans_follow_random_changes)
{
  const gboolean backup[] = { FALSE, TRUE, FALSE, FALSE, TRUE, TRUE, FALSE };
  const guint n = G_N_ELEMENTS (backup);
  const guint live[] = { 4, 0, 2, 2, 1, 0, 3 };

  for (guint a = 0; a < G_N_ELEMENTS (every_algorithm); a++)
    {
      g_autoptr(MbBalancer) balancer = balancer_new (every_algorithm[a], n, NULL, backup);
      g_autoptr(GRand) rand = g_rand_new_with_seed (17 + a);
      gboolean down[MAX_BACKENDS] = { FALSE };

      mb_balancer_set_seed (balancer, 5);
      for (guint change = 0; change < 500; change++)
        {
          guint tier[MAX_BACKENDS], tail[MAX_BACKENDS], n_tier, n_tail;
          guint i = (guint) g_rand_int_range (rand, 0, (gint32) n);

          down[i] = !down[i];
          mb_balancer_set_down (balancer, i, down[i]);
          expected_plan (backup, down, n, tier, &n_tier, tail, &n_tail);
          for (guint k = 0; k < 8; k++)
            pick_in (balancer, live, spread_key (change * 8 + k), tier, n_tier, tail, n_tail);
        }
    }
}
END_TEST

/* Least connections --------------------------------------------------------- */

START_TEST (test_least_connections)
{
  const guint live[] = { 5, 3, 0, 4 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_LEAST_CONNECTIONS, 4, NULL, NULL);

  for (guint k = 0; k < 10; k++)
    ck_assert_uint_eq (pick_all (balancer, live, 0, 4), 2);
}
END_TEST

/* Live sessions count relative to weight. */
START_TEST (test_least_connections_weighted)
{
  const guint weights[] = { 10, 4 };
  const guint live[] = { 20, 9 };          /* 2 per weight against 2.25 */
  const guint big_weights[] = { 255, 256 };
  /* 12632256.753 against 12632256.750 per weight: products past 32 bits
   * (wrapped, they compare the other way) and loads a float cannot tell
   * apart. */
  const guint big_live[] = { 3221225472u, 3233857728u };
  g_autoptr(MbBalancer) a = balancer_new (MB_BALANCE_LEAST_CONNECTIONS, 2, weights, NULL);
  g_autoptr(MbBalancer) b = balancer_new (MB_BALANCE_LEAST_CONNECTIONS, 2, big_weights, NULL);

  for (guint k = 0; k < 4; k++)
    ck_assert_uint_eq (pick_all (a, live, 0, 2), 0);
  for (guint k = 0; k < 4; k++)
    ck_assert_uint_eq (pick_all (b, big_live, 0, 2), 1);
}
END_TEST

/* Equally loaded backends take turns. */
START_TEST (test_least_connections_ties_rotate)
{
  const guint weights[] = { 10, 1, 1 };
  const guint equal[] = { 10, 1, 1 };      /* 1 per weight each */
  const guint two_tied[] = { 10, 2, 1 };   /* 1, 2, 1 per weight */
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_LEAST_CONNECTIONS, 3, weights, NULL);
  g_autoptr(MbBalancer) unweighted = balancer_new (MB_BALANCE_LEAST_CONNECTIONS, 3, NULL, NULL);

  for (guint k = 0; k < 30; k++)
    ck_assert_uint_eq (pick_all (balancer, equal, 0, 3), k % 3);
  for (guint k = 0; k < 30; k++)
    ck_assert_uint_eq (pick_all (balancer, two_tied, 0, 3), k % 2 == 0 ? 0 : 2);
  /* No counts at all: plain rotation. */
  for (guint k = 0; k < 30; k++)
    ck_assert_uint_eq (pick_all (unweighted, NULL, 0, 3), k % 3);
}
END_TEST

START_TEST (test_least_connections_down)
{
  const guint live[] = { 0, 5, 5, 6 };
  const guint up[] = { 1, 2, 3 }, down[] = { 0 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_LEAST_CONNECTIONS, 4, NULL, NULL);

  ck_assert_uint_eq (pick_all (balancer, live, 0, 4), 0);
  mb_balancer_set_down (balancer, 0, TRUE);
  for (guint k = 0; k < 10; k++)
    {
      guint first = pick_in (balancer, live, 0, up, 3, down, 1);

      ck_assert (first == 1 || first == 2);
      ck_assert_uint_ne (pick_in (balancer, live, 0, up, 3, down, 1), first);
    }
}
END_TEST

/* Random two ---------------------------------------------------------------- */

/* Fills WHERE with the first backends of DRAWS plans with LIVE fixed. */
static void
draw (MbBalancer *balancer, guint n, const guint *live, guint *where)
{
  for (guint k = 0; k < DRAWS; k++)
    where[k] = pick_all (balancer, live, 0, n);
}

/* The expected shares, worked out: a backend is picked when it is drawn
 * with one that carries more (either order: 2 of the n(n-1) ordered
 * pairs each), or first with one that carries the same (1 pair each). */
START_TEST (test_random_two_distribution)
{
  const guint spread[] = { 0, 5, 10 };
  const gdouble spread_shares[] = { 4.0 / 6, 2.0 / 6, 0 };
  const guint pairs[] = { 0, 0, 3, 3 };
  const gdouble pairs_shares[] = { 5.0 / 12, 5.0 / 12, 1.0 / 12, 1.0 / 12 };
  const guint equal[] = { 7, 7, 7, 7, 7 };
  const gdouble equal_shares[] = { 0.2, 0.2, 0.2, 0.2, 0.2 };
  g_autoptr(MbBalancer) three = balancer_new (MB_BALANCE_RANDOM_TWO, 3, NULL, NULL);
  g_autoptr(MbBalancer) four = balancer_new (MB_BALANCE_RANDOM_TWO, 4, NULL, NULL);
  g_autoptr(MbBalancer) five = balancer_new (MB_BALANCE_RANDOM_TWO, 5, NULL, NULL);
  g_autofree guint *where = g_new (guint, DRAWS);

  mb_balancer_set_seed (three, 1);
  mb_balancer_set_seed (four, 2);
  mb_balancer_set_seed (five, 3);
  /* The most loaded is never picked: it always loses its pair. */
  draw (three, 3, spread, where);
  assert_shares (where, 3, spread_shares, 0.01);
  draw (four, 4, pairs, where);
  assert_shares (where, 4, pairs_shares, 0.01);
  draw (five, 5, equal, where);
  assert_shares (where, 5, equal_shares, 0.01);
}
END_TEST

START_TEST (test_random_two_weighted)
{
  const guint weights[] = { 1, 2, 4 };
  const guint live[] = { 4, 4, 4 };        /* 4, 2 and 1 per weight */
  const gdouble shares[] = { 0, 2.0 / 6, 4.0 / 6 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_RANDOM_TWO, 3, weights, NULL);
  g_autofree guint *where = g_new (guint, DRAWS);

  mb_balancer_set_seed (balancer, 4);
  draw (balancer, 3, live, where);
  assert_shares (where, 3, shares, 0.01);
}
END_TEST

/* The same seed gives the same picks; a balancer's own draws do not depend
 * on the others'. */
START_TEST (test_random_two_seeded)
{
  const guint live[] = { 1, 1, 1, 1, 1, 1 };
  g_autoptr(MbBalancer) a = balancer_new (MB_BALANCE_RANDOM_TWO, 6, NULL, NULL);
  g_autoptr(MbBalancer) b = balancer_new (MB_BALANCE_RANDOM_TWO, 6, NULL, NULL);
  g_autoptr(MbBalancer) c = balancer_new (MB_BALANCE_RANDOM_TWO, 6, NULL, NULL);
  guint differ = 0;

  mb_balancer_set_seed (a, 42);
  mb_balancer_set_seed (b, 42);
  mb_balancer_set_seed (c, 43);
  for (guint k = 0; k < 1000; k++)
    {
      guint picked = pick_all (a, live, 0, 6);

      ck_assert_uint_eq (pick_all (b, live, 0, 6), picked);
      differ += pick_all (c, live, 0, 6) != picked;
    }
  ck_assert_uint_gt (differ, 500);
}
END_TEST

START_TEST (test_random_two_one_eligible)
{
  const guint live[] = { 0, 9, 0 };
  const guint only[] = { 1 }, down[] = { 0, 2 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_RANDOM_TWO, 3, NULL, NULL);

  mb_balancer_set_down (balancer, 0, TRUE);
  mb_balancer_set_down (balancer, 2, TRUE);
  for (guint k = 0; k < 100; k++)
    pick_in (balancer, live, 0, only, 1, down, 2);
}
END_TEST

/* Source hash --------------------------------------------------------------- */

/* The key of the Ith of DRAWS client addresses, 10.x.y.z. */
static guint64
client_key (guint i)
{
  const guint8 address[4] = { 10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff };

  return mb_balancer_hash_address (address, sizeof address);
}

/* Fills WHERE with the backend each of the DRAWS clients goes to first. */
static void
map_clients (MbBalancer *balancer, guint *where)
{
  guint order[MAX_BACKENDS];

  for (guint i = 0; i < DRAWS; i++)
    {
      guint n = mb_balancer_plan (balancer, NULL, client_key (i), order);

      expect (n >= 1, "client %u: empty plan", i);
      where[i] = order[0];
    }
}

START_TEST (test_hash_address)
{
  const guint8 v4[4] = { 192, 0, 2, 1 }, v4_next[4] = { 192, 0, 2, 2 };
  const guint8 v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
  g_autoptr(GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autofree gint64 *keys = g_new (gint64, DRAWS);

  ck_assert (mb_balancer_hash_address (v4, 4) == mb_balancer_hash_address (v4, 4));
  ck_assert (mb_balancer_hash_address (v4, 4) != mb_balancer_hash_address (v4_next, 4));
  ck_assert (mb_balancer_hash_address (v6, 16) != mb_balancer_hash_address (v6, 15));
  /* Neighbouring addresses do not collide. */
  for (guint i = 0; i < DRAWS; i++)
    {
      keys[i] = (gint64) client_key (i);
      g_hash_table_add (seen, &keys[i]);
    }
  ck_assert_uint_eq (g_hash_table_size (seen), DRAWS);
}
END_TEST

/* A key always goes to the same backend, its plan fails over cyclically,
 * and equal backends get equal shares. */
START_TEST (test_source_hash_stable_and_even)
{
  const gdouble fifths[] = { 0.2, 0.2, 0.2, 0.2, 0.2 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_SOURCE_HASH, 5, NULL, NULL);
  g_autoptr(MbBalancer) again = balancer_new (MB_BALANCE_SOURCE_HASH, 5, NULL, NULL);
  g_autofree guint *where = g_new (guint, DRAWS);
  g_autofree guint *later = g_new (guint, DRAWS);

  map_clients (balancer, where);
  assert_shares (where, 5, fifths, 0.03);
  for (guint i = 0; i < DRAWS; i += 97)
    ck_assert_uint_eq (pick_all (balancer, NULL, client_key (i), 5), where[i]);
  map_clients (balancer, later);
  ck_assert (memcmp (where, later, DRAWS * sizeof *where) == 0);
  map_clients (again, later);
  ck_assert (memcmp (where, later, DRAWS * sizeof *where) == 0);
}
END_TEST

/* Keys follow backends' names, not their positions. */
START_TEST (test_source_hash_keys_on_names)
{
  const gchar *names[] = { "alpha", "beta", "gamma", "delta" };
  MbBackendSpec forward[4] = { { 0 } }, backward[4] = { { 0 } };
  g_autoptr(MbBalancer) a = NULL;
  g_autoptr(MbBalancer) b = NULL;
  guint order[4];

  for (guint i = 0; i < 4; i++)
    {
      forward[i] = (MbBackendSpec) { names[i], 1 + i, FALSE, FALSE };
      backward[3 - i] = forward[i];
    }
  a = mb_balancer_new (MB_BALANCE_SOURCE_HASH, forward, 4);
  b = mb_balancer_new (MB_BALANCE_SOURCE_HASH, backward, 4);
  for (guint i = 0; i < DRAWS; i++)
    {
      guint first;

      mb_balancer_plan (a, NULL, client_key (i), order);
      first = order[0];
      mb_balancer_plan (b, NULL, client_key (i), order);
      expect (order[0] == 3 - first, "client %u: on %u, reordered on %u", i, first, order[0]);
    }
}
END_TEST

/* One of five goes down: only its clients move (Maglev moves a few others),
 * spread over the four left; when it comes back, every client returns. */
START_TEST (test_source_hash_down_and_up)
{
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_SOURCE_HASH, 5, NULL, NULL);
  g_autofree guint *before = g_new (guint, DRAWS);
  g_autofree guint *down = g_new (guint, DRAWS);
  g_autofree guint *after = g_new (guint, DRAWS);
  guint stayed_away = 0, moved = 0, orphans = 0, adopted[5] = { 0 };

  map_clients (balancer, before);
  mb_balancer_set_down (balancer, 2, TRUE);
  map_clients (balancer, down);
  for (guint i = 0; i < DRAWS; i++)
    {
      expect (down[i] != 2, "client %u still on the backend that is down", i);
      if (before[i] == 2)
        {
          orphans++;
          adopted[down[i]]++;
        }
      else
        {
          stayed_away++;
          moved += down[i] != before[i];
        }
    }
  ck_assert_msg (moved * 100 <= stayed_away * 2, "%u of %u clients of the others moved",
                 moved, stayed_away);
  for (guint i = 0; i < 5; i++)
    if (i != 2)
      ck_assert_msg (adopted[i] * 100 >= orphans * 20 && adopted[i] * 100 <= orphans * 30,
                     "backend %u took %u of %u orphans", i, adopted[i], orphans);

  mb_balancer_set_down (balancer, 2, FALSE);
  map_clients (balancer, after);
  ck_assert (memcmp (before, after, DRAWS * sizeof *before) == 0);
}
END_TEST

/* An excluded backend (maint, drain) is in no plan, not even last; the
 * others keep their round-robin turns. */
START_TEST (test_excluded_not_in_plans)
{
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 3, NULL, NULL);

  mb_balancer_set_excluded (balancer, 1, TRUE);
  PLAN_IS (balancer, 0, 2);
  PLAN_IS (balancer, 2, 0);
  /* Even with every other backend down, it is not tried. */
  mb_balancer_set_down (balancer, 0, TRUE);
  mb_balancer_set_down (balancer, 2, TRUE);
  PLAN_IS (balancer, 0, 2);
  mb_balancer_set_down (balancer, 0, FALSE);
  mb_balancer_set_down (balancer, 2, FALSE);
  mb_balancer_set_excluded (balancer, 1, FALSE);
  PLAN_IS (balancer, 0, 1, 2);
  PLAN_IS (balancer, 1, 2, 0);
}
END_TEST

/* Every backend excluded: an empty plan, and no pick asked of the
 * algorithm (least-connections would divide by the tier's size). */
START_TEST (test_all_excluded)
{
  static const MbBalance algorithms[] = { MB_BALANCE_ROUND_ROBIN, MB_BALANCE_LEAST_CONNECTIONS,
                                          MB_BALANCE_RANDOM_TWO, MB_BALANCE_SOURCE_HASH };

  for (guint a = 0; a < G_N_ELEMENTS (algorithms); a++)
    {
      g_autoptr(MbBalancer) balancer = balancer_new (algorithms[a], 2, NULL, NULL);
      guint order[2], live[2] = { 0, 0 };

      mb_balancer_set_excluded (balancer, 0, TRUE);
      mb_balancer_set_excluded (balancer, 1, TRUE);
      ck_assert_uint_eq (mb_balancer_plan (balancer, live, 42, order), 0);
      mb_balancer_set_excluded (balancer, 1, FALSE);
      ck_assert_uint_eq (mb_balancer_plan (balancer, live, 42, order), 1);
      ck_assert_uint_eq (order[0], 1);
    }
}
END_TEST

/* Source-hash skips an excluded backend as it skips a down one: only its
 * clients move, and they all come back. */
START_TEST (test_source_hash_excluded)
{
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_SOURCE_HASH, 5, NULL, NULL);
  g_autoptr(MbBalancer) down = balancer_new (MB_BALANCE_SOURCE_HASH, 5, NULL, NULL);
  g_autofree guint *before = g_new (guint, DRAWS);
  g_autofree guint *excluded = g_new (guint, DRAWS);
  g_autofree guint *as_down = g_new (guint, DRAWS);
  g_autofree guint *after = g_new (guint, DRAWS);

  map_clients (balancer, before);
  mb_balancer_set_excluded (balancer, 3, TRUE);
  mb_balancer_set_down (down, 3, TRUE);
  map_clients (balancer, excluded);
  map_clients (down, as_down);
  for (guint i = 0; i < DRAWS; i++)
    expect (excluded[i] != 3, "client %u still on the excluded backend", i);
  ck_assert (memcmp (excluded, as_down, DRAWS * sizeof *excluded) == 0);
  mb_balancer_set_excluded (balancer, 3, FALSE);
  map_clients (balancer, after);
  ck_assert (memcmp (before, after, DRAWS * sizeof *before) == 0);
}
END_TEST

START_TEST (test_source_hash_weighted)
{
  const guint weights[] = { 2, 1 };
  const gdouble thirds[] = { 2.0 / 3, 1.0 / 3 };
  const guint heavy_weights[] = { 1, 5, 1, 1 };
  const gdouble eighths[] = { 0.125, 0.625, 0.125, 0.125 };
  g_autoptr(MbBalancer) two = balancer_new (MB_BALANCE_SOURCE_HASH, 2, weights, NULL);
  g_autoptr(MbBalancer) four = balancer_new (MB_BALANCE_SOURCE_HASH, 4, heavy_weights, NULL);
  g_autofree guint *where = g_new (guint, DRAWS);

  map_clients (two, where);
  assert_shares (where, 2, thirds, 0.03);
  map_clients (four, where);
  assert_shares (where, 4, eighths, 0.03);
}
END_TEST

/* Weights set at run time ----------------------------------------------------- */

/* A member's new weight starts the sequence over with the new weights;
 * the same weight again is no change. */
START_TEST (test_set_weight_round_robin)
{
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 2, NULL, NULL);

  assert_sequence (balancer, 2, "ab", 3);
  ck_assert_uint_eq (pick_all (balancer, NULL, 0, 2), 0);
  mb_balancer_set_weight (balancer, 0, 3);
  assert_sequence (balancer, 2, "aaba", 5);
  assert_sequence (balancer, 2, "aa", 1);
  mb_balancer_set_weight (balancer, 0, 3);
  assert_sequence (balancer, 2, "ba", 1);
  assert_sequence (balancer, 2, "aaba", 5);
  mb_balancer_set_weight (balancer, 1, 3);
  assert_sequence (balancer, 2, "ab", 5);
}
END_TEST

/* The weight of a backend outside the tier changes nothing until it comes
 * back, and then it counts. */
START_TEST (test_set_weight_outside_the_tier)
{
  const guint a_b[] = { 0, 1 }, c[] = { 2 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_ROUND_ROBIN, 3, NULL, NULL);

  mb_balancer_set_down (balancer, 2, TRUE);
  ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_b, 2, c, 1), 0);
  mb_balancer_set_weight (balancer, 2, 4);
  /* Starting over would give a. */
  ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_b, 2, c, 1), 1);
  ck_assert_uint_eq (pick_in (balancer, NULL, 0, a_b, 2, c, 1), 0);
  mb_balancer_set_down (balancer, 2, FALSE);
  /* Weights 1:1:4, nginx's smooth order. */
  assert_sequence (balancer, 3, "cacbcc", 5);
}
END_TEST

/* Source-hash: a new weight makes a new table (in the next plan, once);
 * clients move to the heavier backend, hardly any between the others, and
 * all return with the old weight. */
START_TEST (test_set_weight_source_hash)
{
  const gdouble shares[] = { 1.0 / 7, 1.0 / 7, 3.0 / 7, 1.0 / 7, 1.0 / 7 };
  g_autoptr(MbBalancer) balancer = balancer_new (MB_BALANCE_SOURCE_HASH, 5, NULL, NULL);
  g_autofree guint *before = g_new (guint, DRAWS);
  g_autofree guint *heavier = g_new (guint, DRAWS);
  g_autofree guint *after = g_new (guint, DRAWS);
  guint to_2 = 0, between_others = 0, away_from_2 = 0;

  map_clients (balancer, before);
  ck_assert_uint_eq (balancer->rebuilds, 1);
  mb_balancer_set_weight (balancer, 2, 3);
  ck_assert_uint_eq (balancer->rebuilds, 1);
  map_clients (balancer, heavier);
  ck_assert_uint_eq (balancer->rebuilds, 2);
  assert_shares (heavier, 5, shares, 0.03);
  for (guint i = 0; i < DRAWS; i++)
    if (heavier[i] != before[i])
      {
        if (heavier[i] == 2)
          to_2++;
        else if (before[i] == 2)
          away_from_2++;
        else
          between_others++;
      }
  ck_assert_msg (between_others * 100 <= DRAWS && away_from_2 * 100 <= DRAWS,
                 "%u clients moved to 2, %u between the others, %u away from 2",
                 to_2, between_others, away_from_2);

  mb_balancer_set_weight (balancer, 2, 1);
  map_clients (balancer, after);
  ck_assert (memcmp (before, after, DRAWS * sizeof *before) == 0);

  /* Outside the tier: no new table. */
  mb_balancer_set_down (balancer, 4, TRUE);
  map_clients (balancer, after);
  ck_assert_uint_eq (balancer->rebuilds, 4);
  mb_balancer_set_weight (balancer, 4, 7);
  map_clients (balancer, after);
  ck_assert_uint_eq (balancer->rebuilds, 4);
}
END_TEST

/* Reload ------------------------------------------------------------------------ */

#define N_NAMES 8
static const gchar *const names[N_NAMES] = {
  "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
};

/* Fills SPECS with the backends names[WHICH[j]], j < N, with the weights
 * WEIGHTS[WHICH[j]] (NULL: 1) and backups BACKUP[WHICH[j]] (NULL: none):
 * the same backends as names[0 .. n) in the order WHICH. */
static void
specs_in_order (MbBackendSpec *specs, const guint *which, guint n,
                const guint *weights, const gboolean *backup)
{
  for (guint j = 0; j < n; j++)
    {
      specs[j].name = names[which[j]];
      specs[j].weight = weights != NULL ? weights[which[j]] : 1;
      specs[j].backup = backup != NULL && backup[which[j]];
    }
}

/* The name of the backend a plan tries first. */
static const gchar *
first_name (MbBalancer *balancer, const MbBackendSpec *specs, const guint *live, guint64 key)
{
  guint order[MAX_BACKENDS];

  mb_balancer_plan (balancer, live, key, order);
  return specs[order[0]].name;
}

static const guint identity[] = { 0, 1, 2, 3, 4, 5, 6, 7 };

/* Runs K plans on a balancer over names[0 .. n) in order, then carries it
 * into one over the same backends in the order WHICH (the old one freed at
 * once), and checks that the next plans pick the backends, by name, that
 * an uninterrupted twin picks.  LIVE is in the order of names[]. */
static void
assert_carry_goes_on (MbBalance algorithm, guint n, const guint *weights,
                      const guint *which, guint k, const guint *live)
{
  MbBackendSpec straight[MAX_BACKENDS] = { { 0 } }, moved[MAX_BACKENDS] = { { 0 } };
  guint moved_live[MAX_BACKENDS];
  g_autoptr(MbBalancer) twin = NULL;
  g_autoptr(MbBalancer) carried = NULL;
  MbBalancer *before;

  specs_in_order (straight, identity, n, weights, NULL);
  specs_in_order (moved, which, n, weights, NULL);
  for (guint j = 0; live != NULL && j < n; j++)
    moved_live[j] = live[which[j]];
  twin = mb_balancer_new (algorithm, straight, n);
  before = mb_balancer_new (algorithm, straight, n);
  mb_balancer_set_seed (twin, 7);
  mb_balancer_set_seed (before, 7);
  for (guint i = 0; i < k; i++)
    {
      const gchar *name = first_name (twin, straight, live, spread_key (i));

      ck_assert_str_eq (first_name (before, straight, live, spread_key (i)), name);
    }
  carried = mb_balancer_new_from (before, algorithm, moved, n, NULL);
  ck_assert_ptr_nonnull (carried);
  mb_balancer_free (before);
  for (guint i = k; i < k + 200; i++)
    {
      const gchar *expected = first_name (twin, straight, live, spread_key (i));
      const gchar *name = first_name (carried, moved, live != NULL ? moved_live : NULL,
                                      spread_key (i));

      ck_assert_msg (strcmp (name, expected) == 0, "k %u, plan %u after the reload: %s, expected %s",
                     k, i - k, name, expected);
    }
}

/* Round-robin goes on by name across a reload that reorders the backends,
 * from any point of its cycle: equal weights, whose ties the new order
 * would break otherwise, and weights 3:1:1. */
START_TEST (test_carry_round_robin)
{
  const guint reversed[] = { 3, 2, 1, 0 }, rotated[] = { 1, 2, 3, 0 };
  const guint three_one_one[] = { 3, 1, 1 };
  const guint cba[] = { 2, 1, 0 }, bca[] = { 1, 2, 0 }, acb[] = { 0, 2, 1 };

  for (guint k = 0; k <= 10; k++)
    {
      assert_carry_goes_on (MB_BALANCE_ROUND_ROBIN, 4, NULL, reversed, k, NULL);
      assert_carry_goes_on (MB_BALANCE_ROUND_ROBIN, 4, NULL, rotated, k, NULL);
      assert_carry_goes_on (MB_BALANCE_ROUND_ROBIN, 4, NULL, identity, k, NULL);
      assert_carry_goes_on (MB_BALANCE_ROUND_ROBIN, 3, three_one_one, cba, k, NULL);
      assert_carry_goes_on (MB_BALANCE_ROUND_ROBIN, 3, three_one_one, bca, k, NULL);
      assert_carry_goes_on (MB_BALANCE_ROUND_ROBIN, 3, three_one_one, acb, k, NULL);
    }
}
END_TEST

/* Many reloads in a row, each reordering the backends at random, against
 * a balancer that had none. */
START_TEST (test_carry_round_robin_many_reloads)
{
  const guint weights[] = { 2, 1, 3, 1, 2, 1 };
  const guint n = G_N_ELEMENTS (weights);
  MbBackendSpec straight[MAX_BACKENDS] = { { 0 } }, moved[MAX_BACKENDS] = { { 0 } };
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  g_autoptr(MbBalancer) twin = NULL;
  g_autoptr(MbBalancer) carried = NULL;

  specs_in_order (straight, identity, n, weights, NULL);
  twin = mb_balancer_new (MB_BALANCE_ROUND_ROBIN, straight, n);
  carried = mb_balancer_new (MB_BALANCE_ROUND_ROBIN, straight, n);
  memcpy (moved, straight, sizeof straight);
  for (guint reload = 0; reload < 300; reload++)
    {
      guint which[MAX_BACKENDS];
      guint plans = (guint) g_rand_int_range (rand, 0, 12);
      MbBalancer *before = carried;

      for (guint i = 0; i < plans; i++)
        ck_assert_str_eq (first_name (carried, moved, NULL, 0),
                          first_name (twin, straight, NULL, 0));
      for (guint j = 0; j < n; j++)
        which[j] = j;
      for (guint j = n - 1; j > 0; j--)
        {
          guint other = (guint) g_rand_int_range (rand, 0, (gint32) j + 1), keep = which[j];

          which[j] = which[other];
          which[other] = keep;
        }
      specs_in_order (moved, which, n, weights, NULL);
      carried = mb_balancer_new_from (before, MB_BALANCE_ROUND_ROBIN, moved, n, NULL);
      mb_balancer_free (before);
    }
}
END_TEST

/* Backends added, removed or moved outside the pick group (backups while
 * the primaries serve) leave it the same: the sequence goes on. */
START_TEST (test_carry_round_robin_outside_the_group)
{
  const guint before_which[] = { 0, 1, 2, 3 };      /* alpha bravo charlie (delta) */
  const guint after_which[] = { 4, 2, 1, 3, 0 };    /* (echo) charlie bravo (delta) alpha */
  const gboolean backup[N_NAMES] = { [3] = TRUE, [4] = TRUE };
  MbBackendSpec before_specs[MAX_BACKENDS] = { { 0 } }, after_specs[MAX_BACKENDS] = { { 0 } };
  g_autoptr(MbBalancer) before = NULL;
  g_autoptr(MbBalancer) after = NULL;

  specs_in_order (before_specs, before_which, 4, NULL, backup);
  specs_in_order (after_specs, after_which, 5, NULL, backup);
  before = mb_balancer_new (MB_BALANCE_ROUND_ROBIN, before_specs, 4);
  ck_assert_str_eq (first_name (before, before_specs, NULL, 0), "alpha");
  after = mb_balancer_new_from (before, MB_BALANCE_ROUND_ROBIN, after_specs, 5, NULL);
  ck_assert_str_eq (first_name (after, after_specs, NULL, 0), "bravo");
  ck_assert_str_eq (first_name (after, after_specs, NULL, 0), "charlie");
  ck_assert_str_eq (first_name (after, after_specs, NULL, 0), "alpha");
  /* The plan follows the new list: the tier (charlie bravo alpha) from
   * the pick, then the backups in their new order. */
  PLAN_IS (after, 2, 4, 1, 0, 3);
}
END_TEST

/* A different pick group starts round-robin over, in the new order, as a
 * change of the tier does: a backend added to it, one removed, a weight
 * changed, a backup flag changed while the group's names stay. */
START_TEST (test_carry_round_robin_other_group)
{
  const guint abc[] = { 0, 1, 2 }, abcd[] = { 0, 1, 2, 3 }, cb[] = { 2, 1 };
  const guint weights[] = { 2, 1, 1 };
  const gboolean backup[N_NAMES] = { TRUE, TRUE };
  const gboolean charlie_down[] = { FALSE, FALSE, TRUE };
  MbBackendSpec old_specs[MAX_BACKENDS] = { { 0 } }, specs[MAX_BACKENDS] = { { 0 } };

  specs_in_order (old_specs, abc, 3, NULL, NULL);
  for (guint change = 0; change < 4; change++)
    {
      g_autoptr(MbBalancer) before = mb_balancer_new (MB_BALANCE_ROUND_ROBIN, old_specs, 3);
      g_autoptr(MbBalancer) after = NULL;
      g_autoptr(MbBalancer) fresh = NULL;
      const gboolean *down = NULL;
      guint n = 3;

      if (change == 3)
        mb_balancer_set_down (before, 2, TRUE);
      /* The next would be bravo. */
      ck_assert_str_eq (first_name (before, old_specs, NULL, 0), "alpha");
      switch (change)
        {
        case 0:
          specs_in_order (specs, abcd, n = 4, NULL, NULL);
          break;
        case 1:
          specs_in_order (specs, cb, n = 2, NULL, NULL);
          break;
        case 2:
          specs_in_order (specs, abc, n, weights, NULL);
          break;
        default:
          /* alpha and bravo, now backups, are the tier still, as charlie
           * is down. */
          specs_in_order (specs, abc, n, NULL, backup);
          down = charlie_down;
          break;
        }
      after = mb_balancer_new_from (before, MB_BALANCE_ROUND_ROBIN, specs, n, down);
      fresh = mb_balancer_new_from (NULL, MB_BALANCE_ROUND_ROBIN, specs, n, down);
      for (guint i = 0; i < 20; i++)
        ck_assert_str_eq (first_name (after, specs, NULL, 0), first_name (fresh, specs, NULL, 0));
      if (change != 1)
        {
          g_autoptr(MbBalancer) again = mb_balancer_new_from (before, MB_BALANCE_ROUND_ROBIN, specs, n, down);

          ck_assert_str_eq (first_name (again, specs, NULL, 0), "alpha");
        }
    }
}
END_TEST

/* DOWN gives the new balancer its down states from the start: a backend
 * down before the reload stays out of the tier (last in every plan), and
 * the pick group being the same, the sequence goes on. */
START_TEST (test_carry_down)
{
  const guint reversed[] = { 3, 2, 1, 0 };
  const gboolean down[] = { FALSE, FALSE, TRUE, FALSE };  /* bravo, in the new order */
  const guint up[] = { 0, 1, 3 }, bravo[] = { 2 };
  MbBackendSpec straight[MAX_BACKENDS] = { { 0 } }, moved[MAX_BACKENDS] = { { 0 } };
  g_autoptr(MbBalancer) twin = NULL;
  g_autoptr(MbBalancer) before = NULL;
  g_autoptr(MbBalancer) after = NULL;
  g_autoptr(MbBalancer) all_up = NULL;

  specs_in_order (straight, identity, 4, NULL, NULL);
  specs_in_order (moved, reversed, 4, NULL, NULL);
  twin = mb_balancer_new (MB_BALANCE_ROUND_ROBIN, straight, 4);
  before = mb_balancer_new (MB_BALANCE_ROUND_ROBIN, straight, 4);
  mb_balancer_set_down (twin, 1, TRUE);
  mb_balancer_set_down (before, 1, TRUE);
  for (guint i = 0; i < 4; i++)
    ck_assert_str_eq (first_name (before, straight, NULL, 0), first_name (twin, straight, NULL, 0));

  after = mb_balancer_new_from (before, MB_BALANCE_ROUND_ROBIN, moved, 4, down);
  ck_assert (mb_balancer_is_down (after, 2));
  ck_assert (!mb_balancer_is_down (after, 0));
  for (guint i = 0; i < 30; i++)
    {
      guint picked = pick_in (after, NULL, 0, up, 3, bravo, 1);

      ck_assert_str_eq (moved[picked].name, first_name (twin, straight, NULL, 0));
    }

  /* Without DOWN, bravo is up: another pick group, started over. */
  all_up = mb_balancer_new_from (before, MB_BALANCE_ROUND_ROBIN, moved, 4, NULL);
  ck_assert (!mb_balancer_is_down (all_up, 2));
  PLAN_IS (all_up, 0, 1, 2, 3);
  PLAN_IS (all_up, 1, 2, 3, 0);
}
END_TEST

/* Source-hash keeps its table across a reload with the same pick group:
 * every client keeps its backend, by name, and no table is built; one not
 * built yet is built in the first plan. */
START_TEST (test_carry_source_hash)
{
  const guint weights[N_NAMES] = { 1, 2, 1, 3, 1 };
  const guint reversed[] = { 4, 3, 2, 1, 0 };
  MbBackendSpec straight[MAX_BACKENDS] = { { 0 } }, moved[MAX_BACKENDS] = { { 0 } };
  g_autoptr(MbBalancer) fresh = NULL;
  g_autofree guint *before = g_new (guint, DRAWS);
  g_autofree guint *after = g_new (guint, DRAWS);
  g_autofree guint *rebuilt = g_new (guint, DRAWS);

  specs_in_order (straight, identity, 5, weights, NULL);
  specs_in_order (moved, reversed, 5, weights, NULL);
  fresh = mb_balancer_new (MB_BALANCE_SOURCE_HASH, moved, 5);
  map_clients (fresh, rebuilt);
  for (guint built = 0; built < 2; built++)
    for (guint order = 0; order < 2; order++)
      {
        const MbBackendSpec *specs = order == 0 ? straight : moved;
        const guint *which = order == 0 ? identity : reversed;
        MbBalancer *old = mb_balancer_new (MB_BALANCE_SOURCE_HASH, straight, 5);
        g_autoptr(MbBalancer) carried = NULL;

        if (built)
          map_clients (old, before);
        carried = mb_balancer_new_from (old, MB_BALANCE_SOURCE_HASH, specs, 5, NULL);
        if (!built)
          map_clients (old, before);
        mb_balancer_free (old);
        map_clients (carried, after);
        ck_assert_uint_eq (carried->rebuilds, built ? 0 : 1);
        for (guint i = 0; i < DRAWS; i++)
          {
            expect (strcmp (specs[after[i]].name, straight[before[i]].name) == 0,
                    "client %u: %s, before the reload %s", i,
                    specs[after[i]].name, straight[before[i]].name);
            expect (which[after[i]] == before[i], "client %u", i);
            if (order == 1)
              expect (after[i] == rebuilt[i], "client %u: carried %u, built %u", i,
                      after[i], rebuilt[i]);
          }
      }
}
END_TEST

/* With a backend down on both sides (DOWN), still no table is built; a
 * backend added to the group makes the new table of a fresh balancer. */
START_TEST (test_carry_source_hash_down_and_added)
{
  const guint four[] = { 0, 1, 2, 3 }, five[] = { 4, 3, 2, 1, 0 };
  const gboolean charlie_down[] = { FALSE, FALSE, TRUE, FALSE, FALSE };
  MbBackendSpec old_specs[MAX_BACKENDS] = { { 0 } }, specs[MAX_BACKENDS] = { { 0 } };
  g_autoptr(MbBalancer) old = NULL;
  g_autoptr(MbBalancer) carried = NULL;
  g_autoptr(MbBalancer) added = NULL;
  g_autoptr(MbBalancer) fresh = NULL;
  g_autofree guint *before = g_new (guint, DRAWS);
  g_autofree guint *after = g_new (guint, DRAWS);
  g_autofree guint *expected = g_new (guint, DRAWS);

  specs_in_order (old_specs, four, 4, NULL, NULL);
  specs_in_order (specs, four, 4, NULL, NULL);
  old = mb_balancer_new (MB_BALANCE_SOURCE_HASH, old_specs, 4);
  mb_balancer_set_down (old, 2, TRUE);
  map_clients (old, before);
  carried = mb_balancer_new_from (old, MB_BALANCE_SOURCE_HASH, specs, 4, charlie_down);
  map_clients (carried, after);
  ck_assert_uint_eq (carried->rebuilds, 0);
  ck_assert (memcmp (before, after, DRAWS * sizeof *before) == 0);

  specs_in_order (specs, five, 5, NULL, NULL);
  added = mb_balancer_new_from (old, MB_BALANCE_SOURCE_HASH, specs, 5, NULL);
  fresh = mb_balancer_new (MB_BALANCE_SOURCE_HASH, specs, 5);
  map_clients (added, after);
  map_clients (fresh, expected);
  ck_assert_uint_eq (added->rebuilds, 1);
  ck_assert (memcmp (expected, after, DRAWS * sizeof *after) == 0);
}
END_TEST

/* Least-connections has no counts to carry; its turn among equally loaded
 * backends goes on from the same backend. */
START_TEST (test_carry_least_connections)
{
  const guint live[] = { 2, 1, 1, 1 };
  const guint reversed[] = { 3, 2, 1, 0 };
  MbBackendSpec moved[MAX_BACKENDS] = { { 0 } };
  g_autoptr(MbBalancer) after = NULL;

  for (guint k = 0; k <= 6; k++)
    assert_carry_goes_on (MB_BALANCE_LEAST_CONNECTIONS, 4, NULL, identity, k, live);

  {
    MbBackendSpec straight[MAX_BACKENDS] = { { 0 } };
    g_autoptr(MbBalancer) before = NULL;

    specs_in_order (straight, identity, 4, NULL, NULL);
    specs_in_order (moved, reversed, 4, NULL, NULL);
    before = mb_balancer_new (MB_BALANCE_LEAST_CONNECTIONS, straight, 4);
    ck_assert_str_eq (first_name (before, straight, NULL, 0), "alpha");
    ck_assert_str_eq (first_name (before, straight, NULL, 0), "bravo");
    after = mb_balancer_new_from (before, MB_BALANCE_LEAST_CONNECTIONS, moved, 4, NULL);
  }
  /* charlie next, then on in the new order. */
  ck_assert_str_eq (first_name (after, moved, NULL, 0), "charlie");
  ck_assert_str_eq (first_name (after, moved, NULL, 0), "bravo");
  ck_assert_str_eq (first_name (after, moved, NULL, 0), "alpha");
  ck_assert_str_eq (first_name (after, moved, NULL, 0), "delta");
}
END_TEST

/* Random-two's generator goes on: with the group in the same order, the
 * same picks as without the reload. */
START_TEST (test_carry_random_two)
{
  const guint live[] = { 3, 1, 4, 1, 5, 9 };
  const guint equal[] = { 2, 2, 2, 2, 2, 2 };
  const guint weights[] = { 1, 2, 1, 2, 1, 2 };

  for (guint k = 0; k <= 40; k += 8)
    {
      assert_carry_goes_on (MB_BALANCE_RANDOM_TWO, 6, NULL, identity, k, live);
      assert_carry_goes_on (MB_BALANCE_RANDOM_TWO, 6, NULL, identity, k, equal);
      assert_carry_goes_on (MB_BALANCE_RANDOM_TWO, 6, weights, identity, k, equal);
    }
}
END_TEST

/* Source-hash over the same backends, whatever the order: the carry
 * helper's own check, for every k. */
START_TEST (test_carry_source_hash_goes_on)
{
  const guint rotated[] = { 2, 3, 4, 0, 1 };
  const guint weights[] = { 3, 1, 2, 1, 1 };

  assert_carry_goes_on (MB_BALANCE_SOURCE_HASH, 5, weights, rotated, 7, NULL);
  assert_carry_goes_on (MB_BALANCE_SOURCE_HASH, 5, NULL, identity, 7, NULL);
}
END_TEST

/* Names are what a reload matches on, so twins (the balancer allows them;
 * a configuration never has them) match nothing: another pick group, a
 * table of its own. */
START_TEST (test_carry_twins)
{
  const MbBackendSpec two[] = { { "alpha", 1, FALSE, FALSE }, { "bravo", 1, FALSE, FALSE } };
  const MbBackendSpec twins[] = { { "alpha", 1, FALSE, FALSE }, { "alpha", 1, FALSE, FALSE } };
  const MbBackendSpec *from[] = { two, twins }, *to[] = { twins, two };

  for (guint t = 0; t < 2; t++)
    {
      g_autoptr(MbBalancer) old = mb_balancer_new (MB_BALANCE_SOURCE_HASH, from[t], 2);
      g_autoptr(MbBalancer) carried = NULL;
      g_autofree guint *where = g_new (guint, DRAWS);

      map_clients (old, where);
      carried = mb_balancer_new_from (old, MB_BALANCE_SOURCE_HASH, to[t], 2, NULL);
      for (guint k = 0; k < 1000; k++)
        pick_all (carried, NULL, spread_key (k), 2);
      ck_assert_uint_eq (carried->rebuilds, 1);
    }
}
END_TEST

/* Another algorithm: a fresh balancer, nothing carried. */
START_TEST (test_carry_other_algorithm)
{
  MbBackendSpec specs[MAX_BACKENDS] = { { 0 } };
  g_autoptr(MbBalancer) rr = NULL;
  g_autoptr(MbBalancer) sh = NULL;
  g_autoptr(MbBalancer) fresh = NULL;
  g_autoptr(MbBalancer) back = NULL;
  g_autofree guint *where = g_new (guint, DRAWS);
  g_autofree guint *expected = g_new (guint, DRAWS);

  specs_in_order (specs, identity, 4, NULL, NULL);
  rr = mb_balancer_new (MB_BALANCE_ROUND_ROBIN, specs, 4);
  PLAN_IS (rr, 0, 1, 2, 3);
  sh = mb_balancer_new_from (rr, MB_BALANCE_SOURCE_HASH, specs, 4, NULL);
  fresh = mb_balancer_new (MB_BALANCE_SOURCE_HASH, specs, 4);
  map_clients (sh, where);
  map_clients (fresh, expected);
  ck_assert_uint_eq (sh->rebuilds, 1);
  ck_assert (memcmp (where, expected, DRAWS * sizeof *where) == 0);
  back = mb_balancer_new_from (sh, MB_BALANCE_ROUND_ROBIN, specs, 4, NULL);
  PLAN_IS (back, 0, 1, 2, 3);
  PLAN_IS (back, 1, 2, 3, 0);
}
END_TEST

static Suite *
balancer_suite (void)
{
  Suite *suite = suite_create ("balancer");
  TCase *rr = tcase_create ("round-robin");
  TCase *tiers = tcase_create ("tiers");
  TCase *lc = tcase_create ("least-connections");
  TCase *r2 = tcase_create ("random-two");
  TCase *sh = tcase_create ("source-hash");
  TCase *weights = tcase_create ("weights");
  TCase *reload = tcase_create ("reload");

  tcase_add_test (rr, test_round_robin_order);
  tcase_add_test (rr, test_round_robin_failover_order);
  tcase_add_test (rr, test_round_robin_weighted);
  tcase_add_test (rr, test_round_robin_shares);
  tcase_add_test (rr, test_round_robin_down);
  tcase_add_test (rr, test_round_robin_down_equal);
  tcase_add_test (rr, test_round_robin_backup_change_keeps_sequence);
  suite_add_tcase (suite, rr);

  tcase_add_test (tiers, test_backup_after_the_primaries);
  tcase_add_test (tiers, test_down_primary_after_the_backups);
  tcase_add_test (tiers, test_primaries_down_backups_up);
  tcase_add_test (tiers, test_backups);
  tcase_add_test (tiers, test_all_down_only_backups);
  tcase_add_test (tiers, test_every_algorithm_plans_every_backend);
  tcase_add_test (tiers, test_plans_follow_random_changes);
  tcase_add_test (tiers, test_excluded_not_in_plans);
  tcase_add_test (tiers, test_all_excluded);
  suite_add_tcase (suite, tiers);

  tcase_add_test (lc, test_least_connections);
  tcase_add_test (lc, test_least_connections_weighted);
  tcase_add_test (lc, test_least_connections_ties_rotate);
  tcase_add_test (lc, test_least_connections_down);
  suite_add_tcase (suite, lc);

  tcase_add_test (r2, test_random_two_distribution);
  tcase_add_test (r2, test_random_two_weighted);
  tcase_add_test (r2, test_random_two_seeded);
  tcase_add_test (r2, test_random_two_one_eligible);
  suite_add_tcase (suite, r2);

  tcase_add_test (sh, test_hash_address);
  tcase_add_test (sh, test_source_hash_stable_and_even);
  tcase_add_test (sh, test_source_hash_keys_on_names);
  tcase_add_test (sh, test_source_hash_down_and_up);
  tcase_add_test (sh, test_source_hash_weighted);
  tcase_add_test (sh, test_source_hash_excluded);
  suite_add_tcase (suite, sh);

  tcase_add_test (weights, test_set_weight_round_robin);
  tcase_add_test (weights, test_set_weight_outside_the_tier);
  tcase_add_test (weights, test_set_weight_source_hash);
  suite_add_tcase (suite, weights);

  tcase_add_test (reload, test_carry_round_robin);
  tcase_add_test (reload, test_carry_round_robin_many_reloads);
  tcase_add_test (reload, test_carry_round_robin_outside_the_group);
  tcase_add_test (reload, test_carry_round_robin_other_group);
  tcase_add_test (reload, test_carry_down);
  tcase_add_test (reload, test_carry_source_hash);
  tcase_add_test (reload, test_carry_source_hash_down_and_added);
  tcase_add_test (reload, test_carry_source_hash_goes_on);
  tcase_add_test (reload, test_carry_least_connections);
  tcase_add_test (reload, test_carry_random_two);
  tcase_add_test (reload, test_carry_twins);
  tcase_add_test (reload, test_carry_other_algorithm);
  suite_add_tcase (suite, reload);
  return suite;
}

RUN_SUITE (balancer_suite)
