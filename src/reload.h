/* reload.h - what a reload changes: the old configuration against the new.
 *
 * Pure: two validated MbConfigs in, a plan out; no sockets, no runtime
 * objects, no I/O.  The daemon applies the plan on the main thread
 * (daemon.c); this module only says what to add, keep, change and remove,
 * so that it can be tested with `check` alone.
 *
 * Matching (DESIGN.md, Reload):
 * - Frontends by title.  Same title: KEEP when every option and every
 *   backend is the same, else CHANGE.  A title only in the new file: ADD;
 *   only in the old one: REMOVE.
 * - Backends by frontend title + backend title, and only when forward_to is
 *   the same text too: a changed forward_to is a new backend with fresh
 *   state (the old one is removed, the new one added, under the same
 *   title).  Same title and forward_to: KEEP when weight and backup are the
 *   same, else CHANGE (its state carries over, its options take the new
 *   values).
 * - Listeners: a kept or changed frontend whose bind_on text is the same
 *   keeps its listening sockets (rebind FALSE); one whose bind_on changed
 *   needs new ones (rebind TRUE), as does an added frontend.
 * - A new listener may collide with an old one that this reload closes
 *   (same or overlapping address: "*:7070" -> "127.0.0.1:7070", a frontend
 *   renamed, an address moved from one frontend to another).  For each
 *   frontend that binds, `displaces` names the old frontends whose
 *   listeners overlap its new address and are closed by this reload (they
 *   are removed, or rebind themselves); the daemon closes those just before
 *   the new bind, and binds them again if it fails.  Overlap is config's
 *   own rule, mb_frontend_config_overlaps() (config.h).
 * - Global options: log_level, shutdown_timeout, max_connections and
 *   admin_group apply at once; workers, user, group, admin_socket and
 *   stats_listen need a restart: each one that changed is named in `restart_needed` and keeps
 *   its running value.
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

typedef enum {
  MB_RELOAD_KEEP,     /* the same in both */
  MB_RELOAD_CHANGE,   /* the same object, other options */
  MB_RELOAD_ADD,      /* only in the new configuration */
  MB_RELOAD_REMOVE,   /* only in the old one */
} MbReloadAction;

typedef struct {
  MbReloadAction action;
  const MbBackendConfig *old_config;   /* NULL for ADD */
  const MbBackendConfig *new_config;   /* NULL for REMOVE */
} MbBackendChange;

typedef struct {
  MbReloadAction action;
  const MbFrontendConfig *old_config;  /* NULL for ADD */
  const MbFrontendConfig *new_config;  /* NULL for REMOVE */
  gboolean rebind;          /* ADD, or bind_on changed: new listeners */
  GPtrArray *displaces;     /* const MbFrontendConfig * of the OLD config:
                             * open listeners in the way of the new ones,
                             * in the old order; empty unless rebind */
  /* Only for KEEP and CHANGE (FALSE and NULL for ADD and REMOVE: every
   * backend of the frontend is added or removed with it): */
  gboolean backends_changed; /* the backend list (titles, order, forward_to,
                              * weights, backups) differs: a new balancer */
  GPtrArray *backends;      /* MbBackendChange: the new list in its order,
                             * then the removed backends in their old order */
} MbFrontendChange;

typedef struct {
  guint added, removed, changed, unchanged;
} MbReloadCounts;

typedef struct {
  GPtrArray *frontends;     /* MbFrontendChange: the new configuration's in
                             * its order, then the removed ones in the old
                             * order */
  MbReloadCounts frontend_counts;
  MbReloadCounts backend_counts;  /* over every frontend; the backends of an
                                   * added or removed frontend count as
                                   * added or removed */
  GPtrArray *restart_needed; /* gchar *: "workers", "user", "group", "admin_socket",
                              * "stats_listen": changed,
                              * need a restart, keep their running values */
} MbReloadPlan;

/* The plan that turns OLD into NEW (both validated by mb_config_load).
 * The plan points into both configurations: keep them alive while it is. */
MbReloadPlan *mb_reload_plan (const MbConfig *old_config, const MbConfig *new_config);
void mb_reload_plan_free (MbReloadPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbReloadPlan, mb_reload_plan_free)

/* "frontends 1 added, 0 removed, 1 changed, 2 unchanged; backends 2 added,
 * 1 removed, 0 changed, 5 unchanged"; newly allocated. */
gchar *mb_reload_plan_summary (const MbReloadPlan *plan);

/* Whether two health_check sections (either may be NULL) check the same
 * way: a reload that keeps them keeps the checks running as they are. */
gboolean mb_reload_same_checks (const MbHealthCheckConfig *a, const MbHealthCheckConfig *b);

G_END_DECLS
