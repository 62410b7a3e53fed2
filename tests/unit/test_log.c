/* Tests for src/log.c: stderr made a pipe that the test reads only when it
 * chooses.  Each test runs in its own process (check's fork mode): the
 * writer and the log thread are per process. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

#define MESSAGES 20000

static int pipe_read = -1;

/* stderr becomes a pipe of the smallest capacity the kernel allows, so that
 * what the test logs is known to be more than the pipe and the queue hold. */
static void
stderr_to_pipe (void)
{
  int fds[2];

  ck_assert_int_eq (pipe (fds), 0);
#ifdef F_SETPIPE_SZ
  fcntl (fds[1], F_SETPIPE_SZ, 4096);
#endif
  ck_assert_int_ge (dup2 (fds[1], STDERR_FILENO), 0);
  close (fds[1]);
  pipe_read = fds[0];
}

/* Ends the pipe's writing side, so that a reader sees the end. */
static void
stderr_to_null (void)
{
  int null = open ("/dev/null", O_WRONLY);

  ck_assert_int_ge (null, 0);
  ck_assert_int_ge (dup2 (null, STDERR_FILENO), 0);
  close (null);
}

static gpointer
read_all (gpointer data)
{
  GString *text = g_string_new (NULL);
  gchar buffer[65536];
  ssize_t n;

  while ((n = read (pipe_read, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len (text, buffer, n);
  return text;
}

START_TEST (test_stalled_output_drops_and_counts)
{
  /* 20,000 lines of about 200 bytes: 4 MB, against 1 MiB of queue and a
   * 4 KiB pipe nobody reads yet.  Logging must go on at once, some lines
   * must be dropped, and every one must be either written, in order, or
   * counted in a "dropped" line. */
  g_autofree gchar *padding = g_strnfill (160, 'x');
  g_autoptr(GString) text = NULL;
  g_auto(GStrv) lines = NULL;
  GThread *reader;
  guint64 written = 0, dropped = 0, reports = 0;
  gint64 last = -1;

  stderr_to_pipe ();
  mb_log_init ();
  mb_log_set_level (MB_LOG_LEVEL_INFO);
  for (guint i = 0; i < MESSAGES; i++)
    mb_log (G_LOG_LEVEL_INFO, "MB_TEST", "yes", NULL, "message %u %s", i, padding);
  /* Had a call blocked, check's timeout would have ended the test. */

  reader = g_thread_new ("reader", read_all, NULL);
  mb_log_shutdown ();
  stderr_to_null ();
  text = g_thread_join (reader);

  lines = g_strsplit (text->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      const gchar *body = strstr (lines[i], ": ");
      guint64 n;

      ck_assert_msg (body != NULL, "not a log line: %s", lines[i]);
      if (g_str_has_suffix (lines[i], " log messages dropped: the log output was not keeping up"))
        {
          assert_contains (lines[i], " warning: ");
          n = g_ascii_strtoull (body + 2, NULL, 10);
          ck_assert_uint_gt (n, 0);
          dropped += n;
          reports++;
          continue;
        }
      assert_contains (lines[i], " info: message ");
      n = g_ascii_strtoull (strstr (lines[i], "message ") + strlen ("message "), NULL, 10);
      ck_assert_msg ((gint64) n > last, "out of order: %" G_GUINT64_FORMAT " after %" G_GINT64_FORMAT, n, last);
      last = (gint64) n;
      written++;
    }
  ck_assert_uint_gt (dropped, 0);
  ck_assert_uint_ge (reports, 1);
  ck_assert_uint_eq (written + dropped, MESSAGES);
  close (pipe_read);
}
END_TEST

START_TEST (test_shutdown_does_not_wait_for_a_stalled_output)
{
  /* Enough to fill the pipe and queue some: nobody ever reads. */
  g_autofree gchar *padding = g_strnfill (1000, 'y');
  gint64 started;

  stderr_to_pipe ();
  mb_log_init ();
  mb_log_set_level (MB_LOG_LEVEL_INFO);
  for (guint i = 0; i < 100; i++)
    mb_log (G_LOG_LEVEL_WARNING, NULL, "message %u %s", i, padding);
  started = g_get_monotonic_time ();
  mb_log_shutdown ();
  ck_assert_int_lt (g_get_monotonic_time () - started, 3 * G_USEC_PER_SEC);
  /* And later messages are dropped, not written (that would block). */
  mb_log (G_LOG_LEVEL_WARNING, NULL, "after shutdown");
}
END_TEST

START_TEST (test_lines_before_shutdown_are_written)
{
  /* Nothing stalls: shutdown writes everything queued, then later lines
   * are written at once. */
  g_autoptr(GString) text = NULL;
  GThread *reader;

  stderr_to_pipe ();
  reader = g_thread_new ("reader", read_all, NULL);
  mb_log_init ();
  mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", "web", NULL, "frontend %s: first", "web");
  mb_log (G_LOG_LEVEL_MESSAGE, NULL, "second");
  mb_log (G_LOG_LEVEL_INFO, NULL, "below the level: not written");
  mb_log_shutdown ();
  mb_log (G_LOG_LEVEL_CRITICAL, NULL, "after shutdown");
  stderr_to_null ();
  text = g_thread_join (reader);

  assert_contains (text->str, " warning: frontend web: first\n");
  assert_contains (text->str, " notice: second\n");
  assert_contains (text->str, " error: after shutdown\n");
  ck_assert (strstr (text->str, "below the level") == NULL);
  ck_assert (strstr (text->str, "first") < strstr (text->str, "second"));
  ck_assert (strstr (text->str, "second") < strstr (text->str, "after shutdown"));
  close (pipe_read);
}
END_TEST

static Suite *
log_suite (void)
{
  Suite *suite = suite_create ("log");
  TCase *tc = tcase_create ("queue");

  /* The stalled case takes about a second (the bounded flush). */
  tcase_set_timeout (tc, 20);
  tcase_add_test (tc, test_stalled_output_drops_and_counts);
  tcase_add_test (tc, test_shutdown_does_not_wait_for_a_stalled_output);
  tcase_add_test (tc, test_lines_before_shutdown_are_written);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (log_suite)
