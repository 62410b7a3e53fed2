/* lb-source-hash.c - consistent hashing of the client's address (Maglev).
 *
 * Maglev (Eisenbud et al., NSDI 2016): a lookup table of a prime number of
 * slots, each naming a member of the pick group; a key goes to the member
 * in slot key mod size, in O(1).  Every backend has its own permutation of
 * the slots (an offset and a step, both from hashes of its name), and the
 * members take turns claiming the next free slot of their permutation
 * until the table is full.  So every member ends up with a near-equal
 * number of slots, and when the group changes, most slots keep their
 * member: a member's permutation does not change, and it claims mostly the
 * same slots (the paper measures a few percent of others' keys moving).
 *
 * A member takes weight turns per round, so its share of the slots follows
 * its weight.  The rounds go through the backends in the order of their
 * name hashes, not of their positions: the table depends only on the
 * names and weights of the members, so reordering backends in the
 * configuration, or another daemon with the same backends, keeps every
 * client where it was.
 *
 * The table is built in the first pick after the pick group changed (a
 * member in or out, a member's weight), rather than at every change: a
 * burst of health changes then costs one build.  A reload that keeps the
 * pick group keeps the table: the slots are copied, their positions
 * translated through the names, not built again; a table not yet built
 * stays to be built.
 */
#include "build-config.h"

#include <string.h>

#include "lb-algorithm.h"

/* Prime, so that every step below it walks all the slots; large enough
 * that shares are even to a fraction of a percent with hundreds of
 * backends. */
#define TABLE_SIZE 65537
#define NONE G_MAXUINT32

#define FNV_OFFSET_BASIS G_GUINT64_CONSTANT (0xcbf29ce484222325)
#define FNV_PRIME G_GUINT64_CONSTANT (0x100000001b3)

typedef struct {
  guint32 *table;           /* TABLE_SIZE positions in the pick group */
  gboolean stale;           /* the tier changed since the table was built */
  /* Per backend index: */
  guint32 *offset, *step;   /* its permutation of the slots */
  guint32 *cursor;          /* while building: the slot it tries next */
  guint32 *position;        /* its position in the pick group, or NONE:
                             * set by a build or a carry, true while the
                             * table is not stale */
  guint64 *name_hash;
  guint *fill_order;        /* backend indices by name hash */
  guint n;
} SourceHash;

/* murmur3's 64-bit finaliser: every input bit reaches every output bit.
 * FNV-1a alone leaves addresses that differ only in their last byte with
 * hashes that differ little, and a table index is the hash modulo a prime. */
static guint64
mix (guint64 x)
{
  x ^= x >> 33;
  x *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= G_GUINT64_CONSTANT (0xc4ceb9fe1a85ec53);
  x ^= x >> 33;
  return x;
}

guint64
mb_balancer_hash_address (const guint8 *bytes, gsize len)
{
  guint64 hash = FNV_OFFSET_BASIS;

  g_return_val_if_fail (bytes != NULL || len == 0, 0);

  for (gsize i = 0; i < len; i++)
    {
      hash ^= bytes[i];
      hash *= FNV_PRIME;
    }
  return mix (hash);
}

static gint
compare_name_hash (gconstpointer a, gconstpointer b, gpointer data)
{
  const SourceHash *sh = data;
  guint i = *(const guint *) a, j = *(const guint *) b;

  if (sh->name_hash[i] != sh->name_hash[j])
    return sh->name_hash[i] < sh->name_hash[j] ? -1 : 1;
  /* Same name (or a collision): positions decide, the only tie left. */
  return i < j ? -1 : i > j;
}

