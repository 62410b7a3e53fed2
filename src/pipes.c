/* pipes.c - the pipe pool behind splice(); see pipes.h. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"
#include "log.h"
#include "pipes.h"

/* Pipes kept for reuse: enough for a burst of busy sessions, the rest are
 * closed when given back.  One pool for all workers, behind a lock (taken
 * for a few instructions, when a pump starts or stops moving bytes), so that
 * any thread short of descriptors can empty it. */
#define POOL_SIZE 64

static GMutex pool_lock;
static MbPipe pool[POOL_SIZE];
static guint pooled;

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
  g_mutex_unlock (&pool_lock);
  return n;
}

gboolean
mb_pipes_take (MbPipe *pipe)
{
  int fds[2];

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
  MbPipe spare[POOL_SIZE];
  guint n;

  g_mutex_lock (&pool_lock);
  n = pooled;
  memcpy (spare, pool, n * sizeof *pool);
  pooled = 0;
  g_mutex_unlock (&pool_lock);
  for (guint i = 0; i < n; i++)
    mb_pipes_discard (&spare[i]);
  if (n > 0 && mb_log_enabled (G_LOG_LEVEL_DEBUG))
    {
      g_autofree gchar *budget = mb_fds_describe ();
      guint now_pooled = mb_pipes_pooled ();
      MbFdsFigures f;

      mb_fds_get_figures (&f);
      mb_log (G_LOG_LEVEL_DEBUG, NULL, "pipes: closed %u pooled; now %u in use, %u pooled; descriptors: %s",
              n, f.pipes - MIN (now_pooled, f.pipes), now_pooled, budget);
    }
  return n > 0;
}
