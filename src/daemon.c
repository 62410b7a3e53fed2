/* daemon.c - frontends from a configuration, and reloading it; see daemon.h. */
#include "build-config.h"

#include <string.h>
#include <unistd.h>

#include "admission.h"
#include "daemon.h"
#include "error.h"
#include "fds.h"
#include "frontend.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "session.h"

typedef struct {
  MbReloadDone done;
  gpointer user_data;
} Waiter;

struct MbDaemon {
  MbConfig *config;           /* in force */
  GPtrArray *frontends;       /* MbFrontend (references): those in force */
  guint verbosity;
  gboolean closed;            /* draining: no more reloads */
  gboolean loading;           /* a load runs on a GTask thread */
  GSList *waiting;            /* Waiter: told when the load in flight is applied */
  GSList *queued;             /* Waiter: asked during it; the next load is theirs */
  guint reloads, succeeded, failed;
  gint64 started_real, started_monotonic; /* microseconds */
  gint64 last_reload_at;      /* real time, microseconds; 0: none yet */
  gboolean last_reload_ok;
  GPtrArray *last_reload_errors; /* gchar * */
};

MbDaemon *
mb_daemon_new (MbConfig *config, guint verbosity)
{
  MbDaemon *daemon = g_new0 (MbDaemon, 1);

  daemon->config = mb_config_ref (config);
  daemon->frontends = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_frontend_unref);
  daemon->verbosity = verbosity;
  daemon->last_reload_errors = g_ptr_array_new_with_free_func (g_free);
  daemon->started_real = g_get_real_time ();
  daemon->started_monotonic = g_get_monotonic_time ();
  return daemon;
}

static void
remove_all (MbDaemon *daemon)
{
  for (guint i = 0; i < daemon->frontends->len; i++)
    mb_frontend_remove (daemon->frontends->pdata[i]);
  g_ptr_array_set_size (daemon->frontends, 0);
}

void
mb_daemon_free (MbDaemon *daemon)
{
  if (daemon == NULL)
    return;
  daemon->closed = TRUE;
  /* A load in flight calls back into us: let it (its result is dropped). */
  while (daemon->loading)
    g_main_context_iteration (NULL, TRUE);
  remove_all (daemon);
  g_ptr_array_unref (daemon->frontends);
  g_ptr_array_unref (daemon->last_reload_errors);
  mb_config_unref (daemon->config);
  g_free (daemon);
}

gboolean
mb_daemon_bind (MbDaemon *daemon, MbInherited *inherited, GError **error)
{
  for (guint i = 0; i < daemon->config->frontends->len; i++)
    {
      MbFrontend *frontend = mb_frontend_new (daemon->config, daemon->config->frontends->pdata[i]);

      g_ptr_array_add (daemon->frontends, frontend);
      if (!mb_frontend_bind (frontend, inherited, error))
        {
          remove_all (daemon);   /* closes whatever was bound */
          return FALSE;
        }
    }
  return TRUE;
}

void
mb_daemon_start (MbDaemon *daemon)
{
  for (guint i = 0; i < daemon->frontends->len; i++)
    mb_frontend_start (daemon->frontends->pdata[i]);
}

void
mb_daemon_close (MbDaemon *daemon)
{
  daemon->closed = TRUE;
  for (guint i = 0; i < daemon->frontends->len; i++)
    mb_frontend_close (daemon->frontends->pdata[i]);
}

MbConfig *
mb_daemon_get_config (MbDaemon *daemon)
{
  return daemon->config;
}

guint
mb_daemon_reload_count (MbDaemon *daemon, guint *succeeded, guint *failed)
{
  if (succeeded != NULL)
    *succeeded = daemon->succeeded;
  if (failed != NULL)
    *failed = daemon->failed;
  return daemon->reloads;
}

gboolean
mb_daemon_last_reload (MbDaemon *daemon, gboolean *ok, gint64 *at, GPtrArray **errors)
{
  if (daemon->last_reload_at == 0)
    return FALSE;
  *ok = daemon->last_reload_ok;
  *at = daemon->last_reload_at;
  *errors = daemon->last_reload_errors;
  return TRUE;
}

