/* lb-round-robin.c - smooth weighted round-robin (nginx's).
 *
 * Every pick adds each member's weight to its current weight, takes the
 * member with the largest current weight (the first in index order on a
 * tie) and takes the total weight off it.  Over the members the current
 * weights then always sum to zero, and each member comes up weight times in
 * every total picks, spread out rather than in a burst: 3:1 gives a a b a,
 * 5:1:1 gives a a b a c a a.  With equal weights the ties make it plain
 * round-robin in index order, which the seed's users rely on.
 *
 * Current weights are dropped when the pick group changes (a member in or
 * out, a member's weight): the zero sum holds for one set of members and
 * weights only, and a member that left with a large current weight would
 * otherwise skew the others' turns until it came back.
 *
 * Across a reload with the same pick group the sequence goes on: each
 * member's current weight is carried by name, and so is the order in
 * which ties go, which is index order only until then.  Equal weights tie
 * at nearly every pick (after a b of a b c, b and c are level): were ties
 * to go by the new indices, a reload that only reorders the backends would
 * send the next client elsewhere.
 */
#include "build-config.h"

#include "lb-algorithm.h"

typedef struct {
  /* Per backend index: */
  gint64 *current;
  guint *tie_rank;          /* of two members with the same current weight,
                             * the one with the lower rank goes: its index,
                             * or after a carry the rank it had before */
  guint n;
} RoundRobin;

static gpointer
round_robin_new (const MbBalancer *balancer)
{
  RoundRobin *rr = g_new0 (RoundRobin, 1);

  rr->current = g_new0 (gint64, balancer->n);
  rr->tie_rank = g_new0 (guint, balancer->n);
  rr->n = balancer->n;
  return rr;
}

static void
round_robin_free (gpointer state)
{
  RoundRobin *rr = state;

  g_free (rr->current);
  g_free (rr->tie_rank);
  g_free (rr);
}

static void
round_robin_tier_changed (MbBalancer *balancer)
{
  RoundRobin *rr = balancer->state;

  for (guint i = 0; i < rr->n; i++)
    {
      rr->current[i] = 0;
      rr->tie_rank[i] = i;
    }
}

static void
round_robin_carry (MbBalancer *balancer, const MbBalancer *old, const guint *old_index)
{
  RoundRobin *rr = balancer->state;
  const RoundRobin *was = old->state;

  /* Outside the group the current weights are zero (dropped at the last
   * change of the group and left alone since) and ranks never count. */
  round_robin_tier_changed (balancer);
  for (guint p = 0; p < balancer->n_pick; p++)
    {
      guint i = balancer->tier[p];

      rr->current[i] = was->current[old_index[i]];
      rr->tie_rank[i] = was->tie_rank[old_index[i]];
    }
}

static guint
round_robin_pick (MbBalancer *balancer, const guint *live, guint64 key)
{
  RoundRobin *rr = balancer->state;
  gint64 total = 0;
  guint best = 0;

  for (guint p = 0; p < balancer->n_pick; p++)
    {
      guint i = balancer->tier[p], b = balancer->tier[best];

      rr->current[i] += balancer->backends[i].weight;
      total += balancer->backends[i].weight;
      /* A tie goes to the lower rank: the earlier member, but after a
       * carry the one that was earlier before it. */
      if (rr->current[i] > rr->current[b]
          || (rr->current[i] == rr->current[b] && rr->tie_rank[i] < rr->tie_rank[b]))
        best = p;
    }
  rr->current[balancer->tier[best]] -= total;
  return best;
}

const MbLbAlgorithm mb_lb_round_robin = {
  .state_new = round_robin_new,
  .state_free = round_robin_free,
  .tier_changed = round_robin_tier_changed,
  .carry = round_robin_carry,
  .pick = round_robin_pick,
};
