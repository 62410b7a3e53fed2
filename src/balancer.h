/* balancer.h - which backends a new connection tries, and in what order.
 *
 * Pure selection logic over backend state: no I/O, no sockets, no threads.
 * A balancer belongs to one frontend and is used from one thread; it keeps
 * no pointer into its caller's data (names are copied).  Each algorithm
 * lives in its own file (lb-round-robin.c, lb-least-connections.c,
 * lb-random-two.c, lb-source-hash.c) behind this interface; balancer.c
 * decides which backends are eligible and turns a pick into a plan.
 *
 * The plan for one connection (mb_balancer_plan):
 * - The eligible tier is the up non-backups; if none is up, the up
 *   backups; if no backend is up at all, the non-backups (the backups, if
 *   there are only backups): the health checks may be wrong, and a client
 *   tried against backends that were marked down beats a client refused.
 *   The algorithm picks within the tier only.
 * - order[0] is the algorithm's pick; the rest of the tier follows,
 *   cyclically after the pick in index order.
 * - Then every backend outside the tier: the up backups, then the down
 *   non-backups, then the down backups, each group in index order.  So a
 *   plan holds every backend, and a client is closed only when no backend
 *   at all accepts it: backups are the last resort within a connection
 *   too, not only once the primaries are marked down (as nginx's stream
 *   module falls through from a failed primary tier to the backups).
 * - Except the excluded backends (an operator's maint or drain), which are
 *   in no plan at all, as if they were not there.
 * - That is the failover order: the session tries order[0], and when a
 *   backend refuses or times out, the next one.  The order of everything
 *   after the tier changes only when a backend goes down or up.
 * - A plan call moves the algorithm's state by exactly one pick, whatever
 *   failovers the connection then needs.
 * - No allocation per call (mb_balancer_new and mb_balancer_new_from
 *   allocate everything); O(n) work at most, except for source-hash,
 *   which rebuilds its table in the first plan after the pick group
 *   changed.
 *
 * The pick group is the eligible tier with its members' weights: it
 * changes when a member joins or leaves the tier (a backend down or up)
 * or when a member's weight is set (mb_balancer_set_weight).  A change of
 * what comes after the tier alone is not one.
 *
 * The algorithms:
 * - round-robin: smooth weighted round-robin (nginx's).  Each pick adds
 *   every eligible backend's weight to its current weight, takes the
 *   largest (ties to the lowest index) and subtracts the total weight from
 *   it.  Equal weights give 0, 1, ..., n-1, 0, 1, ...: connection k goes
 *   first to backend ((k - 1) mod n) + 1, as in the seed.  Weights 3:1 give
 *   a a b a, a a b a, ...: spread out, never in bursts.  A change of the
 *   pick group starts the sequence again over the new group, ties going
 *   by index.
 * - least-connections: the fewest live sessions relative to weight; equal
 *   backends take turns.  The live counts come from the caller at each
 *   plan: the balancer keeps none.
 * - random-two: the power of two random choices: two distinct eligible
 *   backends drawn at random, the one with fewer live sessions relative to
 *   weight wins (the first drawn on a tie).
 * - source-hash: consistent hashing (Maglev) of the client's address: the
 *   same address goes to the same backend while the pick group stays the
 *   same, and when a backend leaves the tier only its addresses (and a few
 *   others) move; so does a weight change, towards or away from that
 *   backend.  A backend's place in the table follows from its name, not
 *   its position, and its share from its weight.
 *
 * A reload (mb_balancer_new_from): the new balancer is matched with the
 * old one by backend name (a title; positions may have changed).
 * - The same algorithm and the same pick group before and after (the same
 *   names with the same weights and backup flags, wherever they are in the
 *   list; backends may be added, removed or moved outside it): the picks
 *   go on as if there had been no reload.  round-robin: the next client
 *   goes to the backend it would have gone to, and so on, by name (each
 *   member's current weight and its place in ties carry over).
 *   source-hash: the table is carried, not rebuilt; every address keeps
 *   its backend.  least-connections: its live counts need no carrying
 *   (the caller gives them at each plan); the turn among equally loaded
 *   backends goes on from the same backend (then in the new index order).
 *   random-two: the generator goes on (copied), but its draws name
 *   positions in the group, so after a reorder of the group's members they
 *   are as random as before, not the same picks.
 * - A different pick group (a member added, removed, down or up, its
 *   weight or backup flag changed): as a change of the pick group without
 *   a reload.  round-robin starts again over the new group; source-hash
 *   builds its table in the first plan; least-connections' turn starts at
 *   the first member; random-two's generator goes on.
 * - A different algorithm: a fresh balancer, as mb_balancer_new, with the
 *   down states given.
 * - Never carried: down states (the caller gives them, it knows them from
 *   health checks and the rest) and plan order after the pick (the
 *   failover order follows the new list).
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

#define MB_BALANCER_MAX_WEIGHT MB_MAX_WEIGHT   /* config.h */