void
mb_daemon_get_start (MbDaemon *daemon, gint64 *real_us, gint64 *monotonic_us)
{
  *real_us = daemon->started_real;
  *monotonic_us = daemon->started_monotonic;
}

GPtrArray *
mb_daemon_get_frontends (MbDaemon *daemon)
{
  return daemon->frontends;
}

static MbFrontend *
find_frontend (MbDaemon *daemon, const gchar *title)
{
  for (guint i = 0; i < daemon->frontends->len; i++)
    {
      MbFrontend *frontend = daemon->frontends->pdata[i];

      if (strcmp (frontend->title, title) == 0)
        return frontend;
    }
  return NULL;
}

/* ---- applying a plan --------------------------------------------------- */

/* A frontend that binds new listeners in this reload. */
typedef struct {
  const MbFrontendChange *change;
  MbFrontend *frontend;       /* a reference; a new one for ADD */
  GPtrArray *listeners;       /* bound, not yet accepting */
  gboolean committed;         /* the daemon's now */
} Pending;

static void
pending_free (gpointer data)
{
  Pending *pending = data;

  if (pending->listeners != NULL)
    g_ptr_array_unref (pending->listeners);   /* closes them */
  if (!pending->committed && pending->change->action == MB_RELOAD_ADD)
    mb_frontend_remove (pending->frontend);
  mb_frontend_unref (pending->frontend);
  g_free (pending);
}

static const Pending *
find_pending (GPtrArray *pending, const MbFrontendChange *change)
{
  for (guint i = 0; i < pending->len; i++)
    if (((Pending *) pending->pdata[i])->change == change)
      return pending->pdata[i];
  return NULL;
}

/* The bind error, with what a reload cannot do that a restart can. */
static gchar *
bind_error_text (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) && geteuid () != 0)
    return g_strdup_printf ("%s (this process dropped the privileges that binding it needs: "
                            "restart mini-balancer to listen there)", error->message);
  return g_strdup (error->message);
}

/* Binds the new listeners of PLAN, all or none.  Listeners in the way that
 * this reload closes anyway are shared when on the same address, else
 * closed first (DISPLACED gets their frontends); on failure those listen
 * again and ERRORS says why. */
static gboolean
bind_new_listeners (MbDaemon *daemon, MbConfig *config, const MbReloadPlan *plan,
                    GPtrArray *pending, GPtrArray *displaced, GPtrArray *errors)
{
  g_autoptr(GPtrArray) donors = g_ptr_array_new ();

  for (guint i = 0; i < plan->frontends->len; i++)
    {
      const MbFrontendChange *change = plan->frontends->pdata[i];
      g_autoptr(GError) error = NULL;
      Pending *p;

      if (!change->rebind)
        continue;
      p = g_new0 (Pending, 1);
      p->change = change;
      p->frontend = change->action == MB_RELOAD_ADD
                    ? mb_frontend_new (config, change->new_config)
                    : mb_frontend_ref (find_frontend (daemon, change->old_config->title));
      g_ptr_array_add (pending, p);
      /* Our own listeners in the way go with this reload: one on exactly
       * the same address is shared (its queue and all: nobody refused);
       * one that only overlaps is closed just before the new bind. */
      for (guint j = 0; j < change->displaces->len; j++)
        {
          const MbFrontendConfig *old = change->displaces->pdata[j];
          MbFrontend *frontend = find_frontend (daemon, old->title);

          if (frontend != NULL)
            g_ptr_array_add (donors, frontend);
        }
      p->listeners = mb_frontend_listen (p->frontend, change->new_config, NULL, donors, &error);
      if (p->listeners == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)
          && donors->len > 0)
        {
          for (guint j = 0; j < donors->len; j++)
            if (!g_ptr_array_find (displaced, donors->pdata[j], NULL))
              {
                mb_frontend_stop_listening (donors->pdata[j]);
                g_ptr_array_add (displaced, donors->pdata[j]);
              }
          g_clear_error (&error);
          p->listeners = mb_frontend_listen (p->frontend, change->new_config, NULL, NULL, &error);
        }
      g_ptr_array_set_size (donors, 0);
      if (p->listeners == NULL)
        {
          g_ptr_array_add (errors, bind_error_text (error));
          return FALSE;
        }
    }
  return TRUE;
}

