/* relay.c - the byte pumps between client and backend; see relay.h.
 *
 * Each endpoint has at most one watch in the poller (one epoll set for all
 * sessions, see poller.h), whose condition is worked out again after every
 * event: G_IO_IN while the pump that reads this socket
 * has room, G_IO_OUT while the pump that writes it has bytes the socket
 * refused (we always try to write at once, so pending bytes mean EAGAIN).
 * G_IO_HUP and G_IO_ERR are always watched: poll() reports them whether asked
 * or not, and a watch that does not take them would make the loop spin.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "pipes.h"
#include "poller.h"
#include "relay.h"
#include "worker.h"

typedef struct {
  int fd;
  MbPollerHandle handle;  /* its data is the relay */
  gboolean hung_up;       /* poll() said HUP: watch only when there is work */
} Endpoint;

/* A pump copies through its buffer, or (splice path) moves bytes through a
 * kernel pipe: at any moment bytes wait in one of the two, never both, so
 * order is kept when a pump falls back from the pipe to the buffer. */
typedef struct {
  guint8 *buffer;         /* MB_RELAY_BUFFER_SIZE bytes, allocated on first read */
  gsize start, end;       /* bytes [start, end) are waiting to be written */
  gboolean splice;        /* use the pipe path (until splice() says it cannot) */
  MbPipe pipe;            /* read_fd -1: none held */
  gsize piped;            /* bytes in the pipe */
  gboolean pipe_full;     /* splice() into the pipe would block */
  gboolean eof;           /* the source said EOF */
  gboolean shut;          /* EOF passed on: shutdown(SHUT_WR) done on the sink */
  guint64 total;          /* bytes read from the source */
} Pump;

struct MbRelay {
  Endpoint endpoint[2];   /* 0: client, 1: backend */
  Pump pump[2];           /* pump i reads endpoint i and writes endpoint 1 - i */
  gint64 last_activity;   /* monotonic, microseconds */
  struct IdleClock *clock; /* NULL without an idle timeout */
  GList idle_link;        /* in clock->relays */
  GSource *start_failed;  /* idle source reporting a failed start */
  MbRelayDone done;
  gpointer user_data;
  GError *error;
  gboolean finished;
};

static const gchar *const side_name[2] = { "client", "backend" };

/* Idle timeouts.  One GSource per session would make GLib visit thousands of
 * timers on every main loop iteration; instead the relays that share an
 * idle_timeout sit in one list, least recently active first, behind one
 * timer armed for the first one's deadline.  Activity moves a relay to the
 * end of its list: O(1). */
typedef struct IdleClock {
  guint64 timeout_ms;
  GQueue relays;
  GSource *timer;
} IdleClock;

/* timeout_ms -> IdleClock, kept for the thread's life: one set per worker. */
static __thread GHashTable *idle_clocks;

static void finish (MbRelay *relay);
static gboolean on_idle_clock (gpointer data);

static void
idle_clock_arm (IdleClock *clock)
{
  MbRelay *first;
  gint64 due_us;

  if (clock->timer != NULL || clock->relays.head == NULL)
    return;
  first = clock->relays.head->data;
  due_us = first->last_activity + (gint64) clock->timeout_ms * 1000 - g_get_monotonic_time ();
  clock->timer = mb_worker_timeout ((guint) CLAMP ((due_us + 999) / 1000, 1, G_MAXUINT), on_idle_clock, clock);
}

static gboolean
on_idle_clock (gpointer data)
{
  IdleClock *clock = data;
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&clock->timer, g_source_unref);
  while (clock->relays.head != NULL)
    {
      MbRelay *relay = clock->relays.head->data;

      if (now - relay->last_activity < (gint64) clock->timeout_ms * 1000)
        break;
      relay->finished = TRUE;
      relay->error = g_error_new (MB_ERROR, MB_ERROR_TIMED_OUT, "idle for %" G_GUINT64_FORMAT " ms",
                                  clock->timeout_ms);
      finish (relay);   /* takes it off the list */
    }
  idle_clock_arm (clock);
  return G_SOURCE_REMOVE;
}

