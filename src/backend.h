/* backend.h - a backend at run time: its addresses, live sessions, up or down.
 *
 * A backend is an object of its own, reference counted, so that it can
 * outlive a reload that removes it: its frontend's current backend list
 * (frontend.h) holds a reference, and so does every session planned over
 * a list that contains it (sessions hold the list).  A reload that keeps a
 * backend (same frontend, title and forward_to) keeps the object, and with
 * it its state: up or down, consecutive check results, passive ejection,
 * live count.  A removed backend is detached from its frontend and takes no
 * new session; its sessions go on.
 *
 * Down and up.  A backend is down while its active checks say so
 * (health.c), or for fail_timeout after max_fails failed connects within
 * fail_timeout (passive ejection, here), or while its name resolves to no
 * address (resolve_interval: resolve.c); either way its frontend's balancer
 * skips it (balancer.h).  Sessions already relaying to it are not cut.  Up
 * and down change on the main thread only, where the balancer is used;
 * sessions report their connects from their workers, and only failures (or
 * the first success after them) cross threads.  Every change of a
 * backend's state is logged once, and STATUS= is updated.
 *
 * Threads: title, frontend_title and forward_to never change; addresses
 * change under a lock (a reload resolves names again) and are read with
 * mb_backend_get_addresses(); live, failing and send_proxy are atomics; the rest is
 * the main thread's.  The last reference may be dropped on any thread: the
 * object is then freed on the main thread.
 */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "ratelimit.h"
#include "stats.h"

G_BEGIN_DECLS

typedef struct MbFrontend MbFrontend;

/* What an operator set with the control socket (admin.c); a reload that
 * keeps the backend keeps it. */
typedef enum {
  MB_BACKEND_ENABLED,   /* takes sessions when up */
  MB_BACKEND_DRAIN,     /* no new session; health checks go on */
  MB_BACKEND_MAINT,     /* no new session; no health check */
} MbBackendAdmin;

/* The last DNS lookup of a name resolve.c follows (a backend's host, a
 * frontend's discover); main thread. */
typedef struct {
  gint64 at;                       /* real time, microseconds; 0: none yet */
  gboolean ok;
  gchar *result;                   /* what it found, or why it failed */
  gboolean failing;                /* a failure said once, until it succeeds again */
} MbLookupState;

typedef struct {
  gint ref_count;                  /* atomic */
  gchar *title;                    /* immutable */
  gchar *frontend_title;           /* immutable: its frontend's, for log lines */
  gchar *forward_to;               /* immutable: a changed forward_to is another backend */
  gboolean discovered;             /* from SRV records (resolve.h), not the file */
  gint live;                       /* sessions connecting or relaying to it (atomic) */
  gint failing;                    /* failed connects not yet cleared by a success (atomic) */
  gint send_proxy;                 /* MbProxyVersion, the file's (atomic: a reload may change it) */
  MbRateLimit failure_log;         /* the sessions' "connect failed" lines (any thread) */
  /* Counters (stats.h), any thread: */
  guint64 connections;             /* sessions established with it */
  guint64 connect_failures;
  guint64 bytes_sent;              /* to it */
  guint64 bytes_received;          /* from it */
  guint64 check_failures;
  MbConnectHistogram connect_time;  /* of the connects that succeeded */
  /* private */
  GMutex lock;
  GPtrArray *addresses;            /* GInetSocketAddress, tried in order; under lock */
  /* Main thread only: */
  MbFrontend *frontend;            /* NULL once a reload removed it */
  guint index;                     /* in the frontend's current list and balancer */
  guint weight;                    /* in force: the file's, or one set at run time */
  guint config_weight;             /* the file's */
  gboolean weight_set;             /* set at run time: holds until the file's changes */
  gboolean backup;
  MbBackendAdmin admin;
  gchar *why_down;                 /* while down: why ("3 failed checks: ...") */
  gint64 last_check_at;            /* real time, microseconds; 0: never checked */
  gboolean last_check_ok;
  gchar *last_check_detail;        /* why it failed; NULL when it passed */
  guint fails;                     /* failed connects in the current window */
  gint64 window_start;             /* monotonic, microseconds */
  GSource *revive;                 /* while passively down: ends it after fail_timeout */
  gboolean down_active, down_passive;
  gboolean down_dns;               /* its name gave no address (resolve.c) */
  gchar *host;                     /* the name resolve.c resolves again; NULL: none */
  guint16 port;
  GCancellable *lookup;            /* resolve.c's lookup in flight, or NULL */
  MbLookupState last_lookup;       /* of host; its result: the addresses */
  guint checks_passed, checks_failed; /* consecutive check results, kept across reloads */
} MbBackend;

/* A backend of FRONTEND (not referenced: the frontend holds the backend,
 * and detaches it before it goes) from CONFIG, at INDEX of its list. */
MbBackend *mb_backend_new (MbFrontend *frontend, const gchar *frontend_title, guint index,
                           const MbBackendConfig *config);
MbBackend *mb_backend_ref (MbBackend *backend);
void mb_backend_unref (MbBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbBackend, mb_backend_unref)

/* A reload kept BACKEND (same title and forward_to): its options and
 * addresses take CONFIG's values, at INDEX of the new list.  Main thread. */
void mb_backend_update (MbBackend *backend, guint index, const MbBackendConfig *config);
/* A reload removed BACKEND from its frontend: no new session, no timer;
 * its sessions go on.  Main thread. */
void mb_backend_detach (MbBackend *backend);

/* The addresses to try now, in order (a new reference). */
GPtrArray *mb_backend_get_addresses (MbBackend *backend);
/* resolve.c found new addresses for its name (main thread): ADDRESSES (a
 * reference is taken; not empty) for new sessions; a backend down for "no
 * address" comes back up (WHY: "app.test resolves to ...").  A failed
 * lookup changes nothing (resolve.h). */
void mb_backend_set_addresses (MbBackend *backend, GPtrArray *addresses, const gchar *why);

gboolean mb_backend_is_down (const MbBackend *backend);
/* Whether new sessions may go to it: enabled (up or down, the balancer
 * decides), not drained nor in maintenance. */
gboolean mb_backend_takes_sessions (const MbBackend *backend);
/* "up", "down", "drain" or "maint" (in that order of precedence, last
 * first). */
const gchar *mb_backend_state_name (const MbBackend *backend);

/* The control socket (main thread): maint, drain or enabled again; a
 * weight from 1 to MB_MAX_WEIGHT for new sessions. */
void mb_backend_set_admin (MbBackend *backend, MbBackendAdmin admin);
void mb_backend_set_weight (MbBackend *backend, guint weight);
/* A health check's outcome (main thread): for show backends. */
void mb_backend_note_check (MbBackend *backend, gboolean ok, const gchar *detail);

/* A session's connect to BACKEND failed (REASON) or succeeded.  From any
 * thread. */
void mb_backend_connect_failed (MbBackend *backend, const gchar *reason);
void mb_backend_connect_succeeded (MbBackend *backend);

/* The active checks' verdict (health.c; main thread): DOWN or not, and WHY
 * for the log line ("3 failed checks: Connection refused"). */
void mb_backend_set_checked (MbBackend *backend, gboolean down, const gchar *why);

G_END_DECLS
