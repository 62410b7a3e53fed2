/* stats.h - counters that any thread adds to without a lock.
 *
 * The control socket's `show` commands (admin.c) and the metrics read the
 * counters that sessions and relays add to as they go: a relaxed atomic
 * add per event (a connection, a connect failure, a read of bytes), so the
 * byte counts include live sessions and are never older than the last
 * read.  The counters live in the frontend and backend objects, so they
 * last as long as those: across reloads that keep them.  Relaxed: a reader
 * may see one counter a moment ahead of another, never a torn value.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

static inline void
mb_counter_add (guint64 *counter, guint64 n)
{
  __atomic_fetch_add (counter, n, __ATOMIC_RELAXED);
}

static inline void
mb_counter_inc (guint64 *counter)
{
  __atomic_fetch_add (counter, 1, __ATOMIC_RELAXED);
}

static inline guint64
mb_counter_get (const guint64 *counter)
{
  return __atomic_load_n (counter, __ATOMIC_RELAXED);
}

/* How long successful connects to a backend took: a histogram with
 * Prometheus's cumulative buckets worked out when read.  Upper bounds in
 * microseconds; the last bucket (+Inf) has none. */
#define MB_CONNECT_BUCKETS 14
extern const guint64 mb_connect_bucket_bounds_us[MB_CONNECT_BUCKETS - 1];

typedef struct {
  guint64 buckets[MB_CONNECT_BUCKETS];   /* not cumulative: each its own range */
  guint64 sum_us;
  guint64 count;
} MbConnectHistogram;

/* One successful connect that took ELAPSED_US (any thread). */
void mb_connect_histogram_add (MbConnectHistogram *histogram, guint64 elapsed_us);

G_END_DECLS
