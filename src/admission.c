/* admission.c - the limits, held and woken gates, pauses; see admission.h. */
#include "build-config.h"

#include "admission.h"
#include "log.h"
#include "worker.h"

/* workers = N is at most MB_MAX_WORKERS (config.c), auto at most 64. */
#define MAX_WORKERS MB_MAX_WORKERS

static gint total;                      /* sessions of all frontends (atomic) */
static gint global_max = MB_DEFAULT_MAX_CONNECTIONS;   /* atomic */
static gint n_held;                     /* held gates, all workers (atomic) */
static gint wake_pending[MAX_WORKERS];  /* a wake-up is on its way to worker i (atomic) */
static __thread GPtrArray *gates;       /* this worker's MbGate */

static gboolean
below_limits (MbFrontend *frontend)
{
  gint max = g_atomic_int_get (&frontend->max_live);

  return (max == 0 || g_atomic_int_get (&frontend->live) < max)
         && g_atomic_int_get (&total) < g_atomic_int_get (&global_max);
}

/* Takes one from *COUNT unless it is at MAX (0: no limit). */
static gboolean
count_in (gint *count, gint max)
{
  gint now;

  if (max == 0)
    {
      g_atomic_int_inc (count);
      return TRUE;
    }
  do
    {
      now = g_atomic_int_get (count);
      if (now >= max)
        return FALSE;
    }
  while (!g_atomic_int_compare_and_exchange (count, now, now + 1));
  return TRUE;
}

static gboolean
wake_here (gpointer data)
{
  guint index = GPOINTER_TO_UINT (data);

  /* Cleared before looking: a place given back from now on posts again. */
  g_atomic_int_set (&wake_pending[index], 0);
  for (guint i = 0; gates != NULL && i < gates->len; i++)
    {
      MbGate *gate = gates->pdata[i];

      if (gate->held)
        mb_admission_add (gate);   /* registered already: looks again */
    }
  return G_SOURCE_REMOVE;
}

/* A place was given back: wake the workers whose gates are held. */
static void
wake_held (void)
{
  guint n = MIN (mb_workers_count (), MAX_WORKERS);

  if (g_atomic_int_get (&n_held) == 0)
    return;
  for (guint i = 0; i < MAX (n, 1); i++)
    if (g_atomic_int_compare_and_exchange (&wake_pending[i], 0, 1))
      mb_worker_run_at (i, wake_here, GUINT_TO_POINTER (i));
}

void
mb_admission_set_global_limit (guint max_connections)
{
  g_atomic_int_set (&global_max, (gint) MIN (max_connections, (guint) G_MAXINT));
  mb_admission_update_all ();
}

void
mb_admission_set_frontend_limit (MbFrontend *frontend, guint max_connections)
{
  g_atomic_int_set (&frontend->max_live, (gint) MIN (max_connections, (guint) G_MAXINT));
}

guint
mb_admission_sessions (void)
{
  return (guint) MAX (g_atomic_int_get (&total), 0);
}

gboolean
mb_admission_take (MbFrontend *frontend)
{
  if (!count_in (&total, g_atomic_int_get (&global_max)))
    return FALSE;
  if (count_in (&frontend->live, g_atomic_int_get (&frontend->max_live)))
    return TRUE;
  g_atomic_int_add (&total, -1);
  wake_held ();   /* another frontend's gate may wait for that place */
  return FALSE;
}

void
mb_admission_cancel (MbFrontend *frontend)
{
  g_atomic_int_add (&frontend->live, -1);
  g_atomic_int_add (&total, -1);
  wake_held ();
}

gboolean
mb_admission_give (MbFrontend *frontend)
{
  gboolean last;

  g_atomic_int_add (&frontend->live, -1);
  last = g_atomic_int_dec_and_test (&total);
  wake_held ();
  return last;
}

static void
set_open (MbGate *gate, gboolean open)
{
  if (gate->open != open)
    gate->open = gate->func (gate, open);
}

static void
release (MbGate *gate)
{
  if (!gate->held)
    return;
  gate->held = FALSE;
  g_atomic_int_add (&gate->frontend->held, -1);
  g_atomic_int_add (&n_held, -1);
}

static void
log_at_limit (MbFrontend *frontend)
{
  gint64 now = g_get_monotonic_time ();
  gint64 last = __atomic_load_n (&frontend->last_limit_log, __ATOMIC_RELAXED);

  /* Once per 10 s at most, whichever worker sees it first: a busy
   * frontend can touch its limit often. */
  if ((last != 0 && now - last <= 10 * G_USEC_PER_SEC)
      || !__atomic_compare_exchange_n (&frontend->last_limit_log, &last, now, FALSE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    return;
  mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", frontend->title, NULL,
          "frontend %s: at max_connections (%d here, %u in all): new connections wait until sessions end",
          frontend->title, g_atomic_int_get (&frontend->live), mb_admission_sessions ());
}

/* Holds GATE unless a place is free after all: TRUE when it stays held. */
static gboolean
hold (MbGate *gate)
{
  if (!gate->held)
    {
      gate->held = TRUE;
      g_atomic_int_inc (&gate->frontend->held);
      g_atomic_int_inc (&n_held);
      /* The second look (see admission.h): after the count above. */
      if (below_limits (gate->frontend))
        {
          release (gate);
          return FALSE;
        }
      log_at_limit (gate->frontend);
    }
  return TRUE;
}

void
mb_admission_add (MbGate *gate)
{
  MbFrontend *frontend = gate->frontend;

  if (gates == NULL)
    gates = g_ptr_array_new ();
  if (!g_ptr_array_find (gates, gate, NULL))
    g_ptr_array_add (gates, gate);
  if (g_atomic_int_get (&frontend->paused))
    {
      release (gate);
      set_open (gate, FALSE);
    }
  else if (below_limits (frontend))
    {
      release (gate);
      set_open (gate, TRUE);
    }
  else
    set_open (gate, !hold (gate));
}

void
mb_admission_remove (MbGate *gate)
{
  release (gate);
  set_open (gate, FALSE);
  if (gates != NULL)
    g_ptr_array_remove_fast (gates, gate);
  if (gates != NULL && gates->len == 0)
    g_clear_pointer (&gates, g_ptr_array_unref);
}

void
mb_admission_hold (MbGate *gate)
{
  set_open (gate, !hold (gate));
}

void
mb_admission_pause_here (MbFrontend *frontend)
{
  g_atomic_int_set (&frontend->paused, TRUE);
  for (guint i = 0; gates != NULL && i < gates->len; i++)
    {
      MbGate *gate = gates->pdata[i];

      if (gate->frontend == frontend)
        set_open (gate, FALSE);
    }
}

static gboolean
update_here (gpointer data)
{
  for (guint i = 0; gates != NULL && i < gates->len; i++)
    mb_admission_add (gates->pdata[i]);
  return G_SOURCE_REMOVE;
}

void
mb_admission_update_all (void)
{
  mb_workers_run_each (update_here, NULL);
}

void
mb_admission_reset (void)
{
  for (guint i = 0; i < MAX_WORKERS; i++)
    g_atomic_int_set (&wake_pending[i], 0);
}
