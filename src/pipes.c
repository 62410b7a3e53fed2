/* pipes.c - the pipe caches and pool behind splice(); see pipes.h. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"
#include "log.h"
#include "pipes.h"

/* Pipes kept in the shared pool: enough for a burst of busy sessions, the
 * rest are closed when given back. */
#define POOL_SIZE 64
/* A cache on a cache line of its own: its thread writes it on every take
 * and give, and no other thread's data should share those writes. */
#define CACHE_LINE 64

static GMutex pool_lock;
static MbPipe pool[POOL_SIZE];
static guint pooled;

/* A slot holds a pipe packed by pack(), or EMPTY.  Descriptors are never
 * negative, so no pipe packs to EMPTY. */
#define EMPTY G_MAXUINT64

typedef struct {
  guint64 slot[MB_PIPES_CACHED];        /* atomic */
} Cache;

static __thread Cache *cache;           /* this thread's, once it gave a pipe */
static GPtrArray *caches;               /* every thread's: under pool_lock */

static guint64
pack (const MbPipe *pipe)
{
  return (guint64) (guint32) pipe->read_fd << 32 | (guint32) pipe->write_fd;
}

static void
unpack (guint64 packed, MbPipe *pipe)
{
  pipe->read_fd = (int) (packed >> 32);
  pipe->write_fd = (int) (packed & G_MAXUINT32);
}

/* Takes the pipe in SLOT, if any: from the owning thread or from a trim. */
static gboolean
slot_take (guint64 *slot, MbPipe *pipe)
{
  guint64 packed;

  /* A plain load first: an empty slot costs no locked instruction. */
  if (__atomic_load_n (slot, __ATOMIC_RELAXED) == EMPTY)
    return FALSE;
  packed = __atomic_exchange_n (slot, EMPTY, __ATOMIC_ACQUIRE);
  if (packed == EMPTY)
    return FALSE;   /* a trim took it a moment ago */
  unpack (packed, pipe);
  return TRUE;
}

static gboolean
cache_take (MbPipe *pipe)
{
  if (cache == NULL)
    return FALSE;
  for (guint i = 0; i < MB_PIPES_CACHED; i++)
    if (slot_take (&cache->slot[i], pipe))
      return TRUE;
  return FALSE;
}

static Cache *
cache_get (void)
{
  if (G_UNLIKELY (cache == NULL))
    {
      Cache *mine = aligned_alloc (CACHE_LINE, sizeof *mine);

      if (mine == NULL)
        return NULL;
      for (guint i = 0; i < MB_PIPES_CACHED; i++)
        mine->slot[i] = EMPTY;
      g_mutex_lock (&pool_lock);
      if (caches == NULL)
        caches = g_ptr_array_new ();
      g_ptr_array_add (caches, mine);
      g_mutex_unlock (&pool_lock);
      cache = mine;
    }
  return cache;
}

