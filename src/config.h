/* config.h - the validated configuration of mini-balancer.
 *
 * A configuration file (libconfuse syntax, or the seed's TOML schema for names
 * ending in ".toml") is read once into an MbConfig: plain data, validated and
 * with every address resolved, never changed afterwards.  Nothing outside
 * config.c touches libconfuse.  No sockets are opened here: the module is
 * tested without a network (host names are resolved, which may read
 * /etc/hosts or ask DNS).
 *
 * Errors are collected, not stopped at: a load reports every semantic error
 * it finds as "FILE:LINE: option: message", one per line of the GError.
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "proxy-protocol.h"

G_BEGIN_DECLS

typedef enum {
  MB_LOG_LEVEL_ERROR,
  MB_LOG_LEVEL_WARNING,
  MB_LOG_LEVEL_MESSAGE,
  MB_LOG_LEVEL_INFO,
  MB_LOG_LEVEL_DEBUG,
} MbLogLevel;

/* How a frontend spreads connections over its backends (see balancer.h). */
typedef enum {
  MB_BALANCE_ROUND_ROBIN,
  MB_BALANCE_LEAST_CONNECTIONS,
  MB_BALANCE_RANDOM_TWO,
  MB_BALANCE_SOURCE_HASH,
} MbBalance;

#define MB_DEFAULT_SHUTDOWN_TIMEOUT_MS (30 * 1000)
#define MB_DEFAULT_CONNECT_TIMEOUT_MS  (5 * 1000)
#define MB_DEFAULT_IDLE_TIMEOUT_MS     (3600 * 1000)
#define MB_DEFAULT_BACKLOG             1024
#define MB_MAX_BACKLOG                 65535
#define MB_DEFAULT_MAX_CONNECTIONS     10000
#define MB_MAX_MAX_CONNECTIONS         1000000
#define MB_MAX_WORKERS                 64
#define MB_MAX_WEIGHT                  256
#define MB_DEFAULT_FAIL_TIMEOUT_MS     (10 * 1000)
#define MB_DEFAULT_CHECK_INTERVAL_MS   (2 * 1000)
#define MB_DEFAULT_CHECK_TIMEOUT_MS    (1 * 1000)
#define MB_DEFAULT_CHECK_RISE          2
#define MB_DEFAULT_CHECK_FALL          3

typedef struct {
  gchar *title;
  gchar *forward_to;       /* as written; NULL until set */
  const gchar *file;       /* interned: where forward_to (else the section) is */
  gint line;
  GPtrArray *addresses;    /* GInetSocketAddress, resolved, tried in this order; empty
                            * when host did not resolve (resolve_interval > 0 only) */
  gchar *host;             /* a host name to resolve again (resolve_interval); NULL
                            * for an IP literal or with resolve_interval 0 */
  guint16 port;
  gchar *resolve_error;    /* why host did not resolve at load; NULL when it did */
  guint weight;            /* 1..MB_MAX_WEIGHT */
  gboolean backup;         /* chosen only while every non-backup is down; else a last resort */
  MbProxyVersion send_proxy; /* its own, else its frontend's send_proxy */
  /* A new option: compare it in reload.c's backend_options_equal(). */
} MbBackendConfig;

/* Active health checks: a connect, optionally bytes sent and bytes expected
 * in the answer, every interval, for each backend of the frontend. */
typedef struct {
  const gchar *file;       /* interned: where the section starts */
  gint line;
  guint64 interval_ms;
  guint64 timeout_ms;
  guint rise;              /* consecutive successes to mark a backend up */
  guint fall;              /* consecutive failures to mark it down */
  GBytes *send;            /* NULL: send nothing */
  GBytes *expect;          /* NULL: a completed connect is a success */
  /* A new option: compare it in reload.c's health_check_equal(). */
} MbHealthCheckConfig;

