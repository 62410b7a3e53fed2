/* balancer.c - the eligible tier and the plan; see balancer.h.
 *
 * The tier is worked out again only when a backend goes down or up, so a
 * plan costs the pick and a copy.  The algorithm is told only when the tier
 * really changed: marking a backup down while the primaries serve must not
 * restart round-robin or make source-hash rebuild its table.
 */
#include "build-config.h"

#include <string.h>

#include "lb-algorithm.h"

static const MbLbAlgorithm *
algorithm_for (MbBalance balance)
{
  switch (balance)
    {
    case MB_BALANCE_ROUND_ROBIN:
      return &mb_lb_round_robin;
    case MB_BALANCE_LEAST_CONNECTIONS:
      return &mb_lb_least_connections;
    case MB_BALANCE_RANDOM_TWO:
      return &mb_lb_random_two;
    case MB_BALANCE_SOURCE_HASH:
      return &mb_lb_source_hash;
    }
  return NULL;
}

/* Appends to TIER, from position AT, the backups or the non-backups (BACKUP),
 * only those up when UP_ONLY; returns the new length. */
static guint
collect (const MbBalancer *balancer, guint *tier, guint at, gboolean backup, gboolean up_only)
{
  for (guint i = 0; i < balancer->n; i++)
    {
      const MbLbBackend *backend = &balancer->backends[i];

      if (backend->backup == backup && !(up_only && backend->down))
        tier[at++] = i;
    }
  return at;
}

/* Fills TIER with the eligible tier (balancer.h) and says how long it is
 * and how much of it the algorithm picks in. */
static void
compute_tier (const MbBalancer *balancer, guint *tier, guint *n_tier, guint *n_pick)
{
  guint n;

  n = collect (balancer, tier, 0, FALSE, TRUE);
  if (n == 0)
    n = collect (balancer, tier, 0, TRUE, TRUE);
  if (n > 0)
    {
      *n_tier = *n_pick = n;
      return;
    }
  /* None is up: every backend, the non-backups first and picked in (the
   * backups, when there are only backups). */
  *n_pick = collect (balancer, tier, 0, FALSE, FALSE);
  *n_tier = collect (balancer, tier, *n_pick, TRUE, FALSE);
  if (*n_pick == 0)
    *n_pick = *n_tier;
}

MbBalancer *
mb_balancer_new (MbBalance algorithm, const MbBackendSpec *backends, guint n)
{
  const MbLbAlgorithm *chosen = algorithm_for (algorithm);
  MbBalancer *balancer;

  g_return_val_if_fail (chosen != NULL, NULL);
  g_return_val_if_fail (backends != NULL && n > 0, NULL);
  for (guint i = 0; i < n; i++)
    {
      g_return_val_if_fail (backends[i].name != NULL, NULL);
      g_return_val_if_fail (backends[i].weight >= 1, NULL);
      g_return_val_if_fail (backends[i].weight <= MB_BALANCER_MAX_WEIGHT, NULL);
    }

  balancer = g_new0 (MbBalancer, 1);
  balancer->algorithm = chosen;
  balancer->n = n;
  balancer->backends = g_new0 (MbLbBackend, n);
  for (guint i = 0; i < n; i++)
    {
      balancer->backends[i].name = g_strdup (backends[i].name);
      balancer->backends[i].weight = backends[i].weight;
      balancer->backends[i].backup = backends[i].backup;
    }
  balancer->tier = g_new (guint, n);
  balancer->spare_tier = g_new (guint, n);
  /* From the process-wide generator, which reads /dev/urandom once, rather
   * than g_rand_new(), which would read it for every balancer. */
  balancer->rand = g_rand_new_with_seed (g_random_int ());
  if (chosen->state_new != NULL)
    balancer->state = chosen->state_new (balancer);
  compute_tier (balancer, balancer->tier, &balancer->n_tier, &balancer->n_pick);
  if (chosen->tier_changed != NULL)
    chosen->tier_changed (balancer);
  return balancer;
}

void
mb_balancer_free (MbBalancer *balancer)
{
  if (balancer == NULL)
    return;
  if (balancer->algorithm->state_free != NULL)
    balancer->algorithm->state_free (balancer->state);
  for (guint i = 0; i < balancer->n; i++)
    g_free (balancer->backends[i].name);
  g_free (balancer->backends);
  g_free (balancer->tier);
  g_free (balancer->spare_tier);
  g_rand_free (balancer->rand);
  g_free (balancer);
}

void
mb_balancer_set_seed (MbBalancer *balancer, guint32 seed)
{
  g_return_if_fail (balancer != NULL);

  g_rand_set_seed (balancer->rand, seed);
}

void
mb_balancer_set_down (MbBalancer *balancer, guint index, gboolean down)
{
  guint *tier, n_tier, n_pick;

  g_return_if_fail (balancer != NULL && index < balancer->n);

  if (balancer->backends[index].down == !!down)
    return;
  balancer->backends[index].down = !!down;

  tier = balancer->spare_tier;
  compute_tier (balancer, tier, &n_tier, &n_pick);
  if (n_tier == balancer->n_tier && n_pick == balancer->n_pick
      && memcmp (tier, balancer->tier, n_tier * sizeof *tier) == 0)
    return;
  balancer->spare_tier = balancer->tier;
  balancer->tier = tier;
  balancer->n_tier = n_tier;
  balancer->n_pick = n_pick;
  if (balancer->algorithm->tier_changed != NULL)
    balancer->algorithm->tier_changed (balancer);
}

gboolean
mb_balancer_is_down (const MbBalancer *balancer, guint index)
{
  g_return_val_if_fail (balancer != NULL && index < balancer->n, FALSE);

  return balancer->backends[index].down;
}

guint
mb_balancer_plan (MbBalancer *balancer, const guint *live, guint64 key, guint *order)
{
  guint first, n = 0;

  g_return_val_if_fail (balancer != NULL && order != NULL, 0);

  first = balancer->algorithm->pick (balancer, live, key);
  for (guint i = first; i < balancer->n_pick; i++)
    order[n++] = balancer->tier[i];
  for (guint i = 0; i < first; i++)
    order[n++] = balancer->tier[i];
  for (guint i = balancer->n_pick; i < balancer->n_tier; i++)
    order[n++] = balancer->tier[i];
  return n;
}
