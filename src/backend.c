/* backend.c - a backend's life, up, down and passive ejection; see backend.h. */
#include "build-config.h"

#include "backend.h"
#include "frontend.h"
#include "log.h"
#include "stats.h"
#include "worker.h"

/* The summary of the connect failures that failure_log kept out of the log
 * (any thread: only immutable fields). */
static void
log_failures (guint64 count, guint seconds, gpointer data)
{
  MbBackend *backend = data;
  g_autofree gchar *text = mb_rate_limit_count (count);

  mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
          "frontend %s: backend %s: %s more connect failure%s in the last %u s",
          backend->frontend_title, backend->title, text, count == 1 ? "" : "s", seconds);
}

static void apply (MbBackend *backend, gboolean was_down, const gchar *why);

MbBackend *
mb_backend_new (MbFrontend *frontend, const gchar *frontend_title, guint index, const MbBackendConfig *config)
{
  MbBackend *backend = g_new0 (MbBackend, 1);

  backend->ref_count = 1;
  backend->title = g_strdup (config->title);
  backend->frontend_title = g_strdup (frontend_title);
  backend->forward_to = g_strdup (config->forward_to);
  g_mutex_init (&backend->lock);
  mb_rate_limit_init (&backend->failure_log, MB_RATE_LIMIT_INTERVAL_MS, log_failures, backend);
  backend->frontend = frontend;
  mb_backend_update (backend, index, config);
  /* A name that did not resolve at load (resolve_interval > 0): down
   * until it does; the frontend's balancer starts with it down. */
  if (backend->addresses->len == 0)
    {
      const gchar *error = config->resolve_error ? config->resolve_error : "the name did not resolve";

      backend->down_dns = TRUE;
      backend->why_down = g_strdup_printf ("no address: %s", error);
      /* The load's lookup was the first: resolve.c reports it. */
      backend->last_lookup.result = g_strdup (error);
    }
  return backend;
}

MbBackend *
mb_backend_ref (MbBackend *backend)
{
  g_atomic_int_inc (&backend->ref_count);
  return backend;
}

static gboolean
backend_free (gpointer data)
{
  MbBackend *backend = data;

  mb_worker_clear_source (&backend->revive);
  mb_rate_limit_clear (&backend->failure_log);
  g_clear_pointer (&backend->addresses, g_ptr_array_unref);
  g_mutex_clear (&backend->lock);
  g_free (backend->why_down);
  g_free (backend->last_check_detail);
  g_free (backend->host);
  g_free (backend->last_lookup.result);
  g_free (backend->title);
  g_free (backend->frontend_title);
  g_free (backend->forward_to);
  g_free (backend);
  return G_SOURCE_REMOVE;
}

void
mb_backend_unref (MbBackend *backend)
{
  if (backend == NULL || !g_atomic_int_dec_and_test (&backend->ref_count))
    return;
  /* Its timers live in the main context: freed there (the last session of
   * a removed backend may end on a worker). */
  mb_worker_run_on_main (backend_free, backend);
}

/* ADDRESSES (a reference is taken) for the sessions that start from now. */
static void
swap_addresses (MbBackend *backend, GPtrArray *addresses)
{
  GPtrArray *old;

  g_mutex_lock (&backend->lock);
  old = backend->addresses;
  backend->addresses = g_ptr_array_ref (addresses);
  g_mutex_unlock (&backend->lock);
  if (old != NULL)
    g_ptr_array_unref (old);
}

void
mb_backend_update (MbBackend *backend, guint index, const MbBackendConfig *config)
{
  backend->index = index;
  /* A weight set at run time holds until the file's weight changes. */
  if (config->weight != backend->config_weight)
    backend->weight_set = FALSE;
  backend->config_weight = config->weight;
  if (!backend->weight_set)
    backend->weight = config->weight;
  backend->backup = config->backup;
  g_atomic_int_set (&backend->send_proxy, (gint) config->send_proxy);
  g_free (backend->host);
  backend->host = g_strdup (config->host);
  backend->port = config->port;
  /* A name resolve.c follows keeps what it last found when the reload's
   * own lookup found nothing; otherwise the reload's addresses win (and
   * the next lookup brings a backend down for no address back up). */
  if (backend->addresses != NULL && config->addresses->len == 0 && backend->host != NULL)
    return;
  swap_addresses (backend, config->addresses);
}

void
mb_backend_set_addresses (MbBackend *backend, GPtrArray *addresses, const gchar *why)
{
  gboolean was_down = mb_backend_is_down (backend);

  g_return_if_fail (addresses->len > 0);
  swap_addresses (backend, addresses);
  backend->down_dns = FALSE;
  apply (backend, was_down, why);
}

void
mb_backend_detach (MbBackend *backend)
{
  backend->frontend = NULL;
  mb_worker_clear_source (&backend->revive);
}

GPtrArray *
mb_backend_get_addresses (MbBackend *backend)
{
  GPtrArray *addresses;

  g_mutex_lock (&backend->lock);
  addresses = g_ptr_array_ref (backend->addresses);
  g_mutex_unlock (&backend->lock);
  return addresses;
}

gboolean
mb_backend_is_down (const MbBackend *backend)
{
  return backend->down_active || backend->down_passive || backend->down_dns;
}

gboolean
mb_backend_takes_sessions (const MbBackend *backend)
{
  return backend->admin == MB_BACKEND_ENABLED;
}

const gchar *
mb_backend_state_name (const MbBackend *backend)
{
  switch (backend->admin)
    {
    case MB_BACKEND_MAINT:
      return "maint";
    case MB_BACKEND_DRAIN:
      return "drain";
    case MB_BACKEND_ENABLED:
      break;
    }
  return mb_backend_is_down (backend) ? "down" : "up";
}

