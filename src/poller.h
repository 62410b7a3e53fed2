/* poller.h - an epoll set per thread that drives its sockets from its GLib main loop.
 *
 * GLib's main loop polls every watched descriptor on every iteration, so
 * with thousands of idle sessions each wake-up costs thousands of pollfd
 * entries (bench/compare showed throughput falling to 0.06x with 2,000 idle
 * connections parked).  Each thread's sockets (listeners, sessions, health
 * checks) live in one level-triggered epoll set of that thread instead, and
 * only the epoll descriptor is watched by the thread's main context (with
 * mb_poller_drive_context, in one epoll_wait() per iteration): the cost of a
 * wake-up follows the number of ready sockets, not of open ones.  Semantics
 * are poll()'s: G_IO_HUP and G_IO_ERR are always reported.
 *
 * Handles are owned by the caller (embedded in its structures); a handle
 * unwatched during a dispatch is never called again, even if it was ready
 * in the same batch.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct MbPollerHandle MbPollerHandle;
typedef void (*MbPollerFunc) (MbPollerHandle *handle, GIOCondition condition);

struct MbPollerHandle {
  int fd;
  MbPollerFunc func;
  gpointer data;
  GIOCondition condition;   /* what is watched; 0: not in the set */
};

/* Creates this thread's epoll set now, at start-up, rather than at the
 * first session (so that a shortage of descriptors later cannot stop the
 * relay).  Each thread has its own set, watched from the thread's default
 * main context; handles are watched in the set of the thread that watches
 * them, and must be unwatched from that thread. */
gboolean mb_poller_init (GError **error);
/* Makes CONTEXT (this thread's, whose only sources with descriptors are
 * this poller's) wait in one epoll_wait() per iteration instead of GLib's
 * poll() plus one; see poller.c.  Any other descriptor in the context makes
 * that iteration use GLib's poll(). */
void mb_poller_drive_context (GMainContext *context);
/* Closes this thread's epoll set (no handle may be watched any more). */
void mb_poller_free (void);

void mb_poller_handle_init (MbPollerHandle *handle, int fd, MbPollerFunc func, gpointer data);
/* Watches CONDITION (G_IO_IN, G_IO_OUT) plus G_IO_HUP and G_IO_ERR, which
 * are always reported: watching 0 still reports those two. */
gboolean mb_poller_watch (MbPollerHandle *handle, GIOCondition condition, GError **error);
/* Watches G_IO_IN with EPOLLEXCLUSIVE, for a listening socket that is in
 * every worker's set: a new connection wakes one waiting worker, not all
 * (admission.h).  Such a registration cannot be changed, only unwatched
 * (EPOLL_CTL_MOD refuses EPOLLEXCLUSIVE); a handle already watched is left
 * as it is. */
gboolean mb_poller_watch_exclusive (MbPollerHandle *handle, GError **error);
void mb_poller_unwatch (MbPollerHandle *handle);
/* Like mb_poller_unwatch() for a descriptor the caller closes right away,
 * before the main loop runs again: closing it takes it out of the set, so
 * no system call is made here.  (The descriptor must not have been
 * duplicated: the set holds it until its last copy is closed.) */
void mb_poller_forget (MbPollerHandle *handle);
/* Hands FROM's place in the set (same descriptor) over to TO, without a
 * system call now: TO's next mb_poller_watch() changes the registration
 * (one EPOLL_CTL_MOD instead of a DEL and an ADD).  FROM is unwatched. */
void mb_poller_move (MbPollerHandle *from, MbPollerHandle *to);

G_END_DECLS
