/* worker.c - the session threads; see worker.h. */
#include "build-config.h"

#include "admission.h"
#include "error.h"
#include "poller.h"
#include "relay.h"
#include "session.h"
#include "worker.h"

struct MbWorker {
  guint index;
  GThread *thread;          /* NULL for the main thread (worker 0) */
  GMainContext *context;    /* NULL for the main thread: the global default */
  GMainLoop *loop;
  gint sessions;            /* live sessions on this worker (atomic) */
  /* start-up handshake */
  GMutex lock;
  GCond cond;
  gint state;               /* 0: starting, 1: running, -1: failed */
  GError *error;
};

static MbWorker **workers;
static guint n_workers;
static __thread MbWorker *self;

static gpointer
worker_main (gpointer data)
{
  MbWorker *worker = data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  self = worker;
  g_main_context_push_thread_default (worker->context);
  /* The epoll set now, while descriptors are surely to be had. */
  ok = mb_poller_init (&error);
  if (ok)
    mb_poller_drive_context (worker->context);
  g_mutex_lock (&worker->lock);
  worker->state = ok ? 1 : -1;
  worker->error = g_steal_pointer (&error);
  g_cond_signal (&worker->cond);
  g_mutex_unlock (&worker->lock);

  if (ok)
    {
      g_main_loop_run (worker->loop);
      /* Sessions handed over after the stop request: start, then end. */
      while (g_main_context_iteration (worker->context, FALSE))
        ;
      mb_session_close_all ();
    }
  mb_relay_thread_cleanup ();
  mb_poller_free ();
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

static void
worker_free (MbWorker *worker)
{
  if (worker->loop != NULL)
    g_main_loop_unref (worker->loop);
  if (worker->context != NULL)
    g_main_context_unref (worker->context);
  g_clear_error (&worker->error);
  g_mutex_clear (&worker->lock);
  g_cond_clear (&worker->cond);
  g_free (worker);
}

static MbWorker *
worker_new (guint index)
{
  MbWorker *worker = g_new0 (MbWorker, 1);

  worker->index = index;
  g_mutex_init (&worker->lock);
  g_cond_init (&worker->cond);
  return worker;
}

gboolean
mb_workers_start (guint n, GError **error)
{
  g_return_val_if_fail (workers == NULL, FALSE);

  if (n == 0)
    n = CLAMP (g_get_num_processors (), 1, 64);
  workers = g_new0 (MbWorker *, n);
  workers[0] = self = worker_new (0);
  n_workers = 1;
  for (guint i = 1; i < n; i++)
    {
      MbWorker *worker = worker_new (i);
      g_autofree gchar *name = g_strdup_printf ("mb-worker-%u", i);

      worker->context = g_main_context_new ();
      worker->loop = g_main_loop_new (worker->context, FALSE);
      worker->thread = g_thread_try_new (name, worker_main, worker, error);
      if (worker->thread == NULL)
        {
          worker_free (worker);
          mb_workers_stop ();
          return FALSE;
        }
      workers[n_workers++] = worker;
      g_mutex_lock (&worker->lock);
      while (worker->state == 0)
        g_cond_wait (&worker->cond, &worker->lock);
      g_mutex_unlock (&worker->lock);
      if (worker->state < 0)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&worker->error), "worker %u: ", i);
          mb_workers_stop ();
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
worker_quit (gpointer data)
{
  MbWorker *worker = data;

  mb_session_close_all ();
  g_main_loop_quit (worker->loop);
  return G_SOURCE_REMOVE;
}

void
mb_workers_stop (void)
{
  for (guint i = 1; i < n_workers; i++)
    {
      MbWorker *worker = workers[i];

      if (worker->state > 0)
        g_main_context_invoke (worker->context, worker_quit, worker);
      g_thread_join (worker->thread);
      worker_free (worker);
    }
  if (workers != NULL)
    worker_free (workers[0]);
  g_clear_pointer (&workers, g_free);
  n_workers = 0;
  mb_admission_reset ();
  self = NULL;
}

guint
mb_workers_count (void)
{
  return n_workers;
}

MbWorker *
mb_worker_take_session (void)
{
  MbWorker *lightest = self;
  gint mine, fewest;

  if (self == NULL)
    return NULL;
  mine = fewest = g_atomic_int_get (&self->sessions);
  if (mine > MB_WORKER_SPREAD)
    for (guint i = 0; i < n_workers; i++)
      {
        gint sessions = g_atomic_int_get (&workers[i]->sessions);

        if (sessions < fewest)
          {
            lightest = workers[i];
            fewest = sessions;
          }
      }
  if (mine - fewest <= MB_WORKER_SPREAD)
    lightest = self;
  g_atomic_int_inc (&lightest->sessions);
  return lightest;
}

void
mb_worker_session_ended (MbWorker *worker)
{
  if (worker != NULL)
    g_atomic_int_add (&worker->sessions, -1);
}

gboolean
mb_worker_is_here (MbWorker *worker)
{
  return worker == NULL || worker == self;
}

guint
mb_worker_index (void)
{
  return self != NULL ? self->index : 0;
}

void
mb_worker_run (MbWorker *worker, GSourceFunc func, gpointer data)
{
  if (worker == NULL || worker == self)
    func (data);
  else
    g_main_context_invoke (worker->context, func, data);
}

void
mb_worker_run_on_main (GSourceFunc func, gpointer data)
{
  if (mb_worker_is_main ())
    func (data);
  else
    g_main_context_invoke (NULL, func, data);
}

void
mb_workers_run_each (GSourceFunc func, gpointer data)
{
  if (n_workers == 0)
    func (data);
  for (guint i = 0; i < n_workers; i++)
    mb_worker_run (workers[i], func, data);
}

void
mb_worker_run_at (guint index, GSourceFunc func, gpointer data)
{
  if (index < n_workers)
    mb_worker_run (workers[index], func, data);
  else if (index == 0)
    func (data);
}

typedef struct {
  GSourceFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  guint remaining;      /* workers still to run it */
} Barrier;

static gboolean
barrier_step (gpointer data)
{
  Barrier *barrier = data;

  barrier->func (barrier->data);
  g_mutex_lock (&barrier->lock);
  if (--barrier->remaining == 0)
    g_cond_signal (&barrier->cond);
  g_mutex_unlock (&barrier->lock);
  return G_SOURCE_REMOVE;
}

void
mb_workers_run_each_wait (GSourceFunc func, gpointer data)
{
  Barrier barrier = { .func = func, .data = data };

  g_return_if_fail (mb_worker_is_main ());
  g_mutex_init (&barrier.lock);
  g_cond_init (&barrier.cond);
  barrier.remaining = n_workers > 1 ? n_workers - 1 : 0;
  for (guint i = 1; i < n_workers; i++)
    g_main_context_invoke (workers[i]->context, barrier_step, &barrier);
  func (data);
  g_mutex_lock (&barrier.lock);
  while (barrier.remaining > 0)
    g_cond_wait (&barrier.cond, &barrier.lock);
  g_mutex_unlock (&barrier.lock);
  g_mutex_clear (&barrier.lock);
  g_cond_clear (&barrier.cond);
}

gboolean
mb_worker_is_main (void)
{
  return self == NULL || self->index == 0;
}

GSource *
mb_worker_attach (GSource *source, GSourceFunc func, gpointer data)
{
  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

GSource *
mb_worker_timeout (guint interval_ms, GSourceFunc func, gpointer data)
{
  return mb_worker_attach (g_timeout_source_new (interval_ms), func, data);
}

void
mb_worker_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}
