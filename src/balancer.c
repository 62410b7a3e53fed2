/* balancer.c - the eligible tier and the plan; see balancer.h.
 *
 * The tier, and the order of the backends outside it, are worked out again
 * only when a backend goes down or up, so a plan costs the pick and a copy.
 * The algorithm is told only when the pick group itself changed: marking a
 * backup down while the primaries serve moves it within the plan's tail but
 * must not restart round-robin or make source-hash rebuild its table.
 *
 * A balancer made on a reload (mb_balancer_new_from) takes its down states
 * before its first ranking, so its tier is right from the start, and is
 * matched against the old one by name: with the same pick group, the
 * algorithm carries its state over instead of starting over.
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

/* Appends to RANKED, from position AT, the backups or the non-backups
 * (BACKUP) that are down or up (DOWN); returns the new length. */
static guint
collect (const MbBalancer *balancer, guint *ranked, guint at, gboolean backup, gboolean down)
{
  for (guint i = 0; i < balancer->n; i++)
    {
      const MbLbBackend *backend = &balancer->backends[i];

      if (backend->backup == backup && backend->down == down && !backend->excluded)
        ranked[at++] = i;
    }
  return at;
}

/* Fills RANKED with every backend in the order of balancer.h: the up
 * non-backups, the up backups, the down non-backups, the down backups, each
 * group in index order; the first group that is not empty is the eligible
 * tier, and N_PICK says how long it is.  A plan is this order with the
 * tier rotated to start at the pick. */
static void
rank (const MbBalancer *balancer, guint *ranked, guint *n_pick, guint *n_ranked)
{
  static const struct {
    gboolean backup, down;
  } groups[] = {
    { FALSE, FALSE }, { TRUE, FALSE }, { FALSE, TRUE }, { TRUE, TRUE },
  };
  guint n = 0;

  *n_pick = 0;
  for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
    {
      n = collect (balancer, ranked, n, groups[g].backup, groups[g].down);
      if (*n_pick == 0)
        *n_pick = n;
    }
  *n_ranked = n;
}

/* The pick group changed: the algorithm forgets its old one (not while it
 * is empty: every backend excluded; it is told when there is one again). */
static void
tell_tier_changed (MbBalancer *balancer)
{
  if (balancer->n_pick > 0 && balancer->algorithm->tier_changed != NULL)
    balancer->algorithm->tier_changed (balancer);
}

/* Whether backend INDEX is in the pick group, tier[0 .. n_pick), which is
 * in ascending index order. */
static gboolean
in_pick_group (const MbBalancer *balancer, guint index)
{
  guint low = 0, high = balancer->n_pick;

  while (low < high)
    {
      guint middle = low + (high - low) / 2;

      if (balancer->tier[middle] == index)
        return TRUE;
      if (balancer->tier[middle] < index)
        low = middle + 1;
      else
        high = middle;
    }
  return FALSE;
}

/* Maps each name of BACKENDS (N) to its index + 1, or to 0 when the name
 * is there twice: twins cannot be told apart across a reload. */
static GHashTable *
index_names (const MbLbBackend *backends, guint n)
{
  GHashTable *names = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < n; i++)
    {
      gpointer value = GUINT_TO_POINTER (i + 1);

      if (g_hash_table_contains (names, backends[i].name))
        value = GUINT_TO_POINTER (0);
      g_hash_table_insert (names, backends[i].name, value);
    }
  return names;
}

/* Fills OLD_INDEX[i] with the index in OLD of the backend named as
 * BALANCER's backend i, or MB_LB_NONE: none there, or the name is not
 * unique in one of them (the configuration never has twins; the balancer
 * allows them). */
static void
match_names (const MbBalancer *old, const MbBalancer *balancer, guint *old_index)
{
  g_autoptr(GHashTable) in_old = index_names (old->backends, old->n);
  g_autoptr(GHashTable) in_new = index_names (balancer->backends, balancer->n);

  for (guint i = 0; i < balancer->n; i++)
    {
      const gchar *name = balancer->backends[i].name;
      guint was = GPOINTER_TO_UINT (g_hash_table_lookup (in_old, name));

      if (was == 0 || GPOINTER_TO_UINT (g_hash_table_lookup (in_new, name)) == 0)
        old_index[i] = MB_LB_NONE;
      else
        old_index[i] = was - 1;
    }
}

/* Whether OLD and BALANCER pick in the same group: the same names with the
 * same weights and backup flags, whatever their indices.  OLD_INDEX maps
 * one to one (match_names), so equal sizes and every member of BALANCER's
 * group matched in OLD's make the groups equal. */
static gboolean
same_pick_group (const MbBalancer *old, const MbBalancer *balancer, const guint *old_index)
{
  if (old->n_pick != balancer->n_pick || balancer->n_pick == 0)
    return FALSE;
  for (guint p = 0; p < balancer->n_pick; p++)
    {
      guint i = balancer->tier[p], was = old_index[i];

      if (was == MB_LB_NONE || !in_pick_group (old, was)
          || old->backends[was].weight != balancer->backends[i].weight
          || old->backends[was].backup != balancer->backends[i].backup)
        return FALSE;
    }
  return TRUE;
}

