/* pipes.c - the pipe pool behind splice(); see pipes.h. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipes.h"

/* Pipes kept for reuse per thread: enough for a burst of busy sessions,
 * the rest are closed when given back. */
#define POOL_SIZE 64

static __thread MbPipe pool[POOL_SIZE];
static __thread guint pooled;

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

  if (pooled > 0)
    {
      *pipe = pool[--pooled];
      return TRUE;
    }
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
  if (pooled < POOL_SIZE)
    {
      pool[pooled++] = *pipe;
      pipe->read_fd = pipe->write_fd = -1;
    }
  else
    mb_pipes_discard (pipe);
}

gboolean
mb_pipes_trim (void)
{
  gboolean any = pooled > 0;

  while (pooled > 0)
    mb_pipes_discard (&pool[--pooled]);
  return any;
}