/* Undoes bind_new_listeners(): the displaced frontends listen again. */
static void
restore_displaced (GPtrArray *displaced, GPtrArray *errors)
{
  for (guint i = 0; i < displaced->len; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!mb_frontend_listen_again (displaced->pdata[i], &error))
        {
          g_autofree gchar *text = g_strdup_printf ("cannot listen again after the failed reload: %s",
                                                    error->message);

          g_critical ("%s", text);
          g_ptr_array_add (errors, g_steal_pointer (&text));
        }
    }
}

static guint
count_listeners (GPtrArray *frontends)
{
  guint n = 0;

  for (guint i = 0; i < frontends->len; i++)
    n += ((MbFrontend *) frontends->pdata[i])->listeners->len;
  return n;
}

static void
apply_globals (MbDaemon *daemon, MbConfig *config, const MbReloadPlan *plan)
{
  mb_log_set_level (MIN (config->log_level + daemon->verbosity, MB_LOG_LEVEL_DEBUG));
  mb_admission_set_global_limit (config->max_connections);
  mb_fds_set_max_sessions (config->max_connections);
  for (guint i = 0; i < plan->restart_needed->len; i++)
    g_warning ("reload: %s changed in %s: it takes a restart; still running with the value in force",
               (const gchar *) plan->restart_needed->pdata[i], config->path);
}

/* Applies CONFIG over the configuration in force: TRUE, or FALSE with
 * ERRORS and nothing changed. */
static gboolean
apply (MbDaemon *daemon, MbConfig *config, GPtrArray *errors)
{
  g_autoptr(MbReloadPlan) plan = mb_reload_plan (daemon->config, config);
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func (pending_free);
  g_autoptr(GPtrArray) displaced = g_ptr_array_new ();
  g_autoptr(GPtrArray) frontends = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_frontend_unref);
  g_autofree gchar *summary = NULL;
  MbFdsFigures figures;
  guint listeners_before = count_listeners (daemon->frontends);

  if (!bind_new_listeners (daemon, config, plan, pending, displaced, errors))
    {
      g_ptr_array_set_size (pending, 0);   /* closes the new listeners */
      restore_displaced (displaced, errors);
      return FALSE;
    }

  /* From here on nothing fails. */
  for (guint i = 0; i < plan->frontends->len; i++)
    {
      const MbFrontendChange *change = plan->frontends->pdata[i];
      const Pending *p = find_pending (pending, change);
      GPtrArray *listeners = NULL;
      MbFrontend *frontend;

      if (p != NULL)
        {
          listeners = g_steal_pointer (&((Pending *) p)->listeners);
          ((Pending *) p)->committed = TRUE;
        }
      switch (change->action)
        {
        case MB_RELOAD_REMOVE:
          /* Its sessions hold it until they end. */
          mb_frontend_remove (find_frontend (daemon, change->old_config->title));
          break;
        case MB_RELOAD_ADD:
          frontend = mb_frontend_ref (p->frontend);
          mb_frontend_adopt_listeners (frontend, listeners);
          mb_frontend_start (frontend);
          g_ptr_array_add (frontends, frontend);
          break;
        case MB_RELOAD_KEEP:
        case MB_RELOAD_CHANGE:
          frontend = mb_frontend_ref (find_frontend (daemon, change->old_config->title));
          mb_frontend_update (frontend, config, change, listeners);
          g_ptr_array_add (frontends, frontend);
          break;
        }
    }
  g_ptr_array_unref (daemon->frontends);
  daemon->frontends = g_steal_pointer (&frontends);
  apply_globals (daemon, config, plan);
  mb_config_unref (daemon->config);
  daemon->config = mb_config_ref (config);

  /* Listeners come and go with frontends: the descriptor budget's base. */
  mb_fds_get_figures (&figures);
  mb_fds_set_base (figures.base + count_listeners (daemon->frontends) - listeners_before);

  summary = mb_reload_plan_summary (plan);
  mb_log (G_LOG_LEVEL_MESSAGE, NULL, "reloaded %s: %s", config->path, summary);
  return TRUE;
}