void
mb_backend_set_admin (MbBackend *backend, MbBackendAdmin admin)
{
  static const gchar *const names[] = { "enabled", "draining", "in maintenance" };

  if (backend->admin == admin)
    return;
  backend->admin = admin;
  if (backend->frontend != NULL)
    {
      g_mutex_lock (&backend->frontend->lock);
      mb_balancer_set_excluded (backend->frontend->balancer, backend->index, admin != MB_BACKEND_ENABLED);
      g_mutex_unlock (&backend->frontend->lock);
    }
  mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
          "frontend %s: backend %s is %s (control socket)%s", backend->frontend_title, backend->title,
          names[admin], admin == MB_BACKEND_ENABLED ? "" : ": no new session; live sessions go on");
}

void
mb_backend_set_weight (MbBackend *backend, guint weight)
{
  backend->weight = weight;
  backend->weight_set = TRUE;
  if (backend->frontend != NULL)
    {
      g_mutex_lock (&backend->frontend->lock);
      mb_balancer_set_weight (backend->frontend->balancer, backend->index, weight);
      g_mutex_unlock (&backend->frontend->lock);
    }
  mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
          "frontend %s: backend %s: weight %u (control socket)", backend->frontend_title, backend->title,
          weight);
}

void
mb_backend_note_check (MbBackend *backend, gboolean ok, const gchar *detail)
{
  backend->last_check_at = g_get_real_time ();
  backend->last_check_ok = ok;
  g_free (backend->last_check_detail);
  backend->last_check_detail = g_strdup (detail);
  if (!ok)
    mb_counter_inc (&backend->check_failures);
}

/* Applies a change of either flag: tells the balancer and the log when the
 * backend as a whole went down or up. */
static void
apply (MbBackend *backend, gboolean was_down, const gchar *why)
{
  MbFrontend *frontend = backend->frontend;
  gboolean down = mb_backend_is_down (backend);

  if (down && why != NULL)
    {
      g_free (backend->why_down);
      backend->why_down = g_strdup (why);
    }
  if (down == was_down || frontend == NULL)
    return;
  g_mutex_lock (&frontend->lock);
  mb_balancer_set_down (frontend->balancer, backend->index, down);
  g_mutex_unlock (&frontend->lock);
  mb_log (down ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
          "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
          "frontend %s: backend %s is %s (%s)", backend->frontend_title, backend->title,
          down ? "DOWN" : "UP", why);
  mb_frontend_backends_changed (frontend);
}

void
mb_backend_set_checked (MbBackend *backend, gboolean down, const gchar *why)
{
  gboolean was_down = mb_backend_is_down (backend);

  backend->down_active = down;
  apply (backend, was_down, why);
}

static gboolean
on_revive (gpointer data)
{
  MbBackend *backend = data;
  gboolean was_down = mb_backend_is_down (backend);
  g_autofree gchar *why = NULL;

  g_clear_pointer (&backend->revive, g_source_unref);
  backend->down_passive = FALSE;
  backend->fails = 0;
  if (backend->frontend != NULL)
    why = g_strdup_printf ("fail_timeout of %" G_GUINT64_FORMAT " ms passed",
                           backend->frontend->config->fail_timeout_ms);
  apply (backend, was_down, why);
  return G_SOURCE_REMOVE;
}

typedef struct {
  MbBackend *backend;      /* a reference */
  gboolean failed;
  gchar *reason;
} Report;

static gboolean
report_on_main (gpointer data)
{
  Report *report = data;
  MbBackend *backend = report->backend;
  const MbFrontendConfig *config = backend->frontend ? backend->frontend->config : NULL;
  gint64 now = g_get_monotonic_time ();

  if (config == NULL)
    ;   /* removed by a reload meanwhile */
  else if (!report->failed)
    backend->fails = 0;
  else if (config->max_fails > 0 && !backend->down_passive)
    {
      /* A window of fail_timeout from its first failure. */
      if (backend->fails == 0 || now - backend->window_start > (gint64) config->fail_timeout_ms * 1000)
        {
          backend->fails = 0;
          backend->window_start = now;
        }
      if (++backend->fails >= config->max_fails)
        {
          gboolean was_down = mb_backend_is_down (backend);
          g_autofree gchar *why = g_strdup_printf ("%u failed connect%s within %" G_GUINT64_FORMAT " ms: %s",
                                                   backend->fails, backend->fails == 1 ? "" : "s",
                                                   config->fail_timeout_ms, report->reason);

          backend->down_passive = TRUE;
          backend->revive = mb_worker_timeout ((guint) config->fail_timeout_ms, on_revive, backend);
          apply (backend, was_down, why);
        }
    }
  mb_backend_unref (backend);
  g_free (report->reason);
  g_free (report);
  return G_SOURCE_REMOVE;
}

static void
report (MbBackend *backend, gboolean failed, const gchar *reason)
{
  Report *r = g_new0 (Report, 1);

  r->backend = mb_backend_ref (backend);
  r->failed = failed;
  r->reason = g_strdup (reason);
  mb_worker_run_on_main (report_on_main, r);
}

void
mb_backend_connect_failed (MbBackend *backend, const gchar *reason)
{
  mb_counter_inc (&backend->connect_failures);
  /* Whether failures count (max_fails) is the main thread's to say: its
   * frontend's settings may change with a reload. */
  g_atomic_int_inc (&backend->failing);
  report (backend, TRUE, reason);
}

void
mb_backend_connect_succeeded (MbBackend *backend)
{
  /* The common case costs one atomic read: nothing to clear. */
  if (g_atomic_int_get (&backend->failing) == 0)
    return;
  g_atomic_int_set (&backend->failing, 0);
  report (backend, FALSE, NULL);
}
