/* ratelimit.c - first failure in full, then a count per window; see ratelimit.h. */
#include "build-config.h"

#include "ratelimit.h"

void
mb_rate_window_init (MbRateWindow *window, gint64 interval)
{
  *window = (MbRateWindow) { .interval = MAX (interval, 1) };
}

gint64
mb_rate_window_expire (MbRateWindow *window, gint64 now, guint64 *summary, gint64 *span)
{
  *summary = 0;
  *span = 0;
  if (!window->open)
    return -1;
  if (now < window->end)
    return window->end;
  if (window->counted == 0)
    {
      window->open = FALSE;
      return -1;
    }
  *summary = window->counted;
  *span = now - window->start;
  /* From NOW, not from the old end: a late timer must not shorten the
   * next window. */
  window->counted = 0;
  window->start = now;
  window->end = now + window->interval;
  return window->end;
}

gboolean
mb_rate_window_event (MbRateWindow *window, gint64 now, guint64 *summary, gint64 *span)
{
  mb_rate_window_expire (window, now, summary, span);
  if (window->open)
    {
      window->counted++;
      return FALSE;
    }
  window->open = TRUE;
  window->counted = 0;
  window->start = now;
  window->end = now + window->interval;
  return TRUE;
}

gchar *
mb_rate_limit_count (guint64 count)
{
  gchar digits[24];
  GString *text = g_string_sized_new (32);
  gint n = g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, count);

  for (gint i = 0; i < n; i++)
    {
      if (i > 0 && (n - i) % 3 == 0)
        g_string_append_c (text, ',');
      g_string_append_c (text, digits[i]);
    }
  return g_string_free (text, FALSE);
}

static void
report (MbRateLimit *limit, guint64 summary, gint64 span)
{
  /* Rounded: the timer fires a little after the window's end. */
  guint seconds = (guint) MAX ((span + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC, 1);

  if (summary > 0)
    limit->report (summary, seconds, limit->data);
}

static gboolean
on_window_end (gpointer data)
{
  MbRateLimit *limit = data;
  guint64 summary;
  gint64 span;

  g_mutex_lock (&limit->lock);
  g_source_set_ready_time (limit->timer, mb_rate_window_expire (&limit->window, g_get_monotonic_time (),
                                                                &summary, &span));
  g_mutex_unlock (&limit->lock);
  report (limit, summary, span);
  return G_SOURCE_CONTINUE;
}

static gboolean
dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  return callback (data);
}

static GSourceFuncs timer_funcs = { NULL, NULL, dispatch, NULL, NULL, NULL };

void
mb_rate_limit_init (MbRateLimit *limit, guint interval_ms, MbRateLimitReport report_func, gpointer data)
{
  g_mutex_init (&limit->lock);
  mb_rate_window_init (&limit->window, (gint64) interval_ms * 1000);
  limit->timer = NULL;
  limit->report = report_func;
  limit->data = data;
}

void
mb_rate_limit_clear (MbRateLimit *limit)
{
  gint64 now = g_get_monotonic_time ();

  if (limit->window.open)
    report (limit, limit->window.counted, now - limit->window.start);
  limit->window.open = FALSE;
  if (limit->timer != NULL)
    {
      g_source_destroy (limit->timer);
      g_clear_pointer (&limit->timer, g_source_unref);
    }
  g_mutex_clear (&limit->lock);
}

gboolean
mb_rate_limit_allow (MbRateLimit *limit)
{
  guint64 summary;
  gint64 span;
  gboolean full;

  g_mutex_lock (&limit->lock);
  full = mb_rate_window_event (&limit->window, g_get_monotonic_time (), &summary, &span);
  if (full)
    {
      /* The main thread's context, whichever thread this is (worker.h):
       * the timer must outlive any one session, and attaching to another
       * thread's context, or setting a ready time, is thread-safe. */
      if (limit->timer == NULL)
        {
          limit->timer = g_source_new (&timer_funcs, sizeof (GSource));
          g_source_set_name (limit->timer, "mb-rate-limit");
          g_source_set_callback (limit->timer, on_window_end, limit, NULL);
          g_source_set_ready_time (limit->timer, limit->window.end);
          g_source_attach (limit->timer, g_main_context_default ());
        }
      else
        g_source_set_ready_time (limit->timer, limit->window.end);
    }
  g_mutex_unlock (&limit->lock);
  report (limit, summary, span);
  return full;
}
