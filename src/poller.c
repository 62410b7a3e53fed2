/* poller.c - the epoll set behind the relay's sockets; see poller.h. */
#include "build-config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <glib-unix.h>

#include "error.h"
#include "poller.h"

#define BATCH 256
/* A handle's condition after mb_poller_move(): in the set, not yet its own. */
#define MOVED ((GIOCondition) G_IO_NVAL)

typedef struct {
  int epfd;
  GSource *source;
  struct epoll_event events[BATCH];
  gint n_events;            /* of the batch being dispatched */
  gint next;                /* its next entry */
  gboolean prefetched;      /* the batch came from epoll_poll(): dispatch it as it is */
  int wakeup_fd;            /* the context's own descriptor, in our set (epoll_poll); -1: none */
} Poller;

/* epoll data of the context's wake-up descriptor in our set. */
static const int wakeup_marker;

/* One per thread: each worker drives its own sessions (worker.h). */
static __thread Poller *poller;

static GIOCondition
to_condition (guint32 events)
{
  return (events & EPOLLIN ? G_IO_IN : 0) | (events & EPOLLOUT ? G_IO_OUT : 0)
         | (events & EPOLLHUP ? G_IO_HUP : 0) | (events & EPOLLERR ? G_IO_ERR : 0);
}

static guint32
to_events (GIOCondition condition)
{
  return (condition & G_IO_IN ? EPOLLIN : 0) | (condition & G_IO_OUT ? EPOLLOUT : 0);
}

static gboolean
on_ready (gint fd, GIOCondition condition, gpointer data)
{
  gint n;

  if (poller->prefetched)
    poller->prefetched = FALSE;
  else
    {
      do
        n = epoll_wait (poller->epfd, poller->events, BATCH, 0);
      while (n < 0 && errno == EINTR);
      poller->n_events = MAX (n, 0);
    }
  for (poller->next = 0; poller->next < poller->n_events; )
    {
      struct epoll_event *event = &poller->events[poller->next++];
      MbPollerHandle *handle = event->data.ptr;

      /* NULL: unwatched by an earlier callback of this batch. */
      if (handle != NULL)
        handle->func (handle, to_condition (event->events));
    }
  poller->n_events = 0;
  return G_SOURCE_CONTINUE;
}

static Poller *
get_poller (GError **error)
{
  if (poller != NULL)
    return poller;
  poller = g_new0 (Poller, 1);
  poller->wakeup_fd = -1;
  poller->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (poller->epfd < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "epoll_create1: %s", g_strerror (errno));
      g_clear_pointer (&poller, g_free);
      return NULL;
    }
  poller->source = g_unix_fd_source_new (poller->epfd, G_IO_IN);
  /* Not "blocked" while dispatched: GLib would take the descriptor out of
   * its poll set and put it back around every dispatch, each time writing
   * to the context's wake-up eventfd and costing an extra loop iteration
   * (two writes, a read and a poll per event, seen with strace).  Our
   * callback never runs the main loop, so recursion cannot happen. */
  g_source_set_can_recurse (poller->source, TRUE);
  g_source_set_callback (poller->source, (GSourceFunc) (void (*) (void)) on_ready, NULL, NULL);
  g_source_attach (poller->source, g_main_context_get_thread_default ());
  return poller;
}

/* The poll function of a thread's context (mb_poller_drive_context): GLib
 * polls our epoll descriptor and the context's wake-up descriptor, then
 * on_ready() asks the epoll set again what is ready: two system calls per
 * loop iteration.  Here the wake-up descriptor sits in our set too, and one
 * epoll_wait() answers for both; its batch is what on_ready() dispatches.
 * Any other descriptor in the context (there is none: listeners, sessions
 * and checks are all in the set) means GLib's own poll() for that
 * iteration.  Events not dispatched (say a higher-priority
 * source ran instead) are not lost: the set is level-triggered and reports
 * them again. */
