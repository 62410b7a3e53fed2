/* trim.c - trimming once quiet; see trim.h. */
#include "build-config.h"

#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif

#include "log.h"
#include "pipes.h"
#include "trim.h"

static gint armed;              /* a check is pending (atomic); its source's data */
static gint64 last_activity;    /* monotonic, microseconds; any thread (atomic: workers accept) */

static gboolean
on_check (gpointer data)
{
  gint64 quiet_us = g_get_monotonic_time () - __atomic_load_n (&last_activity, __ATOMIC_RELAXED);
  gboolean pipes;

  if (quiet_us < (gint64) MB_TRIM_QUIET_MS * 1000)
    return G_SOURCE_CONTINUE;   /* sessions still come: look again later */
  /* Cleared before trimming: whatever is freed after this is either
   * trimmed now or asks for the next check. */
  g_atomic_int_set (&armed, 0);
  pipes = mb_pipes_trim ();
#ifdef HAVE_MALLOC_TRIM
  malloc_trim (0);
#endif
  mb_log (G_LOG_LEVEL_DEBUG, NULL, "quiet for %" G_GINT64_FORMAT " ms: memory trimmed%s",
          quiet_us / 1000, pipes ? ", pooled pipes closed" : "");
  return G_SOURCE_REMOVE;
}

void
mb_trim_request (void)
{
  GSource *source;

  if (g_atomic_int_get (&armed) || !g_atomic_int_compare_and_exchange (&armed, 0, 1))
    return;
  /* Attaching to another thread's context is thread-safe in GLib. */
  source = g_timeout_source_new (MB_TRIM_QUIET_MS);
  g_source_set_callback (source, on_check, &armed, NULL);
  g_source_attach (source, g_main_context_default ());
  g_source_unref (source);
}

void
mb_trim_note_activity (gint64 now_us)
{
  __atomic_store_n (&last_activity, now_us, __ATOMIC_RELAXED);
}

void
mb_trim_stop (void)
{
  GSource *source = g_main_context_find_source_by_user_data (NULL, &armed);

  if (source != NULL)
    g_source_destroy (source);
  g_atomic_int_set (&armed, 0);
}
