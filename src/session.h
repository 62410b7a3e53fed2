/* session.h - one client connection, from accept to close.
 *
 * A session picks a backend with its frontend's balancer, connects to it
 * asynchronously (connect_timeout per attempt; a backend that refuses or
 * times out is skipped and the next one tried, each of its addresses in
 * order), then relays bytes until both sides are done, and logs the outcome.
 * The client is closed only when no backend accepts.
 *
 * Live sessions are counted so that shutdown can wait for them (drain) or
 * end them all at once.
 */
#pragma once

#include <gio/gio.h>
#include <sys/socket.h>

#include "frontend.h"

G_BEGIN_DECLS

/* Takes ownership of CLIENT, an accepted non-blocking socket from PEER,
 * and of the two descriptors the accept loop took for it from the budget
 * (fds.h: client and backend socket), given back when the session ends.
 * Called on the worker that accepted it, where the session then lives
 * (or on a lighter worker, when this one has more sessions than the others
 * by more than MB_WORKER_SPREAD: worker.h): plans the backends to try
 * (under the frontend's lock) and connects. */
void mb_session_start (MbFrontend *frontend, int client, const struct sockaddr *peer, socklen_t peer_len);

/* Live sessions on every worker. */
guint mb_session_count (void);
/* Ends every live session of this thread's worker now (their clients and
 * backends are closed). */
void mb_session_close_all (void);
/* Closes, with a reset on both sides, every live session whose backend is
 * BACKEND (connecting to it or relaying), on every worker; then calls
 * DONE (USER_DATA) on the main thread with how many there were.  From the
 * main thread. */
typedef void (*MbSessionsClosed) (guint closed, gpointer user_data);
void mb_session_close_backend (MbBackend *backend, MbSessionsClosed done, gpointer user_data);
/* Called (from the main thread's loop) each time the last live session
 * ends. */
void mb_session_set_idle_callback (GSourceFunc callback, gpointer user_data);

G_END_DECLS
