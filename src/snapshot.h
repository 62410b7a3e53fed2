/* snapshot.h - the daemon's state at one moment, as plain data.
 *
 * Taken on the main thread (mb_snapshot_take), where frontends and backends
 * are consistent, then read on any thread: the control socket's `show`
 * answers, the metrics, status.json and the status page are all rendered
 * from a snapshot, never from the runtime objects.  Counters are read with
 * relaxed atomics (stats.h): byte counts include live sessions.
 *
 * Owns everything it points to; immutable once taken.
 */
#pragma once

#include <glib.h>

#include "stats.h"

G_BEGIN_DECLS

/* A DNS name's last lookup (resolve.h); name NULL: nothing is looked up. */
typedef struct {
  gchar *name;
  gint64 at;                   /* real time, microseconds; 0: none yet */
  gboolean ok;
  gchar *result;               /* what it found, or why it failed */
} MbLookupSnapshot;

typedef struct {
  gchar *frontend;             /* its frontend's title */
  gchar *title;
  gchar *address;              /* the first address forward_to resolved to, "127.0.0.1:8080"; may be NULL */
  gchar *forward_to;           /* as written */
  const gchar *state;          /* "up", "down", "drain", "maint" (static strings) */
  gchar *why;                  /* why down, drain or maint; NULL otherwise */
  guint weight;                /* in force */
  gboolean backup;
  guint sessions;              /* live */
  guint64 connections;         /* sessions established with it */
  guint64 connect_failures;
  guint64 bytes_sent;          /* to it */
  guint64 bytes_received;      /* from it */
  guint64 check_failures;
  gint64 last_check_at;        /* real time, microseconds; 0: never checked */
  gboolean last_check_ok;
  gchar *last_check_detail;    /* why the last check failed; NULL otherwise */
  MbLookupSnapshot lookup;     /* of the name resolve_interval follows, if any */
  MbConnectHistogram connect_time; /* a copy; buckets not cumulative (stats.h) */
} MbBackendSnapshot;

/* One sample of a frontend's history, taken every second (the counters
 * as they were then: rates are differences of consecutive samples). */
typedef struct MbHistorySample {
  gint64 at;                   /* real time, microseconds */
  guint sessions;
  guint64 bytes_received;      /* from clients, cumulative */
  guint64 bytes_sent;          /* to clients, cumulative */
  guint64 connections;         /* cumulative */
} MbHistorySample;

typedef struct {
  gchar *title;
  gchar *bind_on;
  const gchar *balance;        /* "round-robin", ... (static strings) */
  const gchar *state;          /* "listening", "held", "paused", "closed" (static strings) */
  guint sessions;              /* live */
  guint64 connections;         /* clients accepted */
  guint64 failed;              /* clients no backend took */
  guint64 bytes_received;      /* from clients */
  guint64 bytes_sent;          /* to clients */
  guint64 proxy_errors;        /* clients closed for a bad PROXY protocol header */
  MbLookupSnapshot discover;   /* of its SRV name (discover), if any */
  GArray *history;             /* MbHistorySample, oldest first; at most the last 5 minutes */
} MbFrontendSnapshot;

typedef struct {
  const gchar *version;        /* PACKAGE_VERSION */
  gint64 taken_at;             /* real time, microseconds */
  gint64 start_time;           /* real time the daemon started, microseconds */
  guint workers;
  guint sessions;              /* live, all frontends (removed ones too) */
  guint reloads_ok, reloads_failed;
  guint64 relay_bytes_spliced;  /* read by every relay, through pipes (relay.h) */
  guint64 relay_bytes_copied;   /* ... and through buffers */
  GPtrArray *frontends;        /* MbFrontendSnapshot, in the configuration's order */
  GPtrArray *backends;         /* MbBackendSnapshot: each frontend's in turn, in order */
} MbSnapshot;

typedef struct MbDaemon MbDaemon;

/* The state of DAEMON now.  Main thread. */
MbSnapshot *mb_snapshot_take (MbDaemon *daemon);
void mb_snapshot_free (MbSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbSnapshot, mb_snapshot_free)

/* For tests and renderers that build snapshots by hand: empty, owning
 * arrays ready to be filled. */
MbSnapshot *mb_snapshot_new (void);
MbFrontendSnapshot *mb_snapshot_add_frontend (MbSnapshot *snapshot, const gchar *title);
MbBackendSnapshot *mb_snapshot_add_backend (MbSnapshot *snapshot, const gchar *frontend,
                                            const gchar *title);

G_END_DECLS
