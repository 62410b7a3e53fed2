/* Tests for src/ratelimit.c */
#include "build-config.h"

#include "ratelimit.h"
#include "testutil.h"

#define S G_USEC_PER_SEC
#define T0 (1000 * S)          /* any monotonic time */

static gboolean
event (MbRateWindow *window, gint64 now, guint64 expect_summary)
{
  guint64 summary = 42;
  gint64 span = -1;
  gboolean full = mb_rate_window_event (window, now, &summary, &span);

  ck_assert_uint_eq (summary, expect_summary);
  if (summary == 0)
    ck_assert_int_eq (span, 0);
  return full;
}

START_TEST (test_first_in_full_then_counted)
{
  MbRateWindow window;
  guint64 summary;
  gint64 span;

  mb_rate_window_init (&window, 10 * S);
  ck_assert (event (&window, T0, 0));
  ck_assert (!event (&window, T0 + 1, 0));
  ck_assert (!event (&window, T0 + 9 * S, 0));
  ck_assert (!event (&window, T0 + 10 * S - 1, 0));
  /* Not over yet: look again at its end. */
  ck_assert_int_eq (mb_rate_window_expire (&window, T0 + 5 * S, &summary, &span), T0 + 10 * S);
  ck_assert_uint_eq (summary, 0);
  /* Over: three counted; the next window runs from now. */
  ck_assert_int_eq (mb_rate_window_expire (&window, T0 + 10 * S, &summary, &span), T0 + 20 * S);
  ck_assert_uint_eq (summary, 3);
  ck_assert_int_eq (span, 10 * S);
}
END_TEST

START_TEST (test_counting_goes_on_in_a_new_window)
{
  MbRateWindow window;
  guint64 summary;
  gint64 span;

  mb_rate_window_init (&window, 10 * S);
  ck_assert (event (&window, T0, 0));
  ck_assert (!event (&window, T0 + S, 0));
  /* A late timer: the next window starts when it fired, not at the old end. */
  ck_assert_int_eq (mb_rate_window_expire (&window, T0 + 10 * S + 300, &summary, &span),
                    T0 + 20 * S + 300);
  ck_assert_uint_eq (summary, 1);
  ck_assert_int_eq (span, 10 * S + 300);
  /* Failures go on: counted, not logged in full. */
  ck_assert (!event (&window, T0 + 11 * S, 0));
  ck_assert (!event (&window, T0 + 12 * S, 0));
  ck_assert_int_eq (mb_rate_window_expire (&window, T0 + 21 * S, &summary, &span), T0 + 31 * S);
  ck_assert_uint_eq (summary, 2);
  ck_assert_int_eq (span, 21 * S - (10 * S + 300));
}
END_TEST

START_TEST (test_quiet_window_closes)
{
  MbRateWindow window;
  guint64 summary;
  gint64 span;

  mb_rate_window_init (&window, 10 * S);
  ck_assert_int_eq (mb_rate_window_expire (&window, T0, &summary, &span), -1);
  ck_assert (event (&window, T0, 0));
  /* Only the event logged in full: nothing to report, the window closes. */
  ck_assert_int_eq (mb_rate_window_expire (&window, T0 + 10 * S, &summary, &span), -1);
  ck_assert_uint_eq (summary, 0);
  ck_assert (!window.open);
  ck_assert_int_eq (mb_rate_window_expire (&window, T0 + 20 * S, &summary, &span), -1);
  /* The next one is logged in full again. */
  ck_assert (event (&window, T0 + 25 * S, 0));
  ck_assert (!event (&window, T0 + 26 * S, 0));
}
END_TEST

START_TEST (test_event_ends_an_overdue_window)
{
  MbRateWindow window;

  /* The timer has not run (a busy main loop): the event itself ends the
   * window, reports it, and is counted in the next one. */
  mb_rate_window_init (&window, 10 * S);
  ck_assert (event (&window, T0, 0));
  ck_assert (!event (&window, T0 + S, 0));
  ck_assert (!event (&window, T0 + 2 * S, 0));
  ck_assert (!event (&window, T0 + 15 * S, 2));
  ck_assert_uint_eq (window.counted, 1);
  ck_assert_int_eq (window.end, T0 + 25 * S);
  /* Nothing counted in a window that is overdue: it closes, and this event
   * opens a new one, in full. */
  mb_rate_window_init (&window, 10 * S);
  ck_assert (event (&window, T0, 0));
  ck_assert (event (&window, T0 + 30 * S, 0));
  ck_assert_int_eq (window.end, T0 + 40 * S);
}
END_TEST

