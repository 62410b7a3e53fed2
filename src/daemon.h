/* daemon.h - the runtime as a whole: frontends from a configuration, reload.
 *
 * The daemon holds the configuration in force and the frontends built
 * from it (frontend.h), binds them all or none at start-up, and reloads:
 *
 * - Load off the loops: the file is read, validated and its names resolved
 *   (blocking: DNS, user lookups) on a GTask thread; the main loop goes on
 *   meanwhile.  One load at a time; a reload asked for during one runs
 *   once it is over.
 * - Apply on the main thread, all or nothing: the plan (reload.h) says what
 *   changed; first every new listener is bound (a listener in the way that
 *   this reload closes anyway is closed just before, and bound again if
 *   the reload fails); a failure changes nothing.  Then, in one go on the
 *   main thread, frontends are added, updated in place (frontend.h) and
 *   removed, and the global options take their new values.  Workers never
 *   see a half-applied reload: sessions copy what they read, and hold
 *   references to the frontend and the backend list they started with.
 * - systemd: RELOADING=1 with MONOTONIC_USEC= when a reload starts, READY=1
 *   when it is over, and STATUS= ending with the last reload's result.
 *
 * Main thread only.
 */
#pragma once

#include <glib.h>

#include "activation.h"
#include "config.h"

G_BEGIN_DECLS

typedef struct MbDaemon MbDaemon;

/* A daemon for CONFIG (referenced); VERBOSITY is the number of -v given,
 * added to every configuration's log_level. */
MbDaemon *mb_daemon_new (MbConfig *config, guint verbosity);
void mb_daemon_free (MbDaemon *daemon);

/* Binds every frontend (sockets passed by systemd first); on failure
 * nothing stays bound and ERROR names the frontend and the address. */
gboolean mb_daemon_bind (MbDaemon *daemon, MbInherited *inherited, GError **error);
/* Starts accepting and checking. */
void mb_daemon_start (MbDaemon *daemon);
/* Closes every listener and stops the checks (the drain at SIGTERM);
 * sessions go on. */
void mb_daemon_close (MbDaemon *daemon);

/* The configuration in force. */
MbConfig *mb_daemon_get_config (MbDaemon *daemon);

/* How the last reload went: OK, and its ERRORS (strings, "FILE:LINE: ...";
 * empty when OK).  A reload refused because the daemon is stopping is one. */
typedef void (*MbReloadDone) (gboolean ok, GPtrArray *errors, gpointer user_data);

/* Reloads the configuration file (SIGHUP, the control socket); DONE (may be
 * NULL) is called once that reload is over. */
void mb_daemon_reload (MbDaemon *daemon, MbReloadDone done, gpointer user_data);
/* Reloads attempted; of those over, how many succeeded and failed. */
guint mb_daemon_reload_count (MbDaemon *daemon, guint *succeeded, guint *failed);
/* The last reload's outcome: FALSE when there was none yet; else *OK, *AT
 * (real time, microseconds) and *ERRORS (the daemon's; empty when OK). */
gboolean mb_daemon_last_reload (MbDaemon *daemon, gboolean *ok, gint64 *at, GPtrArray **errors);
/* When the daemon started: real and monotonic time, microseconds. */
void mb_daemon_get_start (MbDaemon *daemon, gint64 *real_us, gint64 *monotonic_us);
/* The frontends in force (MbFrontend), in the configuration's order. */
GPtrArray *mb_daemon_get_frontends (MbDaemon *daemon);

G_END_DECLS