static void
idle_join (MbRelay *relay, guint64 timeout_ms)
{
  IdleClock *clock;

  if (idle_clocks == NULL)
    idle_clocks = g_hash_table_new (g_direct_hash, g_direct_equal);
  /* At most 30 days in milliseconds: fits a guint. */
  clock = g_hash_table_lookup (idle_clocks, GUINT_TO_POINTER ((guint) timeout_ms));
  if (clock == NULL)
    {
      clock = g_new0 (IdleClock, 1);
      clock->timeout_ms = timeout_ms;
      g_hash_table_insert (idle_clocks, GUINT_TO_POINTER ((guint) timeout_ms), clock);
    }
  relay->clock = clock;
  relay->idle_link.data = relay;
  g_queue_push_tail_link (&clock->relays, &relay->idle_link);
  idle_clock_arm (clock);
}

static void
idle_leave (MbRelay *relay)
{
  IdleClock *clock = relay->clock;

  if (clock == NULL)
    return;
  g_queue_unlink (&clock->relays, &relay->idle_link);
  relay->clock = NULL;
  if (clock->relays.head == NULL)
    mb_worker_clear_source (&clock->timer);
}

/* Bytes moved: the relay's idle deadline starts again. */
static void
idle_touch (MbRelay *relay)
{
  relay->last_activity = g_get_monotonic_time ();
  if (relay->clock != NULL && relay->clock->relays.tail != &relay->idle_link)
    {
      g_queue_unlink (&relay->clock->relays, &relay->idle_link);
      g_queue_push_tail_link (&relay->clock->relays, &relay->idle_link);
    }
}

static void
fail (MbRelay *relay, gint side, const gchar *what, gint errnum)
{
  if (relay->finished)
    return;
  relay->finished = TRUE;
  relay->error = g_error_new (MB_ERROR, MB_ERROR_IO, "%s: %s: %s", side_name[side], what,
                              g_strerror (errnum));
}

static void
pump_shut (MbRelay *relay, gint i)
{
  Pump *pump = &relay->pump[i];

  if (pump->eof && !pump->shut)
    {
      pump->shut = TRUE;
      /* When the other direction is over too, the relay ends now and its
       * owner closes both sockets: close() sends this FIN (everything the
       * sink sent was read, up to its EOF), one system call fewer. */
      if (relay->pump[1 - i].shut)
        return;
      if (shutdown (relay->endpoint[1 - i].fd, SHUT_WR) < 0 && errno != ENOTCONN)
        fail (relay, 1 - i, "shutdown", errno);
    }
}

/* Writes what pump I holds to its sink; passes EOF on when flushed. */
static void
pump_write (MbRelay *relay, gint i)
{
  Pump *pump = &relay->pump[i];
  int fd = relay->endpoint[1 - i].fd;

  while (pump->start < pump->end)
    {
      ssize_t n = send (fd, pump->buffer + pump->start, pump->end - pump->start, MSG_NOSIGNAL);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            fail (relay, 1 - i, "send", errno);
          return;
        }
      pump->start += (gsize) n;
      idle_touch (relay);
    }
  pump->start = pump->end = 0;
  pump_shut (relay, i);
}

#ifdef HAVE_SPLICE
/* The splice path's pump_write: from the pipe to the sink. */
static void
pump_write_piped (MbRelay *relay, gint i)
{
  Pump *pump = &relay->pump[i];
  int fd = relay->endpoint[1 - i].fd;

  while (pump->piped > 0)
    {
      ssize_t n = splice (pump->pipe.read_fd, NULL, fd, NULL, pump->piped,
                          SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN)
            fail (relay, 1 - i, "splice", errno);
          return;
        }
      pump->piped -= (gsize) n;
      pump->pipe_full = FALSE;
      idle_touch (relay);
    }
  /* Empty: give the pipe back, so that idle sessions hold none. */
  if (pump->pipe.read_fd >= 0)
    mb_pipes_give (&pump->pipe);
  pump_shut (relay, i);
}

/* The splice path's pump_read: from the source into the pipe, then on.
 * FALSE when this pump cannot splice and must use its buffer instead. */