static gint
epoll_poll (GPollFD *fds, guint nfds, gint timeout)
{
  GPollFD *own = NULL, *wakeup = NULL;
  gint n, kept = 0;

  /* Whatever an earlier iteration fetched and did not dispatch is stale
   * now: the set is level-triggered, so it is asked again (here, or by
   * on_ready() after GLib's own poll()). */
  if (poller != NULL)
    poller->prefetched = FALSE;
  if (poller == NULL || nfds > 2)
    return g_poll (fds, nfds, timeout);
  for (guint i = 0; i < nfds; i++)
    {
      if (fds[i].fd == poller->epfd)
        own = &fds[i];
      else
        wakeup = &fds[i];
    }
  if (own == NULL || (wakeup != NULL && wakeup->fd != poller->wakeup_fd && poller->wakeup_fd >= 0))
    return g_poll (fds, nfds, timeout);
  if (wakeup != NULL && poller->wakeup_fd < 0)
    {
      struct epoll_event event = { .events = EPOLLIN, .data.ptr = (gpointer) &wakeup_marker };

      if (epoll_ctl (poller->epfd, EPOLL_CTL_ADD, wakeup->fd, &event) < 0)
        return g_poll (fds, nfds, timeout);
      poller->wakeup_fd = wakeup->fd;
    }

  n = epoll_wait (poller->epfd, poller->events, BATCH, timeout);
  if (n < 0)
    return n;   /* errno as poll() would set it (EINTR) */
  own->revents = 0;
  if (wakeup != NULL)
    wakeup->revents = 0;
  for (gint i = 0; i < n; i++)
    {
      if (poller->events[i].data.ptr == &wakeup_marker)
        {
          if (wakeup != NULL)
            wakeup->revents = G_IO_IN;
        }
      else
        poller->events[kept++] = poller->events[i];
    }
  poller->n_events = kept;
  poller->next = 0;
  poller->prefetched = kept > 0;
  if (kept > 0)
    own->revents = G_IO_IN;
  return (own->revents ? 1 : 0) + (wakeup != NULL && wakeup->revents ? 1 : 0);
}

void
mb_poller_drive_context (GMainContext *context)
{
  g_main_context_set_poll_func (context, epoll_poll);
}

gboolean
mb_poller_init (GError **error)
{
  return get_poller (error) != NULL;
}

void
mb_poller_free (void)
{
  if (poller == NULL)
    return;
  g_source_destroy (poller->source);
  g_source_unref (poller->source);
  close (poller->epfd);
  g_clear_pointer (&poller, g_free);
}

void
mb_poller_handle_init (MbPollerHandle *handle, int fd, MbPollerFunc func, gpointer data)
{
  handle->fd = fd;
  handle->func = func;
  handle->data = data;
  handle->condition = 0;
}

gboolean
mb_poller_watch (MbPollerHandle *handle, GIOCondition condition, GError **error)
{
  struct epoll_event event = { 0 };
  Poller *p;

  /* HUP and ERR come whether asked or not, as with poll(). */
  condition = (condition & (G_IO_IN | G_IO_OUT)) | G_IO_HUP | G_IO_ERR;
  if (condition == handle->condition)
    return TRUE;
  if ((p = get_poller (error)) == NULL)
    return FALSE;
  event.events = to_events (condition);
  event.data.ptr = handle;
  if (epoll_ctl (p->epfd, handle->condition ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, handle->fd, &event) < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "epoll_ctl: %s", g_strerror (errno));
      return FALSE;
    }
  handle->condition = condition;
  return TRUE;
}

gboolean
mb_poller_watch_exclusive (MbPollerHandle *handle, GError **error)
{
  struct epoll_event event = { 0 };
  Poller *p;

  if (handle->condition != 0)
    return TRUE;
  if ((p = get_poller (error)) == NULL)
    return FALSE;
  event.events = EPOLLIN | EPOLLEXCLUSIVE;
  event.data.ptr = handle;
  if (epoll_ctl (p->epfd, EPOLL_CTL_ADD, handle->fd, &event) < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "epoll_ctl: %s", g_strerror (errno));
      return FALSE;
    }
  handle->condition = G_IO_IN | G_IO_HUP | G_IO_ERR;
  return TRUE;
}

/* HANDLE may be further down the batch being dispatched: never call it. */
static void
drop_pending (MbPollerHandle *handle)
{
  for (gint i = poller->next; i < poller->n_events; i++)
    if (poller->events[i].data.ptr == handle)
      poller->events[i].data.ptr = NULL;
}

void
mb_poller_unwatch (MbPollerHandle *handle)
{
  if (handle->condition == 0)
    return;
  epoll_ctl (poller->epfd, EPOLL_CTL_DEL, handle->fd, NULL);
  handle->condition = 0;
  drop_pending (handle);
}

void
mb_poller_forget (MbPollerHandle *handle)
{
  if (handle->condition == 0)
    return;
  handle->condition = 0;
  drop_pending (handle);
}

void
mb_poller_move (MbPollerHandle *from, MbPollerHandle *to)
{
  if (from->condition == 0)
    return;
  g_return_if_fail (from->fd == to->fd);
  /* Registered, but with FROM as its data: no real condition matches this,
   * so TO's next watch makes the EPOLL_CTL_MOD that points it at TO. */
  to->condition = MOVED;
  from->condition = 0;
  drop_pending (from);
}
