/* frontend.h - a listening frontend: its sockets, its accept loop, its backends.
 *
 * Each frontend binds every address its bind_on resolved to ("*" binds [::]
 * dual-stack, or 0.0.0.0 where the host has no IPv6) and accepts on each with
 * its own loop.  We own the accept instead of using GSocketService, which on
 * an accept error (EMFILE, ENFILE) logs and retries at once in a tight loop:
 * here such an error pauses that listener briefly, logging once per pause.
 * So does a descriptor budget (fds.h) without room for another session's
 * two descriptors: a client is accepted only when its backend socket is
 * sure to be had.
 *
 * Lifetimes.  A frontend is reference counted: the daemon holds the ones
 * in force, and every session holds its own.  A reload (daemon.c) matches
 * frontends by title and updates a kept one in place on the main thread
 * (mb_frontend_update): its settings, listeners, backends and balancer.  A
 * removed frontend stops listening and checking at once, and lives on
 * until its last session ends.
 *
 * Workers accept (admission.h) and plan a new client's backends
 * themselves, so they read a frontend's settings, backend list and
 * balancer: under the frontend's lock, which the main thread takes to
 * change any of them (a reload, a backend down or up, a weight).  A plan is
 * one pick of the algorithm under that lock, so round-robin stays exact
 * across workers: every connection moves it by exactly one step, in the
 * order the workers take the lock.  A session copies the settings it uses
 * (timeouts) when it starts, and holds a reference to the backend list it
 * was planned over (`backends`: a reload installs a new array rather than
 * changing the old one), so nothing changes under it afterwards.  The rest
 * that workers touch is immutable (title) or atomic (counts, flags).
 */
#pragma once

#include <gio/gio.h>

#include "activation.h"
#include "backend.h"
#include "balancer.h"
#include "config.h"
#include "health.h"
#include "ratelimit.h"
#include "reload.h"

G_BEGIN_DECLS

typedef struct MbFrontend MbFrontend;

struct MbFrontend {
  gint ref_count;                  /* atomic */
  gchar *title;                    /* immutable */
  gint live;                       /* sessions of this frontend (atomic: they end on workers) */
  gint max_live;                   /* its max_connections, 0: none (atomic, admission.h) */
  gint held;                       /* gates held at a limit, all workers (atomic) */
  gint paused;                     /* resting after a shortage (atomic) */
  gint64 last_limit_log;           /* when "at max_connections" was logged (atomic) */
  MbRateLimit no_backend_log;      /* "no backend accepted" lines (any thread) */
  /* Counters (stats.h), any thread: */
  guint64 connections;             /* clients accepted */
  guint64 failed;                  /* clients that no backend took */
  guint64 bytes_received;          /* from clients */
  guint64 bytes_sent;              /* to clients */
  guint64 proxy_errors;            /* bad PROXY protocol headers */
  /* The main thread's; workers read them under lock: */
  GMutex lock;
  MbConfig *owner;                 /* holds config */
  const MbFrontendConfig *config;  /* the settings in force */
  GPtrArray *backends;             /* MbBackend, in the config's order; replaced, never
                                    * changed, by a reload: sessions hold it */
  MbBalancer *balancer;            /* over backends, by index */
  guint *backend_live;             /* the backends' live counts, read for a plan */
  /* Main thread only: */
  gboolean removed;                /* by a reload: no listener, no check, no new session */
  /* private */
  GPtrArray *listeners;
  MbHealth *health;                /* active checks, or NULL */
  struct MbResolve *resolve;       /* backend names looked up again, or NULL */
  guint resume;                    /* timer while paused for lack of resources */
  struct MbHistorySample *history; /* a ring of MB_FRONTEND_HISTORY samples (snapshot.h) */
  guint history_next, history_len;
  gint64 last_shortage;
};

/* A frontend for CONFIG, a section of OWNER (referenced), not listening
 * yet. */
MbFrontend *mb_frontend_new (MbConfig *owner, const MbFrontendConfig *config);
MbFrontend *mb_frontend_ref (MbFrontend *frontend);
/* The last reference may go on any thread: the frontend is then freed on
 * the main thread. */