static gboolean
pump_read_piped (MbRelay *relay, gint i)
{
  Pump *pump = &relay->pump[i];
  int fd = relay->endpoint[i].fd;
  ssize_t n;

  if (pump->pipe.read_fd < 0 && !mb_pipes_take (&pump->pipe))
    return FALSE;   /* no pipe to be had now: copy this time */
  do
    n = splice (fd, NULL, pump->pipe.write_fd, NULL, MB_PIPE_SIZE - pump->piped,
                SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    {
      if (errno == EAGAIN)
        {
          /* The socket is empty, or the pipe is out of room before
           * MB_PIPE_SIZE (each splice takes whole pipe slots).  Either way,
           * with bytes in the pipe, wait for the sink to take some. */
          if (pump->piped > 0)
            pump->pipe_full = TRUE;
        }
      else if ((errno == EINVAL || errno == ENOSYS) && pump->piped == 0)
        {
          /* This socket cannot splice: the buffer, for good. */
          pump->splice = FALSE;
          mb_pipes_give (&pump->pipe);
          return FALSE;
        }
      else
        fail (relay, i, "splice", errno);
    }
  else if (n == 0)
    pump->eof = TRUE;
  else
    {
      pump->piped += (gsize) n;
      pump->total += (guint64) n;
      idle_touch (relay);
    }
  pump_write_piped (relay, i);
  return TRUE;
}
#endif

/* Reads from pump I's source into its buffer, then writes straight on. */
static void
pump_read (MbRelay *relay, gint i)
{
  Pump *pump = &relay->pump[i];
  int fd = relay->endpoint[i].fd;
  ssize_t n;

#ifdef HAVE_SPLICE
  if (pump->splice && pump->end == 0 && pump_read_piped (relay, i))
    return;
#endif
  if (pump->buffer == NULL)
    pump->buffer = g_malloc (MB_RELAY_BUFFER_SIZE);
  do
    n = recv (fd, pump->buffer + pump->end, MB_RELAY_BUFFER_SIZE - pump->end, 0);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        fail (relay, i, "recv", errno);
      return;
    }
  if (n == 0)
    pump->eof = TRUE;
  else
    {
      pump->end += (gsize) n;
      pump->total += (guint64) n;
      idle_touch (relay);
    }
  pump_write (relay, i);
}

/* Writes whatever pump I holds, from its pipe or from its buffer. */
static void
pump_flush (MbRelay *relay, gint i)
{
#ifdef HAVE_SPLICE
  if (relay->pump[i].piped > 0)
    {
      pump_write_piped (relay, i);
      return;
    }
#endif
  pump_write (relay, i);
}

static gboolean
pump_pending (const Pump *pump)
{
  return pump->start < pump->end || pump->piped > 0;
}

static gboolean
pump_wants_read (const Pump *pump)
{
  if (pump->eof)
    return FALSE;
  if (pump->piped > 0)
    return !pump->pipe_full && pump->piped < MB_PIPE_SIZE;
  return pump->end < MB_RELAY_BUFFER_SIZE;
}

static void
endpoint_unwatch (Endpoint *endpoint)
{
  mb_poller_unwatch (&endpoint->handle);
}

static void
update_watches (MbRelay *relay)
{
  g_autoptr(GError) error = NULL;

  for (gint i = 0; i < 2; i++)
    {
      Endpoint *endpoint = &relay->endpoint[i];
      GIOCondition want = 0;

      if (pump_wants_read (&relay->pump[i]))
        want |= G_IO_IN;
      if (pump_pending (&relay->pump[1 - i]))
        want |= G_IO_OUT;
      if (want == 0 && endpoint->hung_up)
        {
          endpoint_unwatch (endpoint);
          continue;
        }
      if (!mb_poller_watch (&endpoint->handle, want, &error))
        {
          /* Only when the kernel is out of memory: end this session. */
          relay->finished = TRUE;
          relay->error = g_steal_pointer (&error);
          return;
        }
    }
}

static void
finish (MbRelay *relay)
{
  /* The owner closes both sockets right after DONE (relay.h), which takes
   * them out of the epoll set: no system call for it here. */
  mb_poller_forget (&relay->endpoint[0].handle);
  mb_poller_forget (&relay->endpoint[1].handle);
  idle_leave (relay);
  /* DONE may free the relay: nothing touches it afterwards. */
  relay->done (relay, relay->error, relay->user_data);
}