typedef struct {
  gchar *title;
  gchar *bind_on;          /* as written; NULL until set */
  const gchar *file;       /* interned: where bind_on (else the section) is */
  gint line;
  gboolean bind_any;       /* "*:port": every local address */
  guint16 bind_port;
  GPtrArray *bind_addresses; /* GInetSocketAddress; empty when bind_any */
  MbBalance balance;
  guint64 connect_timeout_ms;
  guint64 idle_timeout_ms; /* 0: never */
  guint backlog;
  guint max_connections;   /* live sessions of this frontend; 0: only the global limit */
  guint max_fails;         /* passive ejection after this many failed connects; 0: off */
  guint64 fail_timeout_ms; /* ... within this long, and for this long */
  MbHealthCheckConfig *health_check; /* NULL: no active checks */
  gboolean accept_proxy;   /* clients begin with a PROXY header (v1 or v2) */
  gboolean freebind;       /* bind_on may name an address the host does not have (yet) */
  guint64 resolve_interval_ms; /* backend names resolved again this often; 0: never */
  gchar *discover;         /* SRV name backends are discovered from; NULL: none */
  const gchar *discover_file;
  gint discover_line;
  MbProxyVersion send_proxy; /* the default of its backends */
  GPtrArray *backends;     /* MbBackendConfig, in file order */
  /* A new option: compare it in reload.c's frontend_options_equal(). */
} MbFrontendConfig;

typedef struct {
  gint ref_count;          /* atomic: the daemon and each frontend built from it */
  gchar *path;
  MbLogLevel log_level;
  guint64 shutdown_timeout_ms; /* 0: don't wait */
  guint max_connections;   /* live sessions of all frontends together */
  guint workers;           /* relay threads; 0: auto (one per CPU) */
  gchar *user;             /* drop privileges to this user after binding; NULL: don't */
  gchar *group;            /* ... and this group; NULL: the user's primary group */
  const gchar *user_file, *group_file; /* interned: where user and group are set */
  gint user_line, group_line;
  uid_t uid;               /* resolved at load when user is set */
  gid_t gid;               /* resolved at load when user or group is set */
  gchar *admin_socket;     /* the control socket's path; NULL: none */
  gchar *admin_group;      /* its members may use the control socket too; NULL: none */
  const gchar *admin_socket_file, *admin_group_file;
  gint admin_socket_line, admin_group_line;
  gid_t admin_gid;         /* resolved at load when admin_group is set */
  MbFrontendConfig *stats; /* stats_listen, as a frontend without backends
                            * (title "stats_listen"): its bind_on and
                            * addresses; NULL: no HTTP statistics */
  GPtrArray *frontends;    /* MbFrontendConfig, in file order */
} MbConfig;

/* Reads, validates and resolves PATH.  Returns NULL with ERROR set
 * (MB_ERROR_CONFIG, every problem on its own line) when anything is wrong,
 * including a missing or empty file. */
MbConfig *mb_config_load (const gchar *path, GError **error);
/* Reference counted: the daemon holds the configuration in force, and each
 * runtime frontend the one its settings come from (after a reload, until
 * it is updated or ends).  Never changed once loaded: any thread may read
 * it while it holds a reference. */
MbConfig *mb_config_ref (MbConfig *config);
void mb_config_unref (MbConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbConfig, mb_config_unref)

const gchar *mb_log_level_to_string (MbLogLevel level);
/* "round-robin", "least-connections", ... as written in the file. */
const gchar *mb_balance_name (MbBalance balance);

/* Whether two frontends' bind_on addresses can collide (the same port on
 * the same, or a wildcard, address).  Both must be resolved (bind_addresses
 * set), as every frontend of a loaded MbConfig is; they may come from
 * different configurations (reload.h). */
gboolean mb_frontend_config_overlaps (const MbFrontendConfig *a, const MbFrontendConfig *b);

/* For the loaders (config.c, toml.c): build a raw configuration, then let
 * mb_config_finish() check and resolve it.  ERRORS is an array of strings. */
MbConfig *mb_config_new (const gchar *path);
MbFrontendConfig *mb_config_add_frontend (MbConfig *config, const gchar *title,
                                          const gchar *file, gint line);
/* Frees a backend section (also one made elsewhere: resolve.c's discovered
 * backends). */
void mb_backend_config_free (gpointer backend);
MbBackendConfig *mb_frontend_config_add_backend (MbFrontendConfig *frontend, const gchar *title,
                                                 const gchar *file, gint line);
void mb_config_error (GPtrArray *errors, const gchar *file, gint line,
                      const gchar *format, ...) G_GNUC_PRINTF (4, 5);
gboolean mb_config_finish (MbConfig *config, GPtrArray *errors);
gboolean mb_config_report (GPtrArray *errors, GError **error);

G_END_DECLS