MbBalancer *
mb_balancer_new (MbBalance algorithm, const MbBackendSpec *backends, guint n)
{
  return mb_balancer_new_from (NULL, algorithm, backends, n, NULL);
}

MbBalancer *
mb_balancer_new_from (const MbBalancer *old, MbBalance algorithm,
                      const MbBackendSpec *backends, guint n, const gboolean *down)
{
  const MbLbAlgorithm *chosen = algorithm_for (algorithm);
  gboolean goes_on;
  MbBalancer *balancer;

  g_return_val_if_fail (chosen != NULL, NULL);
  g_return_val_if_fail (backends != NULL && n > 0, NULL);
  for (guint i = 0; i < n; i++)
    {
      g_return_val_if_fail (backends[i].name != NULL, NULL);
      g_return_val_if_fail (backends[i].weight >= 1, NULL);
      g_return_val_if_fail (backends[i].weight <= MB_BALANCER_MAX_WEIGHT, NULL);
    }
  goes_on = old != NULL && old->algorithm == chosen;

  balancer = g_new0 (MbBalancer, 1);
  balancer->algorithm = chosen;
  balancer->n = n;
  balancer->backends = g_new0 (MbLbBackend, n);
  for (guint i = 0; i < n; i++)
    {
      balancer->backends[i].name = g_strdup (backends[i].name);
      balancer->backends[i].weight = backends[i].weight;
      balancer->backends[i].backup = backends[i].backup;
      balancer->backends[i].down = down != NULL && down[i];
      balancer->backends[i].excluded = backends[i].excluded;
    }
  balancer->tier = g_new (guint, n);
  balancer->spare_tier = g_new (guint, n);
  /* The draws go on through a reload as through a tier change.  A fresh
   * generator comes from the process-wide one, which reads /dev/urandom
   * once, rather than g_rand_new(), which would read it for every
   * balancer. */
  if (goes_on)
    balancer->rand = g_rand_copy (old->rand);
  else
    balancer->rand = g_rand_new_with_seed (g_random_int ());
  if (chosen->state_new != NULL)
    balancer->state = chosen->state_new (balancer);
  rank (balancer, balancer->tier, &balancer->n_pick, &balancer->n_ranked);

  if (goes_on && chosen->carry != NULL)
    {
      g_autofree guint *old_index = g_new (guint, n);

      match_names (old, balancer, old_index);
      if (same_pick_group (old, balancer, old_index))
        {
          chosen->carry (balancer, old, old_index);
          return balancer;
        }
    }
  tell_tier_changed (balancer);
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

/* A backend's down or excluded state changed: the order again, and the
 * algorithm told if the pick group changed with it. */
static void
rerank (MbBalancer *balancer)
{
  guint *ranked, n_pick, n_ranked;
  gboolean tier_changed;

  /* The backend moved in the order in any case; the tier may be the same. */
  ranked = balancer->spare_tier;
  rank (balancer, ranked, &n_pick, &n_ranked);
  tier_changed = n_pick != balancer->n_pick
                 || memcmp (ranked, balancer->tier, n_pick * sizeof *ranked) != 0;
  balancer->spare_tier = balancer->tier;
  balancer->tier = ranked;
  balancer->n_pick = n_pick;
  balancer->n_ranked = n_ranked;
  if (tier_changed)
    tell_tier_changed (balancer);
}

void
mb_balancer_set_down (MbBalancer *balancer, guint index, gboolean down)
{
  g_return_if_fail (balancer != NULL && index < balancer->n);

  if (balancer->backends[index].down == !!down)
    return;
  balancer->backends[index].down = !!down;
  rerank (balancer);
}

void
mb_balancer_set_excluded (MbBalancer *balancer, guint index, gboolean excluded)
{
  g_return_if_fail (balancer != NULL && index < balancer->n);

  if (balancer->backends[index].excluded == !!excluded)
    return;
  balancer->backends[index].excluded = !!excluded;
  rerank (balancer);
}

void
mb_balancer_set_weight (MbBalancer *balancer, guint index, guint weight)
{
  g_return_if_fail (balancer != NULL && index < balancer->n);
  g_return_if_fail (weight >= 1 && weight <= MB_BALANCER_MAX_WEIGHT);

  if (balancer->backends[index].weight == weight)
    return;
  balancer->backends[index].weight = weight;
  /* Outside the pick group the weight counts from when the backend joins
   * it, which is a change of the group anyway. */
  if (in_pick_group (balancer, index))
    tell_tier_changed (balancer);
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

  if (balancer->n_pick == 0)
    return 0;   /* every backend excluded */
  first = balancer->algorithm->pick (balancer, live, key);
  for (guint i = first; i < balancer->n_pick; i++)
    order[n++] = balancer->tier[i];
  for (guint i = 0; i < first; i++)
    order[n++] = balancer->tier[i];
  for (guint i = balancer->n_pick; i < balancer->n_ranked; i++)
    order[n++] = balancer->tier[i];
  return n;
}