static const struct { guint64 count; const gchar *text; } counts[] = {
  { 0, "0" }, { 7, "7" }, { 999, "999" }, { 1000, "1,000" }, { 1234, "1,234" },
  { 99999, "99,999" }, { 100000, "100,000" }, { 1234567, "1,234,567" },
  { G_MAXUINT64, "18,446,744,073,709,551,615" },
};

START_TEST (test_count_text)
{
  g_autofree gchar *text = mb_rate_limit_count (counts[_i].count);

  ck_assert_str_eq (text, counts[_i].text);
}
END_TEST

typedef struct {
  guint reports;
  guint64 total;
  guint seconds;
} Reports;

static void
on_report (guint64 count, guint seconds, gpointer data)
{
  Reports *reports = data;

  reports->reports++;
  reports->total += count;
  reports->seconds = seconds;
}

static gboolean
on_guard (gpointer data)
{
  ck_abort_msg ("%s: no summary within 5 s", (const gchar *) data);
  return G_SOURCE_REMOVE;
}

/* Runs the default context until CONDITION holds; a guard timer fails the
 * test if it takes more than 5 s. */
#define ITERATE_UNTIL(condition)                                                   \
  G_STMT_START {                                                                   \
    guint guard_ = g_timeout_add (5000, on_guard, (gpointer) #condition);          \
    while (!(condition))                                                           \
      g_main_context_iteration (NULL, TRUE);                                       \
    g_source_remove (guard_);                                                      \
  } G_STMT_END

START_TEST (test_summary_when_failures_stop)
{
  /* A 20 ms window: the timer must report even though no event follows. */
  Reports reports = { 0 };
  MbRateLimit limit;

  mb_rate_limit_init (&limit, 20, on_report, &reports);
  ck_assert (mb_rate_limit_allow (&limit));
  ck_assert (!mb_rate_limit_allow (&limit));
  ck_assert (!mb_rate_limit_allow (&limit));
  ck_assert (!mb_rate_limit_allow (&limit));
  ITERATE_UNTIL (reports.reports == 1);
  ck_assert_uint_eq (reports.total, 3);
  ck_assert_uint_eq (reports.seconds, 1);
  /* The window after it counts nothing: it closes without a report, and
   * the next failure is logged in full. */
  ITERATE_UNTIL (!limit.window.open);
  ck_assert_uint_eq (reports.reports, 1);
  ck_assert (mb_rate_limit_allow (&limit));
  mb_rate_limit_clear (&limit);
  ck_assert_uint_eq (reports.reports, 1);
}
END_TEST

#define THREADS 4
#define EVENTS_PER_THREAD 10000

static gpointer
fail_often (gpointer data)
{
  guint full = 0;

  for (guint i = 0; i < EVENTS_PER_THREAD; i++)
    full += mb_rate_limit_allow (data) ? 1 : 0;
  return GUINT_TO_POINTER (full);
}

START_TEST (test_threads_lose_no_count)
{
  /* Events from several threads within one window: one in full, every
   * other one in the summary, which clear() gives for the open window. */
  Reports reports = { 0 };
  MbRateLimit limit;
  GThread *threads[THREADS];
  guint full = 0;

  mb_rate_limit_init (&limit, 3600 * 1000, on_report, &reports);
  for (guint i = 0; i < THREADS; i++)
    threads[i] = g_thread_new ("fail", fail_often, &limit);
  for (guint i = 0; i < THREADS; i++)
    full += GPOINTER_TO_UINT (g_thread_join (threads[i]));
  ck_assert_uint_eq (full, 1);
  ck_assert_uint_eq (reports.reports, 0);
  mb_rate_limit_clear (&limit);
  ck_assert_uint_eq (reports.reports, 1);
  ck_assert_uint_eq (reports.total, THREADS * EVENTS_PER_THREAD - 1);
}
END_TEST

static Suite *
ratelimit_suite (void)
{
  Suite *suite = suite_create ("ratelimit");
  TCase *window = tcase_create ("window");
  TCase *limit = tcase_create ("limit");

  tcase_add_test (window, test_first_in_full_then_counted);
  tcase_add_test (window, test_counting_goes_on_in_a_new_window);
  tcase_add_test (window, test_quiet_window_closes);
  tcase_add_test (window, test_event_ends_an_overdue_window);
  tcase_add_loop_test (window, test_count_text, 0, G_N_ELEMENTS (counts));
  suite_add_tcase (suite, window);
  tcase_add_test (limit, test_summary_when_failures_stop);
  tcase_add_test (limit, test_threads_lose_no_count);
  suite_add_tcase (suite, limit);
  return suite;
}

RUN_SUITE (ratelimit_suite)
