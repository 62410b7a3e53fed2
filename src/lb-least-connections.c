/* lb-least-connections.c - the fewest live sessions relative to weight.
 *
 * The live counts come from the caller at each pick: the balancer keeps
 * none, so it cannot drift from the sessions that really exist.  Among
 * equally loaded members the scan starts after the previous pick, so they
 * take turns; starting at the first member every time would pile every
 * burst of connections that arrive before the counts move (or every
 * connection, on a short-lived load) onto one backend.
 *
 * So a reload has no counts to carry; with the same pick group only the
 * turn goes on: the scan starts at the same backend, then goes in the new
 * index order.
 */
#include "build-config.h"

#include "lb-algorithm.h"

typedef struct {
  guint start;              /* position in the pick group where the scan begins */
} LeastConnections;

static gpointer
least_connections_new (const MbBalancer *balancer)
{
  return g_new0 (LeastConnections, 1);
}

static void
least_connections_free (gpointer state)
{
  g_free (state);
}

static void
least_connections_tier_changed (MbBalancer *balancer)
{
  LeastConnections *lc = balancer->state;

  /* Positions now name other backends: any start is as fair as another. */
  lc->start %= balancer->n_pick;
}

static void
least_connections_carry (MbBalancer *balancer, const MbBalancer *old, const guint *old_index)
{
  LeastConnections *lc = balancer->state;
  const LeastConnections *was = old->state;
  guint next = old->tier[was->start];

  lc->start = 0;
  for (guint p = 0; p < balancer->n_pick; p++)
    if (old_index[balancer->tier[p]] == next)
      lc->start = p;
}

static guint
least_connections_pick (MbBalancer *balancer, const guint *live, guint64 key)
{
  LeastConnections *lc = balancer->state;
  guint n = balancer->n_pick;
  guint best = lc->start;

  for (guint step = 1; step < n; step++)
    {
      guint p = (lc->start + step) % n;

      if (mb_lb_compare_load (balancer, live, balancer->tier[p], balancer->tier[best]) < 0)
        best = p;
    }
  lc->start = (best + 1) % n;
  return best;
}

const MbLbAlgorithm mb_lb_least_connections = {
  .state_new = least_connections_new,
  .state_free = least_connections_free,
  .tier_changed = least_connections_tier_changed,
  .carry = least_connections_carry,
  .pick = least_connections_pick,
};
