/* balancer.c - backend selection; see balancer.h. */
#include "build-config.h"

#include "balancer.h"

void
mb_balancer_init (MbBalancer *balancer, MbBalance algorithm, guint n_backends)
{
  g_return_if_fail (n_backends > 0);

  balancer->algorithm = algorithm;
  balancer->n_backends = n_backends;
  balancer->counter = 0;
}

guint
mb_balancer_pick (MbBalancer *balancer)
{
  return (guint) (balancer->counter++ % balancer->n_backends);
}

guint
mb_balancer_next (const MbBalancer *balancer, guint first, guint attempt)
{
  return (first + attempt) % balancer->n_backends;
}