/* A backend as the balancer sees it; fixed at creation but for the weight
 * (mb_balancer_set_weight). */
typedef struct {
  const gchar *name;    /* the backend's title: source-hash keys on it; copied */
  guint weight;         /* 1 .. MB_BALANCER_MAX_WEIGHT */
  gboolean backup;      /* picked only while no non-backup is up; tried
                         * after the tier in every plan */
  gboolean excluded;    /* never in a plan (maint, drain) */
} MbBackendSpec;

typedef struct MbBalancer MbBalancer;

/* A balancer for the N (> 0) BACKENDS, in the frontend's order: backend i
 * of the plans is BACKENDS[i].  Every backend starts up.  Free with
 * mb_balancer_free(). */
MbBalancer *mb_balancer_new (MbBalance algorithm, const MbBackendSpec *backends, guint n);

/* A balancer for the N BACKENDS (as mb_balancer_new) that goes on from
 * OLD, a balancer of the same frontend before a reload, as the reload
 * rules above say (OLD may be NULL: a fresh balancer).  DOWN[i] (DOWN may
 * be NULL: every backend up) is backend i's down state from the start, so
 * that the tier, and the comparison of pick groups, are right from the
 * first plan; OLD's down states are not read.  OLD's weights are its
 * current ones (mb_balancer_set_weight): BACKENDS should give the ones the
 * new balancer is to use.  OLD is only read and keeps nothing of the new
 * balancer, nor the new one of OLD: free OLD when its last user is done
 * with it.  Neither may be used by another thread meanwhile. */
MbBalancer *mb_balancer_new_from (const MbBalancer *old, MbBalance algorithm,
                                  const MbBackendSpec *backends, guint n,
                                  const gboolean *down);
void mb_balancer_free (MbBalancer *balancer);

/* Restarts the random draws of random-two from SEED, so that tests can
 * repeat them; no effect on the other algorithms. */
void mb_balancer_set_seed (MbBalancer *balancer, guint32 seed);

/* Takes backend INDEX out of every plan, or back (an operator's maint or
 * drain): unlike a down backend, an excluded one is not even a last
 * resort.  With every backend excluded, a plan is empty (returns 0). */
void mb_balancer_set_excluded (MbBalancer *balancer, guint index, gboolean excluded);
/* Marks backend INDEX down or up (health checks, passive ejection). */
void mb_balancer_set_down (MbBalancer *balancer, guint index, gboolean down);
gboolean mb_balancer_is_down (const MbBalancer *balancer, guint index);

/* Sets backend INDEX's WEIGHT (1 .. MB_BALANCER_MAX_WEIGHT) from now on
 * (the control socket's `set weight`).  For a backend in the tier it is a
 * change of the pick group: round-robin starts over, source-hash rebuilds
 * its table in the next plan.  For one outside the tier it changes nothing
 * until the backend joins the tier (which is a change anyway). */
void mb_balancer_set_weight (MbBalancer *balancer, guint index, guint weight);

/* Writes the backends to try for a new connection, in order, into ORDER,
 * which has room for n; returns how many: every backend but the excluded ones.
 * LIVE[i] is backend i's live session count now, as the caller read it:
 * used by least-connections and random-two; may be NULL, which counts as
 * none anywhere.  KEY is the client's address hash (mb_balancer_hash_address),
 * used by source-hash only. */
guint mb_balancer_plan (MbBalancer *balancer, const guint *live, guint64 key, guint *order);

/* The KEY of a client for source-hash: a hash of its address BYTES (the
 * 4 or 16 bytes of the IP address, not the port, so that all of a client's
 * connections go to the same backend). */
guint64 mb_balancer_hash_address (const guint8 *bytes, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbBalancer, mb_balancer_free)

G_END_DECLS