static gpointer
source_hash_new (const MbBalancer *balancer)
{
  SourceHash *sh = g_new0 (SourceHash, 1);
  guint n = balancer->n;

  sh->n = n;
  sh->table = g_new (guint32, TABLE_SIZE);
  sh->offset = g_new (guint32, n);
  sh->step = g_new (guint32, n);
  sh->cursor = g_new (guint32, n);
  sh->position = g_new (guint32, n);
  sh->name_hash = g_new (guint64, n);
  sh->fill_order = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    {
      const gchar *name = balancer->backends[i].name;
      guint64 hash = mb_balancer_hash_address ((const guint8 *) name, strlen (name));

      sh->name_hash[i] = hash;
      sh->offset[i] = hash % TABLE_SIZE;
      /* A second hash of the name, independent of the first: mix is a
       * bijection, so mixing the hash with a constant flipped in gives
       * another well-spread value. */
      sh->step[i] = mix (hash ^ G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)) % (TABLE_SIZE - 1) + 1;
      sh->fill_order[i] = i;
    }
  g_qsort_with_data (sh->fill_order, n, sizeof *sh->fill_order, compare_name_hash, sh);
  return sh;
}

static void
source_hash_free (gpointer state)
{
  SourceHash *sh = state;

  g_free (sh->table);
  g_free (sh->offset);
  g_free (sh->step);
  g_free (sh->cursor);
  g_free (sh->position);
  g_free (sh->name_hash);
  g_free (sh->fill_order);
  g_free (sh);
}

static void
source_hash_tier_changed (MbBalancer *balancer)
{
  SourceHash *sh = balancer->state;

  sh->stale = TRUE;
}

/* Claims the next free slot of backend I's permutation for it. */
static void
claim (SourceHash *sh, guint i)
{
  while (sh->table[sh->cursor[i]] != NONE)
    sh->cursor[i] = (sh->cursor[i] + sh->step[i]) % TABLE_SIZE;
  sh->table[sh->cursor[i]] = sh->position[i];
}

static void
build (SourceHash *sh, const MbBalancer *balancer)
{
  guint filled = 0;

  for (guint i = 0; i < sh->n; i++)
    {
      sh->position[i] = NONE;
      sh->cursor[i] = sh->offset[i];
    }
  for (guint p = 0; p < balancer->n_pick; p++)
    sh->position[balancer->tier[p]] = p;
  memset (sh->table, 0xff, TABLE_SIZE * sizeof *sh->table);

  /* The pick group is never empty, so every round fills at least a slot. */
  for (;;)
    for (guint k = 0; k < sh->n; k++)
      {
        guint i = sh->fill_order[k];

        if (sh->position[i] == NONE)
          continue;
        for (guint turn = 0; turn < balancer->backends[i].weight; turn++)
          {
            claim (sh, i);
            if (++filled == TABLE_SIZE)
              return;
          }
      }
}

static void
source_hash_carry (MbBalancer *balancer, const MbBalancer *old, const guint *old_index)
{
  SourceHash *sh = balancer->state;
  const SourceHash *was = old->state;
  g_autofree guint32 *to = NULL;
  gboolean same = TRUE;

  /* The same names and weights make the same table, so OLD's is this
   * one's but for the positions it names. */
  sh->stale = was->stale;
  if (sh->stale)
    return;

  /* TO[q]: the position here of the member at position q in OLD. */
  to = g_new (guint32, balancer->n_pick);
  for (guint i = 0; i < sh->n; i++)
    sh->position[i] = NONE;
  for (guint p = 0; p < balancer->n_pick; p++)
    {
      guint i = balancer->tier[p];
      guint32 q = was->position[old_index[i]];

      sh->position[i] = p;
      to[q] = p;
      same &= q == p;
    }
  if (same)
    memcpy (sh->table, was->table, TABLE_SIZE * sizeof *sh->table);
  else
    for (guint slot = 0; slot < TABLE_SIZE; slot++)
      sh->table[slot] = to[was->table[slot]];
}

static guint
source_hash_pick (MbBalancer *balancer, const guint *live, guint64 key)
{
  SourceHash *sh = balancer->state;

  if (sh->stale)
    {
      build (sh, balancer);
      sh->stale = FALSE;
      balancer->rebuilds++;
    }
  return sh->table[key % TABLE_SIZE];
}

const MbLbAlgorithm mb_lb_source_hash = {
  .state_new = source_hash_new,
  .state_free = source_hash_free,
  .tier_changed = source_hash_tier_changed,
  .carry = source_hash_carry,
  .pick = source_hash_pick,
};
