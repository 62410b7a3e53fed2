/* relay.h - moves bytes between a client and a backend socket.
 *
 * Two one-way pumps (client -> backend, backend -> client), driven by
 * readiness of the two non-blocking sockets in the epoll set of the thread
 * that runs the relay (poller.h):
 *  - bytes pass unmodified and in order; each pump holds at most
 *    MB_RELAY_BUFFER_SIZE bytes (in its buffer or its pipe), and stops
 *    reading its source while full (backpressure: a slow peer cannot grow
 *    memory); a pump holds a buffer or a pipe only while bytes wait in it;
 *  - EOF from one side is passed on as shutdown(SHUT_WR) once the pump is
 *    flushed, and the other direction keeps flowing (half-close);
 *  - a reset or error on one side: what that side sent before is still
 *    delivered, then the other side is reset (as a direct connection
 *    behaves); what was on its way to the failed side is dropped;
 *  - with an idle timeout, no byte moving either way for that long ends
 *    it: with a FIN when nothing waits, with a reset when bytes still wait;
 *  - a pump copies small reads through its buffer and moves a bulk
 *    transfer through a kernel pipe with splice() (Linux, when pipes.h
 *    allows), switching only while it holds no byte (relay.c, "Paths").
 * The relay never closes the descriptors: its owner does, as soon as DONE
 * has been called or the relay freed, before the main loop runs again (the
 * relay leaves them in the poller's epoll set, and closing them takes them
 * out: a system call fewer for each).  The relay sets how they close: RST
 * (SO_LINGER 0) for a stream that was cut, else FIN.
 */
#pragma once

#include <glib.h>

#include "poller.h"

G_BEGIN_DECLS

#define MB_RELAY_BUFFER_SIZE (64 * 1024)

typedef struct MbRelay MbRelay;

/* Called once, from the main loop, when the relay is over.  ERROR is NULL
 * when both directions ended cleanly.  The callback may free the relay. */
typedef void (*MbRelayDone) (MbRelay *relay, const GError *error, gpointer user_data);

/* Counters (stats.h) that each read adds its bytes to, as it happens, so
 * that they count live sessions too; NULL entries are skipped.  They must
 * outlive the relay. */
typedef struct {
  guint64 *from_client[2];
  guint64 *to_client[2];
} MbRelayCounters;

/* BACKEND_WATCH (may be NULL): a handle that has BACKEND_FD in this
 * thread's poller already (the connect's); the relay takes its place.
 * COUNTERS (may be NULL) is copied. */
MbRelay *mb_relay_new (int client_fd, int backend_fd, MbPollerHandle *backend_watch,
                       guint64 idle_timeout_ms, const MbRelayCounters *counters,
                       MbRelayDone done, gpointer user_data);
/* Stops all watching; DONE is not called.  Safe from within DONE.  Freed
 * before DONE (the owner ends the session) with bytes still waiting, the
 * sockets are set to close with RST. */
void mb_relay_free (MbRelay *relay);

/* Frees this thread's relay state (its idle clocks, spare buffers and
 * cached pipes): at the end of each thread that ran relays, once they are
 * all freed. */
void mb_relay_thread_cleanup (void);

guint64 mb_relay_bytes_from_client (const MbRelay *relay);
guint64 mb_relay_bytes_to_client (const MbRelay *relay);

/* Bytes every relay of the process has read so far, by the path that moved
 * them: through a pipe (splice) or through a buffer (copy).  From any
 * thread: relaxed atomics (stats.h), live sessions included. */
guint64 mb_relay_bytes_spliced (void);
guint64 mb_relay_bytes_copied (void);

G_END_DECLS
