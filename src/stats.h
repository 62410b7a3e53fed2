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

G_END_DECLS
