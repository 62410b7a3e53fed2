/* reload.c - the plan of a reload: the old MbConfig against the new; see
 * reload.h.
 *
 * Pure comparison of two validated configurations: no sockets, no runtime
 * objects.  Options are compared as loaded (bind_on and forward_to as text,
 * as written), never where they were written: moving a section in the file,
 * or into an include, is not a change.  Titles are found by linear search:
 * a configuration has a handful of frontends and at most some hundreds of
 * backends per frontend, and the plan is made once per reload.
 */
#include "build-config.h"

#include "reload.h"

#include <string.h>

/* ---- options ----------------------------------------------------------- */

static gboolean
bytes_equal (GBytes *a, GBytes *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_bytes_equal (a, b);
}

gboolean
mb_reload_same_checks (const MbHealthCheckConfig *a, const MbHealthCheckConfig *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  /* A new health_check option: add one line here. */
  return a->interval_ms == b->interval_ms
         && a->timeout_ms == b->timeout_ms
         && a->rise == b->rise
         && a->fall == b->fall
         && bytes_equal (a->send, b->send)
         && bytes_equal (a->expect, b->expect);
}

/* Every option of a frontend that affects behaviour, except its backends.
 * A new frontend option: add one line here (not file/line: where an option
 * is written is not a change). */
static gboolean
frontend_options_equal (const MbFrontendConfig *a, const MbFrontendConfig *b)
{
  return g_strcmp0 (a->bind_on, b->bind_on) == 0
         && a->balance == b->balance
         && a->connect_timeout_ms == b->connect_timeout_ms
         && a->idle_timeout_ms == b->idle_timeout_ms
         && a->backlog == b->backlog
         && a->max_connections == b->max_connections
         && a->max_fails == b->max_fails
         && a->fail_timeout_ms == b->fail_timeout_ms
         && a->accept_proxy == b->accept_proxy
         && a->freebind == b->freebind
         && a->resolve_interval_ms == b->resolve_interval_ms
         && g_strcmp0 (a->discover, b->discover) == 0
         && a->send_proxy == b->send_proxy
         && mb_reload_same_checks (a->health_check, b->health_check);
}

/* The options of a backend that may change while it stays the same backend
 * (title and forward_to match).  A new backend option: add one line here. */
static gboolean
backend_options_equal (const MbBackendConfig *a, const MbBackendConfig *b)
{
  return a->weight == b->weight
         && a->backup == b->backup
         && a->send_proxy == b->send_proxy;
}

/* ---- matching ---------------------------------------------------------- */

static const MbFrontendConfig *
find_frontend (const MbConfig *config, const gchar *title)
{
  for (guint i = 0; i < config->frontends->len; i++)
    {
      const MbFrontendConfig *frontend = config->frontends->pdata[i];

      if (strcmp (frontend->title, title) == 0)
        return frontend;
    }
  return NULL;
}

/* The backend of OLD_FRONTEND that NEW_BACKEND continues: the same title
 * and the same forward_to text; NULL when there is none. */
static const MbBackendConfig *
find_backend (const MbFrontendConfig *old_frontend, const MbBackendConfig *new_backend)
{
  for (guint i = 0; i < old_frontend->backends->len; i++)
    {
      const MbBackendConfig *backend = old_frontend->backends->pdata[i];

      if (strcmp (backend->title, new_backend->title) == 0)
        return g_strcmp0 (backend->forward_to, new_backend->forward_to) == 0 ? backend : NULL;
    }
  return NULL;
}

static void
count (MbReloadCounts *counts, MbReloadAction action, guint n)
{
  switch (action)
    {
    case MB_RELOAD_KEEP:
      counts->unchanged += n;
      break;
    case MB_RELOAD_CHANGE:
      counts->changed += n;
      break;
    case MB_RELOAD_ADD:
      counts->added += n;
      break;
    case MB_RELOAD_REMOVE:
      counts->removed += n;
      break;
    }
}

static MbBackendChange *
backend_change_new (MbReloadAction action, const MbBackendConfig *old_config,
                    const MbBackendConfig *new_config)
{
  MbBackendChange *change = g_new0 (MbBackendChange, 1);

  change->action = action;
  change->old_config = old_config;
  change->new_config = new_config;
  return change;
}

