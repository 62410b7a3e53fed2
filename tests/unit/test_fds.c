/* Tests for src/fds.c: the descriptor budget's accounting. */
#include "build-config.h"

#include <unistd.h>

#include "fds.h"
#include "testutil.h"

/* A budget of LIMIT descriptors of which BASE are held at start. */
static void
budget (guint64 limit, guint base, guint max_sessions)
{
  mb_fds_init (limit, max_sessions);
  mb_fds_set_base (base);
}

static MbFdsFigures
figures (void)
{
  MbFdsFigures f;

  mb_fds_get_figures (&f);
  return f;
}

static guint
take_all_sessions (void)
{
  guint n = 0;

  while (mb_fds_session_take ())
    ck_assert_uint_lt (++n, 1u << 24);
  return n;
}

static guint
take_all_pipes (void)
{
  guint n = 0;

  while (mb_fds_pipe_take ())
    ck_assert_uint_lt (++n, 1u << 24);
  return n;
}

START_TEST (test_reserve_scales_with_the_limit)
{
  static const struct { guint64 limit; guint reserve; } cases[] = {
    { 8, 4 }, { 32, 4 }, { 100, 6 }, { 640, 40 }, { 1024, 64 }, { 20000, 64 }, { 65536, 64 },
    { G_MAXUINT64, 64 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      budget (cases[i].limit, 0, 10);
      ck_assert_uint_eq (figures ().reserve, cases[i].reserve);
      ck_assert_uint_eq (figures ().limit, cases[i].limit);
    }
}
END_TEST

START_TEST (test_sessions_fill_what_base_and_reserve_leave)
{
  MbFdsFigures f;

  /* 100 - reserve 6 - base 10 = 84: 42 sessions of 2. */
  budget (100, 10, 1000);
  f = figures ();
  ck_assert_uint_eq (f.base, 10);
  ck_assert_uint_eq (f.in_use, 10);
  ck_assert_uint_eq (f.room, 42);
  ck_assert_uint_eq (take_all_sessions (), 42);
  f = figures ();
  ck_assert_uint_eq (f.sessions, 42);
  ck_assert_uint_eq (f.in_use, 94);

  /* A session that ends makes room for exactly one more. */
  mb_fds_session_give ();
  ck_assert (mb_fds_session_take ());
  ck_assert (!mb_fds_session_take ());
  for (guint i = 0; i < 42; i++)
    mb_fds_session_give ();
  f = figures ();
  ck_assert_uint_eq (f.sessions, 0);
  ck_assert_uint_eq (f.in_use, 10);
}
END_TEST

START_TEST (test_a_base_beyond_the_limit_leaves_no_room)
{
  budget (32, 40, 1000);
  ck_assert_uint_eq (figures ().room, 0);
  ck_assert (!mb_fds_session_take ());
  ck_assert (!mb_fds_check_take ());
  ck_assert (!mb_fds_pipe_take ());
  ck_assert (!mb_fds_pipes_possible ());
  ck_assert_uint_eq (figures ().in_use, 40);
}
END_TEST

START_TEST (test_health_checks_take_one)
{
  /* cap 94, base 10: 41 sessions leave 2, a check then leaves 1: no room
   * for a session, room for a second check. */
  budget (100, 10, 1000);
  for (guint i = 0; i < 41; i++)
    ck_assert (mb_fds_session_take ());
  ck_assert (mb_fds_check_take ());
  ck_assert (!mb_fds_session_take ());
  ck_assert (mb_fds_check_take ());
  ck_assert (!mb_fds_check_take ());
  ck_assert_uint_eq (figures ().checks, 2);
  mb_fds_check_give ();
  mb_fds_check_give ();
  ck_assert (mb_fds_session_take ());
  ck_assert_uint_eq (figures ().checks, 0);
}
END_TEST

START_TEST (test_pipes_possible)
{
  /* The old policy's blind spot: the default max_connections under a
   * shell's 20,000 left no pipe at all. */
  budget (20000, 31, 10000);
  ck_assert (mb_fds_pipes_possible ());
  budget (65536, 31, 10000);
  ck_assert (mb_fds_pipes_possible ());
  /* A pipe needs room for itself and the headroom besides the base:
   * 640 - reserve 40 = 600 >= 10 + 2 + 512, 540 - reserve 33 = 507 < 524. */
  budget (640, 10, 1000);
  ck_assert (mb_fds_pipes_possible ());
  budget (540, 10, 1000);
  ck_assert (!mb_fds_pipes_possible ());
  /* Where the limit holds every session, the headroom is only what
   * max_connections still allows. */
  budget (100, 10, 10);
  ck_assert (mb_fds_pipes_possible ());
  budget (32, 10, 1000);
  ck_assert (!mb_fds_pipes_possible ());
}
END_TEST

START_TEST (test_pipes_leave_headroom_for_sessions)
{
  guint pipes;

  /* cap 19936, base 31: pipes stop where 256 sessions still fit. */
  budget (20000, 31, 10000);
  pipes = take_all_pipes ();
  ck_assert_uint_eq (pipes, (19936 - 31 - 2 * MB_FDS_HEADROOM) / 2);
  ck_assert_uint_eq (figures ().pipes, pipes);
  ck_assert_uint_eq (take_all_sessions (), MB_FDS_HEADROOM);
  /* Sessions still come: no new pipe, whatever is given back first. */
  mb_fds_pipe_give ();
  ck_assert (!mb_fds_pipe_take ());
  ck_assert (mb_fds_session_take ());
}
END_TEST

START_TEST (test_pipes_give_way_as_sessions_fill)
{
  /* cap 19936, base 31, max_connections 10000.  With s sessions a pipe
   * fits while 31 + 2 s + 2 p + 2 + 2 min (10000 - s, 256) <= 19936. */
  budget (20000, 31, 10000);
  for (guint i = 0; i < 9690; i++)
    ck_assert (mb_fds_session_take ());
  ck_assert_uint_eq (take_all_pipes (), (19936 - 31 - 2 * 9690 - 2 * 256) / 2);
  for (guint p = figures ().pipes; p > 0; p--)
    mb_fds_pipe_give ();
  for (guint i = 9690; i < 9700; i++)
    ck_assert (mb_fds_session_take ());
  ck_assert (!mb_fds_pipe_take ());
  /* The sessions up to max_connections minus the few the limit cannot
   * hold all fit: pipes took none of their room. */
  ck_assert_uint_eq (take_all_sessions (), (19936 - 31) / 2 - 9700);
  ck_assert_uint_eq (figures ().pipes, 0);
}
END_TEST

START_TEST (test_pipes_never_cost_a_session_when_the_limit_holds_them_all)
{
  /* cap 94, base 10, max_connections 10: 10 sessions need 20 of 84; the
   * pipes get the other 64 whatever the order of takes. */
  budget (100, 10, 10);
  ck_assert_uint_eq (take_all_pipes (), 32);
  ck_assert_uint_eq (take_all_sessions (), 10 + 0);
  ck_assert (!mb_fds_pipe_take ());
  for (guint i = 0; i < 10; i++)
    mb_fds_session_give ();
  for (guint i = 0; i < 32; i++)
    mb_fds_pipe_give ();
  ck_assert_uint_eq (figures ().in_use, 10);
  for (guint i = 0; i < 10; i++)
    ck_assert (mb_fds_session_take ());
  ck_assert_uint_eq (take_all_pipes (), 32);
}
END_TEST

START_TEST (test_max_connections_changes)
{
  budget (100, 10, 1000);
  ck_assert (!mb_fds_pipes_possible ());
  mb_fds_set_max_sessions (10);
  ck_assert (mb_fds_pipes_possible ());
  ck_assert_uint_eq (figures ().max_sessions, 10);
}
END_TEST

/* Threads taking at once never take more than there is. */
#define THREADS 4

static gpointer
take_sessions_thread (gpointer data)
{
  guint n = 0;

  while (mb_fds_session_take ())
    n++;
  return GUINT_TO_POINTER (n);
}

static gpointer
take_pipes_thread (gpointer data)
{
  guint n = 0;

  while (mb_fds_pipe_take ())
    n++;
  return GUINT_TO_POINTER (n);
}

START_TEST (test_concurrent_takes)
{
  GThread *threads[THREADS];
  guint sessions = 0, pipes = 0;
  MbFdsFigures f;

  /* Sessions and pipes race for the same descriptors. */
  budget (200000, 31, 50000);
  for (guint i = 0; i < THREADS; i++)
    threads[i] = g_thread_new ("take", i % 2 ? take_pipes_thread : take_sessions_thread, NULL);
  for (guint i = 0; i < THREADS; i++)
    {
      guint n = GPOINTER_TO_UINT (g_thread_join (threads[i]));

      if (i % 2)
        pipes += n;
      else
        sessions += n;
    }
  f = figures ();
  ck_assert_uint_eq (f.sessions, sessions);
  ck_assert_uint_eq (f.pipes, pipes);
  /* Nothing lost or taken twice, and full to the last even descriptor:
   * the session takers stopped only when no two were left. */
  ck_assert_uint_eq (f.in_use, 31 + 2 * sessions + 2 * pipes);
  ck_assert_uint_eq (f.in_use, 200000 - 64 - 1);
  /* The last pipe left room for a burst of sessions, and they took it. */
  ck_assert_uint_ge (sessions, MB_FDS_HEADROOM);
}
END_TEST

START_TEST (test_count_held)
{
  int fds[2];
  guint before, during;

  mb_fds_init (G_MAXUINT64, 10);
  before = mb_fds_count_held (0);
  ck_assert_uint_ge (before, 3);
  ck_assert_int_eq (pipe (fds), 0);
  during = mb_fds_count_held (0);
  close (fds[0]);
  close (fds[1]);
  ck_assert_uint_eq (during, before + 2);
  ck_assert_uint_eq (mb_fds_count_held (0), before);

  /* Descriptors at or above the limit are not ours (valgrind's). */
  mb_fds_init (3, 10);
  ck_assert_uint_le (mb_fds_count_held (0), 3);
}
END_TEST

START_TEST (test_estimate)
{
  MbFrontendConfig any = { 0 }, two = { 0 };
  MbConfig config = { 0 };

  any.bind_any = TRUE;
  two.bind_addresses = g_ptr_array_new ();
  g_ptr_array_add (two.bind_addresses, &any);
  g_ptr_array_add (two.bind_addresses, &two);
  config.frontends = g_ptr_array_new ();
  g_ptr_array_add (config.frontends, &any);
  g_ptr_array_add (config.frontends, &two);
  /* stdio 3, GLib's signal thread 1, 2 per thread, 3 listeners. */
  ck_assert_uint_eq (mb_fds_estimate (&config, 2), 3 + 1 + 4 + 3);
  ck_assert_uint_eq (mb_fds_estimate (&config, 0), 3 + 1 + 2 + 3);
  g_ptr_array_unref (two.bind_addresses);
  g_ptr_array_unref (config.frontends);
}
END_TEST

START_TEST (test_describe)
{
  g_autofree gchar *text = NULL;

  budget (20000, 31, 10000);
  ck_assert (mb_fds_session_take ());
  ck_assert (mb_fds_pipe_take ());
  text = mb_fds_describe ();
  ck_assert_str_eq (text, "limit 20000, reserve 64, 31 held at start: room for 9952 sessions; "
                    "35 in use (1 session, 0 health checks, 1 pipe)");
}
END_TEST

static Suite *
fds_suite (void)
{
  Suite *suite = suite_create ("fds");
  TCase *tc = tcase_create ("budget");

  tcase_add_test (tc, test_reserve_scales_with_the_limit);
  tcase_add_test (tc, test_sessions_fill_what_base_and_reserve_leave);
  tcase_add_test (tc, test_a_base_beyond_the_limit_leaves_no_room);
  tcase_add_test (tc, test_health_checks_take_one);
  tcase_add_test (tc, test_pipes_possible);
  tcase_add_test (tc, test_pipes_leave_headroom_for_sessions);
  tcase_add_test (tc, test_pipes_give_way_as_sessions_fill);
  tcase_add_test (tc, test_pipes_never_cost_a_session_when_the_limit_holds_them_all);
  tcase_add_test (tc, test_max_connections_changes);
  tcase_add_test (tc, test_concurrent_takes);
  tcase_add_test (tc, test_count_held);
  tcase_add_test (tc, test_estimate);
  suite_add_tcase (suite, tc);
  tc = tcase_create ("describe");
  tcase_add_test (tc, test_describe);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (fds_suite)
