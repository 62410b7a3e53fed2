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
 */
#include "build-config.h"

#include "lb-algorithm.h"

typedef struct {
  gint64 *current;          /* per backend index */
  guint n;
} RoundRobin;

static gpointer
round_robin_new (const MbBalancer *balancer)
{
  RoundRobin *rr = g_new0 (RoundRobin, 1);

  rr->current = g_new0 (gint64, balancer->n);
  rr->n = balancer->n;
  return rr;
}

static void
round_robin_free (gpointer state)
{
  RoundRobin *rr = state;

  g_free (rr->current);
  g_free (rr);
}

static void
round_robin_tier_changed (MbBalancer *balancer)
{
  RoundRobin *rr = balancer->state;

  for (guint i = 0; i < rr->n; i++)
    rr->current[i] = 0;
}

static guint
round_robin_pick (MbBalancer *balancer, const guint *live, guint64 key)
{
  RoundRobin *rr = balancer->state;
  gint64 total = 0;
  guint best = 0;

  for (guint p = 0; p < balancer->n_pick; p++)
    {
      guint i = balancer->tier[p];

      rr->current[i] += balancer->backends[i].weight;
      total += balancer->backends[i].weight;
      /* Strictly larger: a tie goes to the earlier member. */
      if (rr->current[i] > rr->current[balancer->tier[best]])
        best = p;
    }
  rr->current[balancer->tier[best]] -= total;
  return best;
}

const MbLbAlgorithm mb_lb_round_robin = {
  .state_new = round_robin_new,
  .state_free = round_robin_free,
  .tier_changed = round_robin_tier_changed,
  .pick = round_robin_pick,
};
