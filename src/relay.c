/* relay.c - the byte pumps between client and backend; see relay.h.
 *
 * Each endpoint has at most one watch in its thread's epoll set (see
 * poller.h), whose condition is worked out again after every event: G_IO_IN
 * while the pump that reads this socket has room, G_IO_OUT while the pump
 * that writes it has bytes the socket refused (we always try to write at
 * once, so pending bytes mean EAGAIN).  G_IO_HUP and G_IO_ERR are always
 * reported: a socket that reported them is watched only while there is
 * work on it, or the level-triggered set would report them forever.
 *
 * Errors.  Linux keeps what a socket received readable after a reset
 * arrived: recv() returns those bytes first and reports the reset only
 * once they are gone.  So a socket that failed (G_IO_ERR, a failed send)
 * is read to its end like one that sent EOF, all it sent is delivered, and
 * only then is the failure passed on to the other side as a reset: a
 * client gets every byte that a backend wrote before resetting, as over a
 * direct connection.  What was on its way to the failed socket is dropped:
 * it has nowhere to go.  The pending error is not taken with SO_ERROR
 * while the socket still has bytes for us (that would turn the reset into
 * a plain EOF); once nothing more is read from it, it is.
 *
 * Paths.  splice() spares a bulk transfer its copies through user space,
 * but a small read costs more through a pipe than through the buffer: a
 * pipe taken and given back, and as many system calls (a splice() in, a
 * splice() out) as recv() and send().  So, as HAProxy's splice-auto does,
 * a pump copies until a read fills its buffer (MB_RELAY_BUFFER_SIZE bytes
 * waiting: the source sends faster than the pump reads, a bulk transfer),
 * and splices from then on; it copies again after SMALL_READS splice reads
 * in a row that found less than SMALL_READ bytes while the pipe had room
 * for more (the source ran dry: small messages again).  The two thresholds
 * apart, and several small reads in a row, make the hysteresis: a bulk
 * transfer that meets a short read (the end of a burst, a slow window)
 * stays on the pipe, and a chatty session never takes one.  The path
 * changes only while the pump is empty: bytes wait in the buffer or in the
 * pipe, never both.
 *
 * Closing.  A relay that ends with a failure, or an idle timeout that
 * leaves bytes undelivered, closes both sockets with RST (SO_LINGER 0): a
 * peer must not take a cut stream for a complete one.  A reset throws
 * away what the kernel has not yet had acknowledged, so before it the
 * relay waits, bounded, until the surviving side's send queue is empty.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include "address.h"
#include "error.h"
#include "pipes.h"
#include "poller.h"
#include "relay.h"
#include "stats.h"
#include "trim.h"
#include "worker.h"

/* Buffers kept by each thread for its next pumps; the rest go back to
 * malloc (and, once the daemon is quiet, to the system: trim.h). */
#define BUFFER_CACHE 4
/* Before a reset: how long the surviving side's send queue may stay
 * unacknowledged without shrinking, and the longest pause between looks. */
#define LINGER_STALL_MS 5000
#define LINGER_MAX_DELAY_MS 200
/* Back to copying after SMALL_READS splice reads in a row of less than
 * SMALL_READ bytes (see the top of this file). */
#define SMALL_READ (MB_RELAY_BUFFER_SIZE / 4)
#define SMALL_READS 4

typedef struct {
  int fd;
  MbPollerHandle handle;  /* its data is the relay */
  gboolean hung_up;       /* poll() said HUP or ERR: watch only when there is work */
  gint error;             /* errno of this socket's failure; 0: none */
} Endpoint;

/* A pump copies through its buffer, or (splice path) moves bytes through a
 * kernel pipe: at any moment bytes wait in one of the two, never both, so
 * order is kept when a pump changes paths.  It holds a buffer or a pipe
 * only while bytes wait in it: an idle session holds neither. */