/* Fills CHANGE->backends for a frontend in both configurations: the new
 * list in its order, then the old backends that nothing continues. */
static void
plan_backends (MbFrontendChange *change, MbReloadCounts *counts)
{
  const MbFrontendConfig *old_frontend = change->old_config, *new_frontend = change->new_config;
  g_autoptr(GHashTable) continued = g_hash_table_new (NULL, NULL);

  change->backends = g_ptr_array_new_with_free_func (g_free);
  /* A different length or order is a new balancer even when every backend
   * is kept. */
  change->backends_changed = old_frontend->backends->len != new_frontend->backends->len;

  for (guint i = 0; i < new_frontend->backends->len; i++)
    {
      const MbBackendConfig *new_backend = new_frontend->backends->pdata[i];
      const MbBackendConfig *old_backend = find_backend (old_frontend, new_backend);
      MbReloadAction action;

      if (old_backend == NULL)
        action = MB_RELOAD_ADD;
      else
        {
          action = backend_options_equal (old_backend, new_backend) ? MB_RELOAD_KEEP : MB_RELOAD_CHANGE;
          g_hash_table_add (continued, (gpointer) old_backend);
          if (i >= old_frontend->backends->len || old_frontend->backends->pdata[i] != old_backend)
            change->backends_changed = TRUE;
        }
      if (action != MB_RELOAD_KEEP)
        change->backends_changed = TRUE;
      g_ptr_array_add (change->backends, backend_change_new (action, old_backend, new_backend));
      count (counts, action, 1);
    }

  for (guint i = 0; i < old_frontend->backends->len; i++)
    {
      const MbBackendConfig *old_backend = old_frontend->backends->pdata[i];

      if (g_hash_table_contains (continued, old_backend))
        continue;
      change->backends_changed = TRUE;
      g_ptr_array_add (change->backends, backend_change_new (MB_RELOAD_REMOVE, old_backend, NULL));
      count (counts, MB_RELOAD_REMOVE, 1);
    }
}

static MbFrontendChange *
frontend_change_new (MbReloadAction action, const MbFrontendConfig *old_config,
                     const MbFrontendConfig *new_config)
{
  MbFrontendChange *change = g_new0 (MbFrontendChange, 1);

  change->action = action;
  change->old_config = old_config;
  change->new_config = new_config;
  change->displaces = g_ptr_array_new ();
  return change;
}

static void
frontend_change_free (gpointer data)
{
  MbFrontendChange *change = data;

  g_ptr_array_unref (change->displaces);
  g_clear_pointer (&change->backends, g_ptr_array_unref);
  g_free (change);
}

/* The old listener of CHANGE closes in this reload. */
static gboolean
closes_old_listener (const MbFrontendChange *change)
{
  return change->action == MB_RELOAD_REMOVE
         || (change->old_config != NULL && change->rebind);
}

/* For each frontend that binds, the old listeners in its way, in the old
 * order: those that overlap its new address and that this reload closes (a
 * frontend kept on the same address keeps its listener, and the new
 * configuration was checked for overlaps, so it is never in the way). */
static void
plan_displacements (MbReloadPlan *plan, const MbConfig *old_config)
{
  g_autoptr(GHashTable) closing = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < plan->frontends->len; i++)
    {
      const MbFrontendChange *change = plan->frontends->pdata[i];

      if (closes_old_listener (change))
        g_hash_table_add (closing, (gpointer) change->old_config);
    }
  if (g_hash_table_size (closing) == 0)
    return;

  for (guint i = 0; i < plan->frontends->len; i++)
    {
      MbFrontendChange *binding = plan->frontends->pdata[i];

      if (!binding->rebind)
        continue;
      for (guint j = 0; j < old_config->frontends->len; j++)
        {
          const MbFrontendConfig *old_frontend = old_config->frontends->pdata[j];

          if (g_hash_table_contains (closing, old_frontend)
              && mb_frontend_config_overlaps (binding->new_config, old_frontend))
            g_ptr_array_add (binding->displaces, (gpointer) old_frontend);
        }
    }
}

