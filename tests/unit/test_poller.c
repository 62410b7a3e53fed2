/* Tests for src/poller.c: the epoll set behind the GLib main loop, over
 * socketpairs, iterating the main context by hand. */
#include "build-config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "poller.h"
#include "testutil.h"

typedef struct {
  MbPollerHandle handle;
  int calls;
  GIOCondition last;
  MbPollerHandle *unwatch_other;  /* unwatched from this handle's callback */
  gboolean forget;                /* ... with mb_poller_forget() */
} Probe;

static void
on_probe (MbPollerHandle *handle, GIOCondition condition)
{
  Probe *probe = handle->data;

  probe->calls++;
  probe->last = condition;
  if (probe->unwatch_other != NULL)
    {
      if (probe->forget)
        mb_poller_forget (probe->unwatch_other);
      else
        mb_poller_unwatch (probe->unwatch_other);
      probe->unwatch_other = NULL;
    }
}

static void
pair (int fds[2])
{
  ck_assert_int_eq (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
}

static void
probe_watch (Probe *probe, int fd, GIOCondition condition)
{
  g_autoptr(GError) error = NULL;

  mb_poller_handle_init (&probe->handle, fd, on_probe, probe);
  ck_assert_msg (mb_poller_watch (&probe->handle, condition, &error), "watch: %s",
                 error ? error->message : "?");
}

/* Iterates the default context without blocking until nothing is left to
 * dispatch (bounded). */
static void
iterate (void)
{
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
setup (void)
{
  g_autoptr(GError) error = NULL;

  /* A critical (g_return_if_fail) is a failed test. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  ck_assert_msg (mb_poller_init (&error), "%s", error ? error->message : "?");
  mb_poller_drive_context (g_main_context_default ());
}

static void
teardown (void)
{
  mb_poller_free ();
}

START_TEST (test_readable)
{
  int fds[2];
  Probe probe = { 0 };

  pair (fds);
  probe_watch (&probe, fds[0], G_IO_IN);
  iterate ();
  ck_assert_int_eq (probe.calls, 0);
  ck_assert_int_eq (write (fds[1], "x", 1), 1);
  iterate ();
  ck_assert_int_ge (probe.calls, 1);
  ck_assert (probe.last & G_IO_IN);
  mb_poller_unwatch (&probe.handle);
  close (fds[0]);
  close (fds[1]);
}
END_TEST

START_TEST (test_unwatch_stops_reports)
{
  int fds[2];
  Probe probe = { 0 };

  pair (fds);
  probe_watch (&probe, fds[0], G_IO_IN);
  ck_assert_int_eq (write (fds[1], "x", 1), 1);
  mb_poller_unwatch (&probe.handle);
  iterate ();
  ck_assert_int_eq (probe.calls, 0);
  ck_assert_int_eq (probe.handle.condition, 0);
  close (fds[0]);
  close (fds[1]);
}
END_TEST

/* HUP comes whether asked for or not, as with poll(). */
START_TEST (test_hangup_always_reported)
{
  int fds[2];
  Probe probe = { 0 };

  pair (fds);
  probe_watch (&probe, fds[0], 0);
  close (fds[1]);
  iterate ();
  ck_assert_int_ge (probe.calls, 1);
  ck_assert (probe.last & G_IO_HUP);
  mb_poller_unwatch (&probe.handle);
  close (fds[0]);
}
END_TEST

/* Two handles ready in one batch; the first one's callback unwatches (or
 * forgets) the second, which must then not be called. */
static void
check_unwatched_in_batch (gboolean forget)
{
  int a[2], b[2];
  Probe first = { 0 }, second = { 0 };

  pair (a);
  pair (b);
  probe_watch (&first, a[0], G_IO_IN);
  probe_watch (&second, b[0], G_IO_IN);
  ck_assert_int_eq (write (a[1], "x", 1), 1);
  ck_assert_int_eq (write (b[1], "x", 1), 1);
  /* Whichever is called first unwatches the other. */
  first.unwatch_other = &second.handle;
  second.unwatch_other = &first.handle;
  first.forget = second.forget = forget;
  g_main_context_iteration (NULL, FALSE);
  ck_assert_int_eq (first.calls + second.calls, 1);
  mb_poller_unwatch (&first.handle);
  mb_poller_unwatch (&second.handle);
  close (a[0]);
  close (a[1]);
  close (b[0]);
  close (b[1]);
}

START_TEST (test_unwatched_in_batch_not_called)
{
  check_unwatched_in_batch (FALSE);
}
END_TEST

START_TEST (test_forgotten_in_batch_not_called)
{
  check_unwatched_in_batch (TRUE);
}
END_TEST

/* mb_poller_move(): the registration passes to the new handle, whose next
 * watch points it there. */
START_TEST (test_move)
{
  int fds[2];
  Probe from = { 0 }, to = { 0 };
  g_autoptr(GError) error = NULL;

  pair (fds);
  probe_watch (&from, fds[0], G_IO_OUT);
  mb_poller_handle_init (&to.handle, fds[0], on_probe, &to);
  mb_poller_move (&from.handle, &to.handle);
  ck_assert_int_eq (from.handle.condition, 0);
  ck_assert (mb_poller_watch (&to.handle, G_IO_IN, &error));
  ck_assert_int_eq (write (fds[1], "x", 1), 1);
  iterate ();
  ck_assert_int_eq (from.calls, 0);
  ck_assert_int_ge (to.calls, 1);
  ck_assert (to.last & G_IO_IN);
  mb_poller_unwatch (&to.handle);
  close (fds[0]);
  close (fds[1]);
}
END_TEST

/* Moving from a handle that is not in the set (a connect that completed at
 * once was never watched) does nothing, whatever that handle holds. */
START_TEST (test_move_unwatched)
{
  int fds[2];
  Probe to = { 0 };
  MbPollerHandle never = { 0 };   /* as g_new0() leaves it: fd 0 */

  pair (fds);
  mb_poller_handle_init (&to.handle, fds[0], on_probe, &to);
  mb_poller_move (&never, &to.handle);
  ck_assert_int_eq (to.handle.condition, 0);
  close (fds[0]);
  close (fds[1]);
}
END_TEST

/* A source that becomes ready in the check phase, at a higher priority than
 * the poller's: in that iteration the poller's batch, already fetched by
 * the poll function, is not dispatched. */
typedef struct {
  GSource source;
  gboolean armed;
} Preempt;

static gboolean
preempt_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  return FALSE;
}

static gboolean
preempt_check (GSource *source)
{
  return ((Preempt *) source)->armed;
}

static gboolean
preempt_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  ((Preempt *) source)->armed = FALSE;
  return callback (data);
}

static GSourceFuncs preempt_funcs = { preempt_prepare, preempt_check, preempt_dispatch, NULL, NULL, NULL };

typedef struct {
  int drain_fd;     /* read empty: the stale batch's handle is not ready any more */
  int foreign_fd;   /* watched by a source of its own from now on */
  guint foreign;
} PreemptWork;

static gboolean
never_called (gint fd, GIOCondition condition, gpointer data)
{
  ck_abort_msg ("the foreign descriptor is never ready");
  return G_SOURCE_REMOVE;
}

static gboolean
on_preempt (gpointer data)
{
  PreemptWork *work = data;
  char c;

  ck_assert_int_eq (read (work->drain_fd, &c, 1), 1);
  work->foreign = g_unix_fd_add (work->foreign_fd, G_IO_IN, never_called, NULL);
  return G_SOURCE_CONTINUE;
}

/* A batch fetched but not dispatched must not be dispatched later, after
 * an iteration that fell back to GLib's own poll() (another descriptor
 * joined the context): by then it is stale. */
START_TEST (test_stale_batch_not_dispatched)
{
  int h[2], k[2], foreign[2];
  Probe stale = { 0 }, fresh = { 0 };
  GSource *source = g_source_new (&preempt_funcs, sizeof (Preempt));
  PreemptWork work;

  pair (h);
  pair (k);
  ck_assert_int_eq (pipe (foreign), 0);
  probe_watch (&stale, h[0], G_IO_IN);
  probe_watch (&fresh, k[0], G_IO_IN);
  work.drain_fd = h[0];
  work.foreign_fd = foreign[0];
  work.foreign = 0;
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, on_preempt, &work, NULL);
  g_source_attach (source, NULL);

  /* H is ready; the batch [H] is fetched, then the preempting source runs
   * instead of the poller: it reads H empty and adds a foreign descriptor. */
  ck_assert_int_eq (write (h[1], "x", 1), 1);
  ((Preempt *) source)->armed = TRUE;
  g_main_context_iteration (NULL, FALSE);
  ck_assert_int_eq (stale.calls, 0);
  ck_assert_uint_ne (work.foreign, 0);

  /* Now K is ready, and only K. */
  ck_assert_int_eq (write (k[1], "x", 1), 1);
  g_main_context_iteration (NULL, FALSE);
  ck_assert_msg (stale.calls == 0, "a handle from a stale batch was called");
  ck_assert_int_eq (fresh.calls, 1);

  g_source_remove (work.foreign);
  g_source_destroy (source);
  g_source_unref (source);
  mb_poller_unwatch (&stale.handle);
  mb_poller_unwatch (&fresh.handle);
  close (h[0]);
  close (h[1]);
  close (k[0]);
  close (k[1]);
  close (foreign[0]);
  close (foreign[1]);
}
END_TEST

static Suite *
poller_suite (void)
{
  Suite *s = suite_create ("poller");
  TCase *tc = tcase_create ("poller");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_readable);
  tcase_add_test (tc, test_unwatch_stops_reports);
  tcase_add_test (tc, test_hangup_always_reported);
  tcase_add_test (tc, test_unwatched_in_batch_not_called);
  tcase_add_test (tc, test_forgotten_in_batch_not_called);
  tcase_add_test (tc, test_move);
  tcase_add_test (tc, test_move_unwatched);
  tcase_add_test (tc, test_stale_batch_not_dispatched);
  suite_add_tcase (s, tc);
  return s;
}

RUN_SUITE (poller_suite)