typedef struct {
  guint8 *buffer;         /* MB_RELAY_BUFFER_SIZE bytes while bytes wait in it, else NULL */
  guint64 total;          /* bytes read from the source */
  MbPipe pipe;            /* read_fd -1: none held */
  /* Every idle session holds two pumps: sizes and flags kept small (the
   * buffer and the pipe hold at most 64 KiB, well within 32 bits). */
  guint32 start, end;     /* bytes [start, end) are waiting to be written */
  guint32 piped;          /* bytes in the pipe */
  guint8 small_reads;     /* splice reads in a row that found little */
  guint splice : 1;       /* may use the pipe path (until splice() says it cannot) */
  guint bulk : 1;         /* a read filled the buffer: splice while this holds */
  guint pipe_full : 1;    /* splice() into the pipe would block */
  guint eof : 1;          /* the source is done: it sent EOF, or its socket failed */
  guint shut : 1;         /* a clean EOF passed on: shutdown(SHUT_WR) on the sink (or close() does it) */
  guint sink_failed : 1;  /* the sink's socket failed: nothing more moves, what waited is dropped */
} Pump;

struct MbRelay {
  Endpoint endpoint[2];   /* 0: client, 1: backend */
  Pump pump[2];           /* pump i reads endpoint i and writes endpoint 1 - i */
  gint64 last_activity;   /* monotonic, microseconds */
  struct IdleClock *clock; /* NULL without an idle timeout */
  GList idle_link;        /* in clock->relays */
  GSource *timer;         /* reporting a failed start, or waiting before a reset */
  guint linger_delay_ms;  /* the wait's next pause */
  gint64 linger_progress; /* when the surviving send queue last shrank */
  guint64 linger_queued;  /* its bytes then */
  guint64 *counters[2][2];  /* added to by pump i's reads (stats.h) */
  MbRelayDone done;
  gpointer user_data;
  GError *error;
  guint finished : 1;     /* nothing more moves; DONE is due */
  guint abortive : 1;     /* the sockets close with RST */
  guint reported : 1;     /* DONE was called */
};

static const gchar *const side_name[2] = { "client", "backend" };

/* Bytes read by every relay of the process, by path (stats.h). */
static guint64 bytes_spliced, bytes_copied;

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

static void relay_timed_out (MbRelay *relay, guint64 timeout_ms);
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
      relay_timed_out (relay, clock->timeout_ms);   /* takes it off the list */
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

/* Bytes waiting in PUMP (its buffer or its pipe). */
static gsize
pump_pending (const Pump *pump)
{
  return (pump->end - pump->start) + pump->piped;
}

/* Pump I read N bytes, by the path that PATH counts. */
static void
count_read (MbRelay *relay, gint i, gsize n, guint64 *path)
{
  relay->pump[i].total += (guint64) n;
  mb_counter_add (path, n);
  for (gint c = 0; c < 2; c++)
    if (relay->counters[i][c] != NULL)
      mb_counter_add (relay->counters[i][c], n);
  idle_touch (relay);
}

static gboolean
pump_wants_read (const Pump *pump)
{
  if (pump->eof || pump->sink_failed)
    return FALSE;
  if (pump->piped > 0)
    return !pump->pipe_full && pump->piped < MB_PIPE_SIZE;
  return pump->end < MB_RELAY_BUFFER_SIZE;
}

/* This thread's spare buffers. */
static __thread guint8 *buffer_cache[BUFFER_CACHE];
static __thread guint n_cached;

static void
pump_take_buffer (Pump *pump)
{
  if (pump->buffer == NULL)
    pump->buffer = n_cached > 0 ? buffer_cache[--n_cached] : g_malloc (MB_RELAY_BUFFER_SIZE);
}

/* The buffer goes as soon as it is empty: 10,000 sessions that once copied
 * a burst must not keep 64 KiB each while they idle. */
static void
pump_release_buffer (Pump *pump)
{
  pump->start = pump->end = 0;
  if (pump->buffer == NULL)
    return;
  if (n_cached < BUFFER_CACHE)
    buffer_cache[n_cached++] = pump->buffer;
  else
    {
      g_free (pump->buffer);
      mb_trim_request ();
    }
  pump->buffer = NULL;
}

/* Drops whatever PUMP holds. */
static void
pump_discard (Pump *pump)
{
  pump_release_buffer (pump);
  if (pump->pipe.read_fd >= 0)
    {
      /* A pipe that still holds bytes is not reused. */
      if (pump->piped > 0)
        mb_pipes_discard (&pump->pipe);
      else
        mb_pipes_give (&pump->pipe);
    }
  pump->piped = 0;
  pump->pipe_full = FALSE;
}