static void
on_io (MbPollerHandle *handle, GIOCondition condition)
{
  MbRelay *relay = handle->data;
  gint side = handle == &relay->endpoint[0].handle ? 0 : 1;

  if (condition & G_IO_ERR)
    {
      gint errnum = 0;
      socklen_t len = sizeof errnum;

      if (getsockopt (relay->endpoint[side].fd, SOL_SOCKET, SO_ERROR, &errnum, &len) == 0 && errnum != 0)
        fail (relay, side, "connection", errnum);
    }
  if (!relay->finished && (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
      && pump_wants_read (&relay->pump[side]))
    pump_read (relay, side);
  if (!relay->finished && (condition & (G_IO_OUT | G_IO_HUP | G_IO_ERR)))
    pump_flush (relay, 1 - side);
  if (condition & G_IO_HUP)
    relay->endpoint[side].hung_up = TRUE;

  if (!relay->finished && relay->pump[0].shut && relay->pump[1].shut)
    relay->finished = TRUE;
  if (!relay->finished)
    update_watches (relay);
  if (relay->finished)
    finish (relay);
}

static gboolean
on_start_failed (gpointer data)
{
  MbRelay *relay = data;

  g_clear_pointer (&relay->start_failed, g_source_unref);
  finish (relay);
  return G_SOURCE_REMOVE;
}

static void
endpoint_init (Endpoint *endpoint, int fd, MbRelay *relay)
{
  endpoint->fd = fd;
  mb_poller_handle_init (&endpoint->handle, fd, on_io, relay);
}

MbRelay *
mb_relay_new (int client_fd, int backend_fd, MbPollerHandle *backend_watch, guint64 idle_timeout_ms,
              MbRelayDone done, gpointer user_data)
{
  MbRelay *relay = g_new0 (MbRelay, 1);

  for (gint i = 0; i < 2; i++)
    {
      relay->pump[i].splice = mb_pipes_enabled ();
      relay->pump[i].pipe.read_fd = relay->pump[i].pipe.write_fd = -1;
    }
  endpoint_init (&relay->endpoint[0], client_fd, relay);
  endpoint_init (&relay->endpoint[1], backend_fd, relay);
  if (backend_watch != NULL)
    mb_poller_move (backend_watch, &relay->endpoint[1].handle);
  relay->last_activity = g_get_monotonic_time ();
  relay->done = done;
  relay->user_data = user_data;
  if (idle_timeout_ms > 0)
    idle_join (relay, idle_timeout_ms);
  update_watches (relay);
  if (relay->finished)
    {
      /* The sockets could not be watched: report it from the main loop, as
       * DONE must not run before our caller has the relay. */
      idle_leave (relay);
      relay->start_failed = mb_worker_attach (g_idle_source_new (), on_start_failed, relay);
    }
  return relay;
}

void
mb_relay_free (MbRelay *relay)
{
  if (relay == NULL)
    return;
  for (gint i = 0; i < 2; i++)
    {
      mb_poller_forget (&relay->endpoint[i].handle);
      g_free (relay->pump[i].buffer);
      /* A pipe still holding bytes of an aborted session is not reused. */
      if (relay->pump[i].pipe.read_fd >= 0)
        {
          if (relay->pump[i].piped > 0)
            mb_pipes_discard (&relay->pump[i].pipe);
          else
            mb_pipes_give (&relay->pump[i].pipe);
        }
    }
  idle_leave (relay);
  mb_worker_clear_source (&relay->start_failed);
  g_clear_error (&relay->error);
  g_free (relay);
}

void
mb_relay_thread_cleanup (void)
{
  GHashTableIter iter;
  IdleClock *clock;

  if (idle_clocks == NULL)
    return;
  g_hash_table_iter_init (&iter, idle_clocks);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &clock))
    {
      mb_worker_clear_source (&clock->timer);
      g_free (clock);
    }
  g_clear_pointer (&idle_clocks, g_hash_table_unref);
}

guint64
mb_relay_bytes_from_client (const MbRelay *relay)
{
  return relay->pump[0].total;
}

guint64
mb_relay_bytes_to_client (const MbRelay *relay)
{
  return relay->pump[1].total;
}