void mb_frontend_unref (MbFrontend *frontend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbFrontend, mb_frontend_unref)

/* Listening sockets for CONFIG's bind_on: claimed from INHERITED (may be
 * NULL) when one matches, else shared with a listener of DONORS (frontends
 * a reload removes or moves; may be NULL) on exactly that address, else
 * bound.  Not yet accepting (see mb_frontend_start and mb_frontend_update).
 * On failure nothing stays bound and ERROR names the frontend and the
 * address. */
GPtrArray *mb_frontend_listen (MbFrontend *frontend, const MbFrontendConfig *config,
                               MbInherited *inherited, GPtrArray *donors, GError **error);
/* LISTENERS (from mb_frontend_listen) become FRONTEND's; the current ones
 * close. */
void mb_frontend_adopt_listeners (MbFrontend *frontend, GPtrArray *listeners);
/* Closes the listening sockets only (a reload binds an overlapping address
 * in their place), and listens on them again (the reload failed). */
void mb_frontend_stop_listening (MbFrontend *frontend);
gboolean mb_frontend_listen_again (MbFrontend *frontend, GError **error);
/* Listens on FRONTEND's own bind_on (mb_frontend_listen, then adopted). */
gboolean mb_frontend_bind (MbFrontend *frontend, MbInherited *inherited, GError **error);
/* Starts accepting connections and checking backends, from the main loop. */
void mb_frontend_start (MbFrontend *frontend);
/* Closes the listening sockets at once: new connections are refused.  The
 * frontend goes on otherwise (see mb_frontend_remove). */
void mb_frontend_close (MbFrontend *frontend);
/* A reload keeps FRONTEND: CHANGE (reload.h) says what changed; its
 * settings come from CHANGE->new_config, a section of OWNER.  LISTENERS
 * (from mb_frontend_listen; NULL: keep the current ones) replace the
 * current ones, which close. */
void mb_frontend_update (MbFrontend *frontend, MbConfig *owner, const MbFrontendChange *change,
                         GPtrArray *listeners);
/* A reload, or the drain, removes FRONTEND: no listener, no check, no new
 * session; its backends are detached and its sessions go on. */
void mb_frontend_remove (MbFrontend *frontend);

/* The backends a new connection from a client whose address hashes to KEY
 * tries, in order, into ORDER (room for backends->len); returns how many.
 * Any thread, with the frontend's lock held (see balancer.h). */
guint mb_frontend_plan (MbFrontend *frontend, guint64 key, guint *order);
/* "listening", "held" (at a max_connections limit) or "paused" (resting
 * after a shortage of descriptors or memory); "closed" once it no longer
 * listens (removed, stopping). */
const gchar *mb_frontend_state_name (const MbFrontend *frontend);
/* The samples kept for the status page's charts: one a second, 5 minutes. */
#define MB_FRONTEND_HISTORY 300
/* Takes one sample of FRONTEND's counters at NOW (real time, us); main
 * thread, once a second. */
void mb_frontend_sample (MbFrontend *frontend, gint64 now);
/* Appends FRONTEND's samples, oldest first, to HISTORY (MbHistorySample). */
void mb_frontend_copy_history (const MbFrontend *frontend, GArray *history);
/* Discovery (resolve.h) found CONFIGS (MbBackendConfig, in order; not
 * kept): they become the backends after the written ones.  A title seen
 * before keeps its backend (state and all), a new one gets one, one no
 * longer found is detached (its sessions go on).  Main thread. */
void mb_frontend_set_discovered (MbFrontend *frontend, GPtrArray *configs);
/* A backend of FRONTEND went down or up: updates STATUS=. */
void mb_frontend_backends_changed (MbFrontend *frontend);
/* "web: 2/3 backends up, api: 1/1 backends up" over every frontend in
 * force. */
gchar *mb_frontend_summary (void);

/* Stops accepting for a moment after WHAT failed for lack of descriptors or
 * memory (ERROR); logs once per shortage.  From any thread. */
void mb_frontend_pause (MbFrontend *frontend, const gchar *what, const GError *error);

G_END_DECLS
