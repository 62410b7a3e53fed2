/* backend.h - a backend at run time: its live sessions, up or down.
 *
 * A backend is down while its active checks say so (health.c), or for
 * fail_timeout after max_fails failed connects within fail_timeout
 * (passive ejection, here); either way its frontend's balancer skips it
 * (balancer.h).  Sessions already relaying to it are not cut.  Up and down
 * change on the main thread only, where the balancer is used; sessions
 * report their connects from their workers, and only failures (or the
 * first success after them) cross threads.  Every change of a backend's
 * state is logged once, and STATUS= is updated.
 */
#pragma once

#include <glib.h>

#include "config.h"
#include "ratelimit.h"

G_BEGIN_DECLS

typedef struct MbFrontend MbFrontend;

typedef struct {
  const MbBackendConfig *config;   /* borrowed: the MbConfig outlives us */
  MbFrontend *frontend;
  guint index;                     /* in the frontend's backends and balancer */
  gint live;                       /* sessions connecting or relaying to it (atomic) */
  gint failing;                    /* failed connects not yet cleared by a success (atomic) */
  MbRateLimit failure_log;         /* the sessions' "connect failed" lines (any thread) */
  /* Main thread only: */
  guint fails;                     /* failed connects in the current window */
  gint64 window_start;             /* monotonic, microseconds */
  GSource *revive;                 /* while passively down: ends it after fail_timeout */
  gboolean down_active, down_passive;
} MbBackend;

void mb_backend_init (MbBackend *backend, MbFrontend *frontend, guint index,
                      const MbBackendConfig *config);
void mb_backend_clear (MbBackend *backend);

gboolean mb_backend_is_down (const MbBackend *backend);

/* A session's connect to BACKEND failed (REASON) or succeeded.  From any
 * thread. */
void mb_backend_connect_failed (MbBackend *backend, const gchar *reason);
void mb_backend_connect_succeeded (MbBackend *backend);

/* The active checks' verdict (health.c; main thread): DOWN or not, and WHY
 * for the log line ("3 failed checks: Connection refused"). */
void mb_backend_set_checked (MbBackend *backend, gboolean down, const gchar *why);

G_END_DECLS
