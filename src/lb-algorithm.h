/* lb-algorithm.h - between balancer.c and the balancing algorithms.
 *
 * Not for the rest of the daemon, which sees balancer.h only.  balancer.c
 * owns the backends and the eligible tier; an algorithm keeps its own state
 * and answers one question: which member of the tier goes first.
 *
 * Invariants the algorithms rely on:
 * - tier[0 .. n) holds every backend index once; tier[0 .. n_pick) is the
 *   eligible tier, the group the algorithm picks in, in ascending index
 *   order, 1 <= n_pick <= n.  tier[n_pick .. n) are the other backends in
 *   the order a plan tries them after the tier (balancer.h): no algorithm
 *   reads them.
 * - The pick group is tier[0 .. n_pick) with each member's weight.
 *   tier_changed() is called after every change of it (a member in or out,
 *   or a member's weight set, mb_balancer_set_weight), and once before the
 *   first pick, unless carry() is called instead; never during a pick.  A
 *   change of the rest alone (a backup marked down while the primaries
 *   serve, the weight of a backend outside the tier) is not one.
 * - carry() is called only on a balancer made by mb_balancer_new_from(),
 *   before its first pick, when OLD has the same algorithm and the same
 *   pick group: the same names with the same weights and backup flags,
 *   whatever their indices.  Matching is by name, so it is one to one
 *   (balancer.c leaves out names that are not unique).
 */
#pragma once

#include "balancer.h"

G_BEGIN_DECLS

typedef struct {
  gchar *name;
  guint weight;
  gboolean backup;
  gboolean down;
  gboolean excluded;        /* never in a plan (maintenance, drain) */
} MbLbBackend;

typedef struct MbLbAlgorithm MbLbAlgorithm;

/* No backend: in carry()'s OLD_INDEX, a backend that OLD does not have. */
#define MB_LB_NONE G_MAXUINT

struct MbBalancer {
  const MbLbAlgorithm *algorithm;
  gpointer state;           /* the algorithm's, or NULL */
  MbLbBackend *backends;
  guint n;
  guint *tier;              /* every backend not excluded, the eligible tier
                             * first: n_ranked of them */
  guint n_ranked;
  guint n_pick;             /* the eligible tier's length; 0 only when every
                             * backend is excluded (then no pick is asked) */
  guint *spare_tier;        /* balancer.c's: where a new order is worked out */
  GRand *rand;              /* random-two's draws */
  guint rebuilds;           /* how many times a pick built the algorithm's
                             * state from scratch over a new pick group
                             * (source-hash's table): tests read it to see
                             * that a carry did not */
};

/* Only pick is required: an algorithm that keeps no state leaves the rest
 * NULL. */
struct MbLbAlgorithm {
  /* Allocates the state for BALANCER, whose backends are set. */
  gpointer (*state_new) (const MbBalancer *balancer);
  void (*state_free) (gpointer state);
  /* The pick group changed: forget what was worked out over the old one. */
  void (*tier_changed) (MbBalancer *balancer);
  /* Instead of the first tier_changed(): BALANCER goes on from OLD, a
   * balancer of the same algorithm over the same pick group, so that its
   * picks name the backends OLD's would have named.  OLD_INDEX[i] is the
   * index in OLD of BALANCER's backend i (by name), or MB_LB_NONE.  OLD is
   * only read.  Without it, a reload starts over as a tier change does. */
  void (*carry) (MbBalancer *balancer, const MbBalancer *old, const guint *old_index);
  /* The position in tier[0 .. n_pick) of the backend to try first. */
  guint (*pick) (MbBalancer *balancer, const guint *live, guint64 key);
};

extern const MbLbAlgorithm mb_lb_round_robin;
extern const MbLbAlgorithm mb_lb_least_connections;
extern const MbLbAlgorithm mb_lb_random_two;
extern const MbLbAlgorithm mb_lb_source_hash;

/* Compares the load of backends A and B (indices): live sessions relative
 * to weight, as live_a / weight_a against live_b / weight_b, but cross
 * multiplied in 64 bits so that no rounding makes two loads equal.
 * Negative when A carries less. */
static inline gint
mb_lb_compare_load (const MbBalancer *balancer, const guint *live, guint a, guint b)
{
  guint64 load_a, load_b;

  if (live == NULL)
    return 0;
  load_a = (guint64) live[a] * balancer->backends[b].weight;
  load_b = (guint64) live[b] * balancer->backends[a].weight;
  return load_a < load_b ? -1 : load_a > load_b;
}

G_END_DECLS
