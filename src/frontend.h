/* frontend.h - a listening frontend: its sockets, its accept loop, its balancer.
 *
 * Each frontend binds every address its bind_on resolved to ("*" binds [::]
 * dual-stack, or 0.0.0.0 where the host has no IPv6) and accepts on each with
 * its own loop.  We own the accept instead of using GSocketService, which on
 * an accept error (EMFILE, ENFILE) logs and retries at once in a tight loop:
 * here such an error pauses that listener briefly, logging once per pause.
 * So does a descriptor budget (fds.h) without room for another session's
 * two descriptors: a client is accepted only when its backend socket is
 * sure to be had.
 */
#pragma once

#include <gio/gio.h>

#include "activation.h"
#include "backend.h"
#include "balancer.h"
#include "config.h"
#include "health.h"
#include "ratelimit.h"

G_BEGIN_DECLS

typedef struct MbFrontend MbFrontend;

struct MbFrontend {
  const MbFrontendConfig *config;  /* borrowed: the MbConfig outlives us */
  MbBalancer *balancer;            /* used on the main thread only */
  MbBackend *backends;             /* n_backends, in the config's order */
  guint n_backends;
  gint live;                       /* sessions of this frontend (atomic: they end on workers) */
  MbRateLimit no_backend_log;      /* "no backend accepted" lines (any thread) */
  /* private */
  GPtrArray *listeners;
  gint held;                       /* at a max_connections limit: not accepting (atomic) */
  guint *backend_live;             /* the backends' live counts, read for a plan */
  MbHealth *health;                /* active checks, or NULL */
  guint resume;                    /* timer while paused for lack of resources */
  gint64 last_shortage, last_limit_log;
};

MbFrontend *mb_frontend_new (const MbFrontendConfig *config);
/* Listens on every address: on a socket claimed from INHERITED (may be
 * NULL) when one matches, else on one it binds.  On failure nothing stays
 * bound. */
gboolean mb_frontend_bind (MbFrontend *frontend, MbInherited *inherited, GError **error);
/* Starts accepting connections from the main loop. */
void mb_frontend_start (MbFrontend *frontend);
/* Closes the listening sockets at once: new connections are refused. */
void mb_frontend_close (MbFrontend *frontend);
void mb_frontend_free (MbFrontend *frontend);

/* The backends a new connection from a client whose address hashes to KEY
 * tries, in order, into ORDER (room for n_backends); returns how many.  On
 * the main thread (see balancer.h). */
guint mb_frontend_plan (MbFrontend *frontend, guint64 key, guint *order);
/* A backend of FRONTEND went down or up: updates STATUS=. */
void mb_frontend_backends_changed (MbFrontend *frontend);
/* "web: 2/3 backends up, api: 1/1 backends up" over every frontend. */
gchar *mb_frontend_summary (void);

/* The limit on live sessions of all frontends together (max_connections). */
void mb_frontend_set_global_limit (guint max_connections);
/* Sessions tell their frontend when they start and end, so that it stops
 * accepting at max_connections and starts again below.  Started: on the
 * main thread; ended: on any worker. */
void mb_frontend_session_started (MbFrontend *frontend);
void mb_frontend_session_ended (MbFrontend *frontend);
/* Stops accepting for a moment after WHAT failed for lack of descriptors or
 * memory (ERROR); logs once per shortage.  From any thread. */
void mb_frontend_pause (MbFrontend *frontend, const gchar *what, const GError *error);

G_END_DECLS
