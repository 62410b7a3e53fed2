/* balancer.h - which backend a new connection goes to first.
 *
 * Pure selection logic over backend state, no I/O.  Round-robin is exact per
 * frontend: connection k goes first to backend ((k - 1) mod n) + 1, counting
 * from 1.  The counter moves by one per connection, whatever failovers that
 * connection then needs (the session tries the following backends in order).
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

typedef struct {
  MbBalance algorithm;
  guint n_backends;
  guint64 counter;      /* connections picked so far */
} MbBalancer;

void mb_balancer_init (MbBalancer *balancer, MbBalance algorithm, guint n_backends);

/* Index (0-based) of the backend to try first for the next connection. */
guint mb_balancer_pick (MbBalancer *balancer);

/* Index of the backend to try after ATTEMPT failed tries starting at FIRST. */
guint mb_balancer_next (const MbBalancer *balancer, guint first, guint attempt);

G_END_DECLS