static gboolean
cache_give (const MbPipe *pipe)
{
  Cache *mine = cache_get ();
  guint64 packed = pack (pipe);

  if (mine == NULL)
    return FALSE;
  for (guint i = 0; i < MB_PIPES_CACHED; i++)
    {
      guint64 expected = EMPTY;

      if (__atomic_load_n (&mine->slot[i], __ATOMIC_RELAXED) == EMPTY
          && __atomic_compare_exchange_n (&mine->slot[i], &expected, packed, FALSE,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        return TRUE;
    }
  return FALSE;
}

/* Built with splice() and not turned off by MB_RELAY_SPLICE=0. */
static gboolean
splice_wanted (void)
{
#if defined HAVE_SPLICE && defined HAVE_PIPE2
  static gint wanted = -1;

  if (g_atomic_int_get (&wanted) < 0)
    {
      const gchar *value = g_getenv ("MB_RELAY_SPLICE");

      g_atomic_int_set (&wanted, value == NULL || strcmp (value, "0") != 0);
    }
  return g_atomic_int_get (&wanted);
#else
  return FALSE;
#endif
}

gboolean
mb_pipes_enabled (void)
{
  return splice_wanted () && mb_fds_pipes_possible ();
}

gchar *
mb_pipes_describe (void)
{
  MbFdsFigures f;
  g_autofree gchar *limit = NULL;
  g_autofree gchar *figures = NULL;

  mb_fds_get_figures (&f);
  limit = f.limit == G_MAXUINT64 ? g_strdup ("none") : g_strdup_printf ("%" G_GUINT64_FORMAT, f.limit);
  figures = g_strdup_printf ("%u held at start, reserve %u; sessions take %d each",
                             f.base, f.reserve, MB_FDS_SESSION);
#if defined HAVE_SPLICE && defined HAVE_PIPE2
  if (!splice_wanted ())
    return g_strdup ("copying through buffers (MB_RELAY_SPLICE=0)");
  if (!mb_fds_pipes_possible ())
    return g_strdup_printf ("copying through buffers (the descriptor limit %s leaves no room for pipes; %s)",
                            limit, figures);
  return g_strdup_printf ("splice() through pipes (descriptor limit %s; %s)", limit, figures);
#else
  return g_strdup ("copying through buffers (splice() not available)");
#endif
}

guint
mb_pipes_pooled (void)
{
  guint n;

  g_mutex_lock (&pool_lock);
  n = pooled;
  for (guint c = 0; caches != NULL && c < caches->len; c++)
    {
      Cache *other = caches->pdata[c];

      for (guint i = 0; i < MB_PIPES_CACHED; i++)
        n += __atomic_load_n (&other->slot[i], __ATOMIC_RELAXED) != EMPTY;
    }
  g_mutex_unlock (&pool_lock);
  return n;
}

gboolean
mb_pipes_take (MbPipe *pipe)
{
  int fds[2];

  if (cache_take (pipe))
    return TRUE;
  g_mutex_lock (&pool_lock);
  if (pooled > 0)
    {
      *pipe = pool[--pooled];
      g_mutex_unlock (&pool_lock);
      return TRUE;
    }
  g_mutex_unlock (&pool_lock);
#if defined HAVE_SPLICE && defined HAVE_PIPE2
  if (!mb_fds_pipe_take ())
    return FALSE;
  if (pipe2 (fds, O_NONBLOCK | O_CLOEXEC) < 0)
    {
      mb_fds_pipe_give ();
      return FALSE;
    }
  pipe->read_fd = fds[0];
  pipe->write_fd = fds[1];
  return TRUE;
#else
  (void) fds;
  return FALSE;
#endif
}

void
mb_pipes_discard (MbPipe *pipe)
{
  close (pipe->read_fd);
  close (pipe->write_fd);
  pipe->read_fd = pipe->write_fd = -1;
  mb_fds_pipe_give ();
}

void
mb_pipes_give (MbPipe *pipe)
{
  if (cache_give (pipe))
    {
      pipe->read_fd = pipe->write_fd = -1;
      return;
    }
  g_mutex_lock (&pool_lock);
  if (pooled < POOL_SIZE)
    {
      pool[pooled++] = *pipe;
      g_mutex_unlock (&pool_lock);
      pipe->read_fd = pipe->write_fd = -1;
      return;
    }
  g_mutex_unlock (&pool_lock);
  mb_pipes_discard (pipe);
}

gboolean
mb_pipes_trim (void)
{
  g_autoptr(GArray) spare = g_array_new (FALSE, FALSE, sizeof (MbPipe));
  MbPipe pipe;

  g_mutex_lock (&pool_lock);
  g_array_append_vals (spare, pool, pooled);
  pooled = 0;
  /* The other threads' caches too (see pipes.h): what this exchanges out
   * of a slot is ours to close; a pipe its thread took first is in use. */
  for (guint c = 0; caches != NULL && c < caches->len; c++)
    {
      Cache *other = caches->pdata[c];

      for (guint i = 0; i < MB_PIPES_CACHED; i++)
        if (slot_take (&other->slot[i], &pipe))
          g_array_append_val (spare, pipe);
    }
  g_mutex_unlock (&pool_lock);
  for (guint i = 0; i < spare->len; i++)
    mb_pipes_discard (&g_array_index (spare, MbPipe, i));
  if (spare->len > 0 && mb_log_enabled (G_LOG_LEVEL_DEBUG))
    {
      g_autofree gchar *budget = mb_fds_describe ();
      guint now_pooled = mb_pipes_pooled ();
      MbFdsFigures f;

      mb_fds_get_figures (&f);
      mb_log (G_LOG_LEVEL_DEBUG, NULL, "pipes: closed %u pooled; now %u in use, %u pooled; descriptors: %s",
              spare->len, f.pipes - MIN (now_pooled, f.pipes), now_pooled, budget);
    }
  return spare->len > 0;
}

void
mb_pipes_thread_cleanup (void)
{
  MbPipe pipe;

  if (cache == NULL)
    return;
  /* Out of the registry first: then no trim can touch it any more. */
  g_mutex_lock (&pool_lock);
  g_ptr_array_remove_fast (caches, cache);
  g_mutex_unlock (&pool_lock);
  for (guint i = 0; i < MB_PIPES_CACHED; i++)
    if (slot_take (&cache->slot[i], &pipe))
      mb_pipes_discard (&pipe);
  free (cache);
  cache = NULL;
}
