/* ratelimit.h - one log line per burst of repeated failures, then a count.
 *
 * A backend that refuses connections makes every client's attempt fail: one
 * warning per client would flood the log at the rate clients arrive.  A
 * limiter lets the first event of a window be logged in full and only
 * counts the others; when the window ends (10 s for the daemon's limiters),
 * one summary line reports how many more there were ("frontend web: backend
 * app1: 1,234 more connect failures in the last 10 s") and counting goes on
 * in a new window.  A window in which nothing was counted closes, and the
 * next event is logged in full again.
 *
 * The decision is pure (MbRateWindow: the caller passes the monotonic time,
 * so the unit tests need no clock).  MbRateLimit adds what the daemon needs
 * around it: a mutex, since events come from any worker thread (only
 * failures take it), and a timer on the main thread's context, so that the
 * summary is logged even when the failures stop.  The summary callback runs
 * without the limiter's lock held, on the thread whose event or timer ended
 * the window.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The daemon's windows. */
#define MB_RATE_LIMIT_INTERVAL_MS (10 * 1000)

typedef struct {
  gint64 interval;     /* microseconds */
  gboolean open;
  gint64 start, end;   /* of the open window (monotonic, microseconds) */
  guint64 counted;     /* events in it after the one logged in full */
} MbRateWindow;

void mb_rate_window_init (MbRateWindow *window, gint64 interval);
/* An event at NOW.  Ends the open window first if NOW is past its end (as
 * mb_rate_window_expire()).  Returns TRUE when this event is to be logged
 * in full (it opened a window), FALSE when it was only counted. */
gboolean mb_rate_window_event (MbRateWindow *window, gint64 now, guint64 *summary, gint64 *span);
/* Ends the open window if NOW is past its end: *SUMMARY (then > 0) is what
 * it counted, to be reported as "N more in the last *SPAN microseconds";
 * a window that counted something is followed by a new one from NOW, one
 * that counted nothing closes.  *SUMMARY is 0 when there is nothing to
 * report.  Returns when to look again (the open window's end), or -1 when
 * no window is open. */
gint64 mb_rate_window_expire (MbRateWindow *window, gint64 now, guint64 *summary, gint64 *span);

/* Logs "COUNT more ... in the last SECONDS s" (see mb_rate_limit_count()). */
typedef void (*MbRateLimitReport) (guint64 count, guint seconds, gpointer data);

typedef struct {
  /* private */
  GMutex lock;
  MbRateWindow window;
  GSource *timer;      /* on the main context, from the first window on */
  MbRateLimitReport report;
  gpointer data;
} MbRateLimit;

/* REPORT (DATA) logs a window's summary; DATA must outlive the limiter. */
void mb_rate_limit_init (MbRateLimit *limit, guint interval_ms, MbRateLimitReport report, gpointer data);
/* Reports what the open window counted so far, then stops the timer.  On
 * the main thread, once no other thread can use LIMIT. */
void mb_rate_limit_clear (MbRateLimit *limit);
/* A failure now, from any thread: TRUE when the caller is to log it in
 * full.  May report the previous window's summary first. */
gboolean mb_rate_limit_allow (MbRateLimit *limit);

/* COUNT with thousands separators: "1,234,567".  Free with g_free(). */
gchar *mb_rate_limit_count (guint64 count);

G_END_DECLS
