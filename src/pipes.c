/* pipes.c - the pipe pool behind splice(); see pipes.h. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipes.h"

/* Pipes kept for reuse: enough for a burst of busy sessions, the rest are
 * closed when given back.  One pool for all workers, behind a lock (taken
 * for a few instructions, when a pump starts or stops moving bytes), so that
 * any thread short of descriptors can empty it. */
#define POOL_SIZE 64

static GMutex pool_lock;
static MbPipe pool[POOL_SIZE];
static guint pooled;

static gint open_pipes;                 /* in use and pooled, all threads */
static guint max_pipes = 1024;

gboolean
mb_pipes_enabled (void)
{
#if defined HAVE_SPLICE && defined HAVE_PIPE2
  static gint enabled = -1;

  if (g_atomic_int_get (&enabled) < 0)
    {
      const gchar *value = g_getenv ("MB_RELAY_SPLICE");

      g_atomic_int_set (&enabled, value == NULL || strcmp (value, "0") != 0);
    }
  return g_atomic_int_get (&enabled);
#else
  return FALSE;
#endif
}

void
mb_pipes_set_limit (guint limit)
{
  max_pipes = limit;
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
  if ((guint) g_atomic_int_add (&open_pipes, 1) >= max_pipes)
    {
      g_atomic_int_add (&open_pipes, -1);
      return FALSE;
    }
  if (pipe2 (fds, O_NONBLOCK | O_CLOEXEC) < 0)
    {
      g_atomic_int_add (&open_pipes, -1);
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
  g_atomic_int_add (&open_pipes, -1);
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
  return n > 0;
}