/* ---- reloading ---------------------------------------------------------- */

static void start_load (MbDaemon *daemon);

static void
load_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  MbConfig *config = mb_config_load (data, &error);

  if (config != NULL)
    g_task_return_pointer (task, config, (GDestroyNotify) mb_config_unref);
  else
    g_task_return_error (task, error);
}

static void
tell (GSList *waiters, gboolean ok, GPtrArray *errors)
{
  for (GSList *l = waiters; l != NULL; l = l->next)
    {
      Waiter *waiter = l->data;

      if (waiter->done != NULL)
        waiter->done (ok, errors, waiter->user_data);
    }
  g_slist_free_full (waiters, g_free);
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer data)
{
  MbDaemon *daemon = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *suffix = NULL;
  g_autofree gchar *status = NULL;
  GSList *waiting = g_steal_pointer (&daemon->waiting);
  gboolean ok = FALSE;

  daemon->loading = FALSE;
  if (daemon->closed)
    g_ptr_array_add (errors, g_strdup ("the daemon is stopping"));
  else if (config == NULL)
    {
      /* Every error as at start-up: one "FILE:LINE: ..." per line. */
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        g_ptr_array_add (errors, g_strdup (lines[i]));
    }
  else
    ok = apply (daemon, config, errors);

  daemon->last_reload_at = g_get_real_time ();
  daemon->last_reload_ok = ok;
  g_ptr_array_set_size (daemon->last_reload_errors, 0);
  for (guint i = 0; i < errors->len; i++)
    g_ptr_array_add (daemon->last_reload_errors, g_strdup (errors->pdata[i]));
  if (!ok)
    {
      daemon->failed++;
      for (guint i = 0; i < errors->len; i++)
        mb_log (G_LOG_LEVEL_WARNING, NULL, "%s", (const gchar *) errors->pdata[i]);
      g_warning ("reload of %s failed: %u error%s; still serving the previous configuration",
                 daemon->config->path, errors->len, errors->len == 1 ? "" : "s");
      suffix = g_strdup_printf ("last reload failed: %u error%s", errors->len, errors->len == 1 ? "" : "s");
    }
  else
    {
      daemon->succeeded++;
      suffix = g_strdup ("last reload ok");
    }
  if (!daemon->closed)
    {
      mb_notify_set_status_suffix (suffix);
      status = mb_frontend_summary ();
      mb_notify_ready (status);
    }
  tell (waiting, ok, errors);

  /* Reloads asked for meanwhile: one more load serves them all. */
  if (daemon->queued != NULL && !daemon->closed)
    {
      daemon->waiting = g_steal_pointer (&daemon->queued);
      start_load (daemon);
    }
  else if (daemon->queued != NULL)
    tell (g_steal_pointer (&daemon->queued), FALSE, errors);
}

static void
start_load (MbDaemon *daemon)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_loaded, daemon);

  daemon->loading = TRUE;
  daemon->reloads++;
  mb_notify_reloading ();
  g_message ("reloading %s", daemon->config->path);
  g_task_set_task_data (task, g_strdup (daemon->config->path), g_free);
  g_task_run_in_thread (task, load_in_thread);
}

void
mb_daemon_reload (MbDaemon *daemon, MbReloadDone done, gpointer user_data)
{
  Waiter *waiter = g_new0 (Waiter, 1);

  waiter->done = done;
  waiter->user_data = user_data;
  if (daemon->closed)
    {
      g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);

      g_message ("reload not done: the daemon is stopping");
      g_ptr_array_add (errors, g_strdup ("the daemon is stopping: no reload"));
      tell (g_slist_prepend (NULL, waiter), FALSE, errors);
      return;
    }
  if (daemon->loading)
    {
      daemon->queued = g_slist_append (daemon->queued, waiter);
      return;
    }
  daemon->waiting = g_slist_append (NULL, waiter);
  start_load (daemon);
}