/* Socket SIDE failed; WHAT is the call that said so.  What the socket sent
 * before is still read and delivered (see the top of this file); what was
 * on its way to it is dropped. */
static void
endpoint_failed (MbRelay *relay, gint side, const gchar *what, gint errnum)
{
  Endpoint *endpoint = &relay->endpoint[side];
  Pump *toward = &relay->pump[1 - side];

  if (endpoint->error != 0)
    return;
  endpoint->error = errnum;
  if (relay->error == NULL)
    relay->error = g_error_new (MB_ERROR, MB_ERROR_IO, "%s: %s: %s", side_name[side], what,
                                g_strerror (errnum));
  toward->sink_failed = TRUE;
  pump_discard (toward);
}

/* Passes pump I's EOF on once it is flushed; an EOF that ends a failure is
 * passed on as a reset when the relay closes instead. */
static void
pump_shut (MbRelay *relay, gint i)
{
  Pump *pump = &relay->pump[i];

  if (!pump->eof || pump->shut || pump->sink_failed || relay->endpoint[i].error != 0
      || pump_pending (pump) > 0)
    return;
  pump->shut = TRUE;
  /* When the other direction is over too, the relay ends now and its
   * owner closes both sockets: close() sends this FIN (everything the sink
   * sent was read, up to its EOF), one system call fewer. */
  if (relay->pump[1 - i].shut)
    return;
  if (shutdown (relay->endpoint[1 - i].fd, SHUT_WR) < 0 && errno != ENOTCONN)
    endpoint_failed (relay, 1 - i, "shutdown", errno);
}

