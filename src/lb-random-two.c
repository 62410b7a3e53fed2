/* lb-random-two.c - the power of two random choices.
 *
 * Two distinct members drawn at random, the less loaded (live sessions
 * relative to weight) wins, the first drawn on a tie.  Nearly as even as
 * least-connections, but it does not send every new connection to the one
 * least loaded backend while the counts it sees lag behind (sessions that
 * are still connecting), and it costs two draws whatever the number of
 * backends.  The draws come from the balancer's GRand, which tests seed,
 * and which balancer.c copies into the balancer of a reload (no state
 * here to carry).  A draw names a position in the pick group: after a
 * reload that reorders its members, the draws go on but may name other
 * backends than they would have.
 */
#include "build-config.h"

#include "lb-algorithm.h"

static guint
random_two_pick (MbBalancer *balancer, const guint *live, guint64 key)
{
  gint32 n = (gint32) balancer->n_pick;
  guint first, second;

  if (n == 1)
    return 0;
  first = (guint) g_rand_int_range (balancer->rand, 0, n);
  /* Drawn from the other n - 1, so that the two are distinct. */
  second = (guint) g_rand_int_range (balancer->rand, 0, n - 1);
  if (second >= first)
    second++;
  if (mb_lb_compare_load (balancer, live, balancer->tier[second], balancer->tier[first]) < 0)
    return second;
  return first;
}

const MbLbAlgorithm mb_lb_random_two = {
  .pick = random_two_pick,
};
