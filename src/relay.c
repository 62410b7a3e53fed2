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
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "poller.h"
#include "relay.h"

typedef struct {
  int fd;
  MbPollerHandle handle;  /* its data is the relay */
  gboolean hung_up;       /* poll() said HUP: watch only when there is work */
} Endpoint;

typedef struct {
  guint8 *buffer;         /* MB_RELAY_BUFFER_SIZE bytes, allocated on first read */
  gsize start, end;       /* bytes [start, end) are waiting to be written */
  gboolean eof;           /* the source said EOF */
  gboolean shut;          /* EOF passed on: shutdown(SHUT_WR) done on the sink */
  guint64 total;          /* bytes read from the source */
} Pump;

struct MbRelay {
  Endpoint endpoint[2];   /* 0: client, 1: backend */
  Pump pump[2];           /* pump i reads endpoint i and writes endpoint 1 - i */
  guint64 idle_timeout_ms;
  gint64 last_activity;   /* monotonic, microseconds */
  guint idle_timer;
  MbRelayDone done;
  gpointer user_data;
  GError *error;
  gboolean finished;
};

static const gchar *const side_name[2] = { "client", "backend" };

static void
fail (MbRelay *relay, gint side, const gchar *what, gint errnum)
{
  if (relay->finished)
    return;
  relay->finished = TRUE;
  relay->error = g_error_new (MB_ERROR, MB_ERROR_IO, "%s: %s: %s", side_name[side], what,
                              g_strerror (errnum));
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
      relay->last_activity = g_get_monotonic_time ();
    }
  pump->start = pump->end = 0;

  if (pump->eof && !pump->shut)
    {
      pump->shut = TRUE;
      if (shutdown (fd, SHUT_WR) < 0 && errno != ENOTCONN)
        fail (relay, 1 - i, "shutdown", errno);
    }
}

/* Reads from pump I's source into its buffer, then writes straight on. */
static void
pump_read (MbRelay *relay, gint i)
{
  Pump *pump = &relay->pump[i];
  int fd = relay->endpoint[i].fd;
  ssize_t n;

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
      relay->last_activity = g_get_monotonic_time ();
    }
  pump_write (relay, i);
}

static gboolean
pump_wants_read (const Pump *pump)
{
  return !pump->eof && pump->end < MB_RELAY_BUFFER_SIZE;
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
      if (relay->pump[1 - i].start < relay->pump[1 - i].end)
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
  endpoint_unwatch (&relay->endpoint[0]);
  endpoint_unwatch (&relay->endpoint[1]);
  if (relay->idle_timer != 0)
    g_source_remove (relay->idle_timer);
  relay->idle_timer = 0;
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
    pump_write (relay, 1 - side);
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
on_idle_timer (gpointer data)
{
  MbRelay *relay = data;
  gint64 idle_us = (gint64) relay->idle_timeout_ms * 1000;
  gint64 quiet = g_get_monotonic_time () - relay->last_activity;

  relay->idle_timer = 0;
  if (quiet >= idle_us)
    {
      relay->finished = TRUE;
      relay->error = g_error_new (MB_ERROR, MB_ERROR_TIMED_OUT, "idle for %" G_GUINT64_FORMAT " ms",
                                  relay->idle_timeout_ms);
      finish (relay);
      return G_SOURCE_REMOVE;
    }
  /* Bytes moved meanwhile: wait for the rest of the quiet period. */
  relay->idle_timer = g_timeout_add ((guint) ((idle_us - quiet + 999) / 1000), on_idle_timer, relay);
  return G_SOURCE_REMOVE;
}

static gboolean
on_start_failed (gpointer data)
{
  MbRelay *relay = data;

  relay->idle_timer = 0;
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
mb_relay_new (int client_fd, int backend_fd, guint64 idle_timeout_ms,
              MbRelayDone done, gpointer user_data)
{
  MbRelay *relay = g_new0 (MbRelay, 1);

  endpoint_init (&relay->endpoint[0], client_fd, relay);
  endpoint_init (&relay->endpoint[1], backend_fd, relay);
  relay->idle_timeout_ms = idle_timeout_ms;
  relay->last_activity = g_get_monotonic_time ();
  relay->done = done;
  relay->user_data = user_data;
  if (idle_timeout_ms > 0)
    relay->idle_timer = g_timeout_add ((guint) MIN (idle_timeout_ms, G_MAXUINT), on_idle_timer, relay);
  update_watches (relay);
  if (relay->finished)
    {
      /* The sockets could not be watched: report it from the main loop, as
       * DONE must not run before our caller has the relay. */
      if (relay->idle_timer != 0)
        g_source_remove (relay->idle_timer);
      relay->idle_timer = g_idle_add (on_start_failed, relay);
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
      endpoint_unwatch (&relay->endpoint[i]);
      g_free (relay->pump[i].buffer);
    }
  if (relay->idle_timer != 0)
    g_source_remove (relay->idle_timer);
  g_clear_error (&relay->error);
  g_free (relay);
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