/* Pump I's source is done: EOF, or (ERRNUM) its socket failed. */
static void
pump_source_ended (MbRelay *relay, gint i, const gchar *what, gint errnum)
{
  relay->pump[i].eof = TRUE;
  if (errnum != 0)
    endpoint_failed (relay, i, what, errnum);
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
            endpoint_failed (relay, 1 - i, "send", errno);
          return;
        }
      pump->start += (guint32) n;
      idle_touch (relay);
    }
  pump_release_buffer (pump);
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
            endpoint_failed (relay, 1 - i, "splice", errno);
          return;
        }
      pump->piped -= (guint32) n;
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
  gsize room = MB_PIPE_SIZE - pump->piped;
  ssize_t n;

  if (pump->pipe.read_fd < 0 && !mb_pipes_take (&pump->pipe))
    return FALSE;   /* no pipe to be had now: copy this time */
  do
    n = splice (fd, NULL, pump->pipe.write_fd, NULL, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
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
        pump_source_ended (relay, i, "splice", errno);
    }
  else if (n == 0)
    pump_source_ended (relay, i, NULL, 0);
  else
    {
      pump->piped += (guint32) n;
      count_read (relay, i, (gsize) n, &bytes_spliced);
      /* A short read that the pipe's room did not cut short: the source
       * ran dry.  Several in a row end the bulk transfer (the pump copies
       * again from the next read that finds it empty). */
      if ((gsize) n < MIN (room, SMALL_READ))
        {
          if (++pump->small_reads >= SMALL_READS)
            {
              pump->bulk = FALSE;
              pump->small_reads = 0;
            }
        }
      else
        pump->small_reads = 0;
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
  /* While bytes wait in the pipe, reads go on into the pipe, and while
   * they wait in the buffer, into the buffer (order is kept); only an
   * empty pump takes the path that its mode says. */
  if (pump->splice && pump->end == 0 && (pump->bulk || pump->piped > 0) && pump_read_piped (relay, i))
    return;
#endif
  pump_take_buffer (pump);
  do
    n = recv (fd, pump->buffer + pump->end, MB_RELAY_BUFFER_SIZE - pump->end, 0);
  while (n < 0 && errno == EINTR);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    {
      if (pump->end == 0)
        pump_release_buffer (pump);
      return;
    }
  if (n < 0)
    pump_source_ended (relay, i, "recv", errno);
  else if (n == 0)
    pump_source_ended (relay, i, NULL, 0);
  else
    {
      pump->end += (guint32) n;
      count_read (relay, i, (gsize) n, &bytes_copied);
      /* A full buffer: a bulk transfer, spliced once this buffer is out. */
      if (pump->end == MB_RELAY_BUFFER_SIZE && pump->splice)
        {
          pump->bulk = TRUE;
          pump->small_reads = 0;
        }
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

/* Nothing more will move through pump I. */
static gboolean
pump_complete (const MbRelay *relay, gint i)
{
  const Pump *pump = &relay->pump[i];

  return pump->sink_failed
         || (pump->eof && pump_pending (pump) == 0 && (pump->shut || relay->endpoint[i].error != 0));
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
      if (pump_pending (&relay->pump[1 - i]) > 0)
        want |= G_IO_OUT;
      if (want == 0 && endpoint->hung_up)
        {
          mb_poller_unwatch (&endpoint->handle);
          continue;
        }
      if (!mb_poller_watch (&endpoint->handle, want, &error))
        {
          /* Only when the kernel is out of memory: end this session. */
          relay->finished = TRUE;
          if (relay->error == NULL)
            relay->error = g_steal_pointer (&error);
          return;
        }
    }
}

/* Bytes the kernel holds for FD that its peer has not acknowledged. */
static guint64
unacknowledged (int fd)
{
#ifdef SIOCOUTQ
  int queued = 0;

  if (ioctl (fd, SIOCOUTQ, &queued) == 0 && queued > 0)
    return (guint64) queued;
#endif
  return 0;
}

/* What the sockets that did not fail still have to get acknowledged. */
static guint64
surviving_queue (const MbRelay *relay)
{
  guint64 queued = 0;

  for (gint i = 0; i < 2; i++)
    if (relay->endpoint[i].error == 0)
      queued += unacknowledged (relay->endpoint[i].fd);
  return queued;
}

static void
report (MbRelay *relay)
{
  mb_worker_clear_source (&relay->timer);
  /* The owner closes both sockets right after DONE (relay.h), which takes
   * them out of the epoll set: no system call for it here. */
  mb_poller_forget (&relay->endpoint[0].handle);
  mb_poller_forget (&relay->endpoint[1].handle);
  if (relay->abortive)
    for (gint i = 0; i < 2; i++)
      mb_address_set_abortive (relay->endpoint[i].fd);
  relay->reported = TRUE;
  /* DONE may free the relay: nothing touches it afterwards. */
  relay->done (relay, relay->error, relay->user_data);
}

static gboolean
on_linger (gpointer data)
{
  MbRelay *relay = data;
  guint64 queued = surviving_queue (relay);
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&relay->timer, g_source_unref);
  if (queued < relay->linger_queued)
    relay->linger_progress = now;
  relay->linger_queued = queued;
  if (queued == 0 || now - relay->linger_progress > (gint64) LINGER_STALL_MS * 1000)
    {
      report (relay);
      return G_SOURCE_REMOVE;
    }
  relay->linger_delay_ms = MIN (relay->linger_delay_ms * 2, LINGER_MAX_DELAY_MS);
  relay->timer = mb_worker_timeout (relay->linger_delay_ms, on_linger, relay);
  return G_SOURCE_REMOVE;
}

static void
finish (MbRelay *relay)
{
  gboolean timed_out = g_error_matches (relay->error, MB_ERROR, MB_ERROR_TIMED_OUT);
  gboolean failed = !timed_out && (relay->endpoint[0].error != 0 || relay->endpoint[1].error != 0);

  idle_leave (relay);
  if (relay->error != NULL && !timed_out)
    relay->abortive = TRUE;
  /* A side failed and the other got all it sent: let that arrive before
   * the reset that would throw it away. */
  if (failed && (relay->linger_queued = surviving_queue (relay)) > 0)
    {
      mb_poller_unwatch (&relay->endpoint[0].handle);
      mb_poller_unwatch (&relay->endpoint[1].handle);
      relay->linger_progress = g_get_monotonic_time ();
      relay->linger_delay_ms = 1;
      relay->timer = mb_worker_timeout (relay->linger_delay_ms, on_linger, relay);
      return;
    }
  report (relay);
}

/* No byte moved either way for TIMEOUT_MS.  With bytes still waiting,
 * the stream is cut: reset, not ended with a FIN that the peer would take
 * for a clean end. */