/* The global options that a running daemon cannot change; user and group
 * as text, as written.  A new one: add it here.  log_level, shutdown_timeout and max_connections apply at
 * once and need no plan. */
static void
plan_restart (MbReloadPlan *plan, const MbConfig *old_config, const MbConfig *new_config)
{
  if (old_config->workers != new_config->workers)
    g_ptr_array_add (plan->restart_needed, g_strdup ("workers"));
  if (g_strcmp0 (old_config->user, new_config->user) != 0)
    g_ptr_array_add (plan->restart_needed, g_strdup ("user"));
  if (g_strcmp0 (old_config->group, new_config->group) != 0)
    g_ptr_array_add (plan->restart_needed, g_strdup ("group"));
  if (g_strcmp0 (old_config->admin_socket, new_config->admin_socket) != 0)
    g_ptr_array_add (plan->restart_needed, g_strdup ("admin_socket"));
  if (g_strcmp0 (old_config->stats ? old_config->stats->bind_on : NULL,
                 new_config->stats ? new_config->stats->bind_on : NULL) != 0)
    g_ptr_array_add (plan->restart_needed, g_strdup ("stats_listen"));
}

/* ---- the plan ---------------------------------------------------------- */

MbReloadPlan *
mb_reload_plan (const MbConfig *old_config, const MbConfig *new_config)
{
  MbReloadPlan *plan;

  g_return_val_if_fail (old_config != NULL, NULL);
  g_return_val_if_fail (new_config != NULL, NULL);

  plan = g_new0 (MbReloadPlan, 1);
  plan->frontends = g_ptr_array_new_with_free_func (frontend_change_free);
  plan->restart_needed = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < new_config->frontends->len; i++)
    {
      const MbFrontendConfig *new_frontend = new_config->frontends->pdata[i];
      const MbFrontendConfig *old_frontend = find_frontend (old_config, new_frontend->title);
      MbFrontendChange *change;

      if (old_frontend == NULL)
        {
          change = frontend_change_new (MB_RELOAD_ADD, NULL, new_frontend);
          change->rebind = TRUE;
          count (&plan->backend_counts, MB_RELOAD_ADD, new_frontend->backends->len);
        }
      else
        {
          change = frontend_change_new (MB_RELOAD_KEEP, old_frontend, new_frontend);
          change->rebind = g_strcmp0 (old_frontend->bind_on, new_frontend->bind_on) != 0;
          plan_backends (change, &plan->backend_counts);
          if (change->backends_changed || !frontend_options_equal (old_frontend, new_frontend))
            change->action = MB_RELOAD_CHANGE;
        }
      g_ptr_array_add (plan->frontends, change);
      count (&plan->frontend_counts, change->action, 1);
    }

  for (guint i = 0; i < old_config->frontends->len; i++)
    {
      const MbFrontendConfig *old_frontend = old_config->frontends->pdata[i];

      if (find_frontend (new_config, old_frontend->title) != NULL)
        continue;
      g_ptr_array_add (plan->frontends, frontend_change_new (MB_RELOAD_REMOVE, old_frontend, NULL));
      count (&plan->frontend_counts, MB_RELOAD_REMOVE, 1);
      count (&plan->backend_counts, MB_RELOAD_REMOVE, old_frontend->backends->len);
    }

  plan_displacements (plan, old_config);
  plan_restart (plan, old_config, new_config);
  return plan;
}

void
mb_reload_plan_free (MbReloadPlan *plan)
{
  if (plan == NULL)
    return;
  g_ptr_array_unref (plan->frontends);
  g_ptr_array_unref (plan->restart_needed);
  g_free (plan);
}

gchar *
mb_reload_plan_summary (const MbReloadPlan *plan)
{
  const MbReloadCounts *f, *b;

  g_return_val_if_fail (plan != NULL, NULL);

  f = &plan->frontend_counts;
  b = &plan->backend_counts;
  return g_strdup_printf ("frontends %u added, %u removed, %u changed, %u unchanged; "
                          "backends %u added, %u removed, %u changed, %u unchanged",
                          f->added, f->removed, f->changed, f->unchanged,
                          b->added, b->removed, b->changed, b->unchanged);
}