static void
relay_timed_out (MbRelay *relay, guint64 timeout_ms)
{
  gsize pending = pump_pending (&relay->pump[0]) + pump_pending (&relay->pump[1]);

  relay->finished = TRUE;
  g_clear_error (&relay->error);
  if (pending > 0)
    {
      relay->abortive = TRUE;
      relay->error = g_error_new (MB_ERROR, MB_ERROR_TIMED_OUT,
                                  "idle for %" G_GUINT64_FORMAT " ms with %" G_GSIZE_FORMAT
                                  " bytes undelivered", timeout_ms, pending);
    }
  else
    relay->error = g_error_new (MB_ERROR, MB_ERROR_TIMED_OUT, "idle for %" G_GUINT64_FORMAT " ms",
                                timeout_ms);
  finish (relay);
}

/* After an event: ends the relay when nothing more can move, else watches
 * what it needs next. */
static void
relay_update (MbRelay *relay)
{
  if (!relay->finished && pump_complete (relay, 0) && pump_complete (relay, 1))
    relay->finished = TRUE;
  if (!relay->finished)
    update_watches (relay);
  if (relay->finished)
    finish (relay);
}

static void
on_io (MbPollerHandle *handle, GIOCondition condition)
{
  MbRelay *relay = handle->data;
  gint side = handle == &relay->endpoint[0].handle ? 0 : 1;
  Endpoint *endpoint = &relay->endpoint[side];
  Pump *from = &relay->pump[side];

  if (condition & (G_IO_HUP | G_IO_ERR))
    endpoint->hung_up = TRUE;
  /* A pending error waits for recv() to report it after the bytes before
   * it, unless nothing more is read from this socket. */
  if ((condition & G_IO_ERR) && endpoint->error == 0 && (from->eof || from->sink_failed))
    {
      gint errnum = mb_address_take_error (endpoint->fd);

      if (errnum != 0)
        endpoint_failed (relay, side, "connection", errnum);
    }
  if ((condition & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && pump_wants_read (from))
    pump_read (relay, side);
  if (condition & (G_IO_OUT | G_IO_HUP | G_IO_ERR))
    pump_flush (relay, 1 - side);
  relay_update (relay);
}

static gboolean
on_start_failed (gpointer data)
{
  MbRelay *relay = data;

  g_clear_pointer (&relay->timer, g_source_unref);
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
              const MbRelayCounters *counters, MbRelayDone done, gpointer user_data)
{
  MbRelay *relay = g_new0 (MbRelay, 1);

  if (counters != NULL)
    for (gint c = 0; c < 2; c++)
      {
        relay->counters[0][c] = counters->from_client[c];
        relay->counters[1][c] = counters->to_client[c];
      }

  for (gint i = 0; i < 2; i++)
    {
      relay->pump[i].splice = mb_pipes_enabled () ? 1 : 0;
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
      relay->timer = mb_worker_attach (g_idle_source_new (), on_start_failed, relay);
    }
  return relay;
}

void
mb_relay_free (MbRelay *relay)
{
  if (relay == NULL)
    return;
  /* Ended by its owner mid-stream (shutdown): a stream cut with bytes
   * still on their way is reset, not ended with a FIN. */
  if (!relay->reported
      && (relay->abortive || pump_pending (&relay->pump[0]) > 0 || pump_pending (&relay->pump[1]) > 0))
    for (gint i = 0; i < 2; i++)
      mb_address_set_abortive (relay->endpoint[i].fd);
  for (gint i = 0; i < 2; i++)
    {
      mb_poller_forget (&relay->endpoint[i].handle);
      pump_discard (&relay->pump[i]);
    }
  idle_leave (relay);
  mb_worker_clear_source (&relay->timer);
  g_clear_error (&relay->error);
  g_free (relay);
}

void
mb_relay_thread_cleanup (void)
{
  GHashTableIter iter;
  IdleClock *clock;

  while (n_cached > 0)
    g_free (buffer_cache[--n_cached]);
  mb_pipes_thread_cleanup ();
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

guint64
mb_relay_bytes_spliced (void)
{
  return mb_counter_get (&bytes_spliced);
}

guint64
mb_relay_bytes_copied (void)
{
  return mb_counter_get (&bytes_copied);
}
