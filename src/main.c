/* main.c - mini-balancer: command line, start-up, signals, shutdown.
 *
 * Only wiring: read the configuration, bind every frontend (all or nothing),
 * tell the service manager we are ready, run the main loop, and on SIGTERM or
 * SIGINT drain: close the listeners at once, let sessions finish for up to
 * shutdown_timeout, then end what remains.
 */
#include "build-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include <glib-unix.h>

#include "admission.h"
#include "admin.h"
#include "config.h"
#include "daemon.h"
#include "fds.h"
#include "frontend.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "pipes.h"
#include "poller.h"
#include "privileges.h"
#include "relay.h"
#include "session.h"
#include "trim.h"
#include "worker.h"

typedef struct {
  MbDaemon *runtime;
  MbAdmin *admin;           /* the control socket, or NULL */
  MbHttp *http;             /* statistics over HTTP, or NULL */
  guint sampler;            /* the frontends' history, once a second, with http */
  GMainLoop *loop;
  gboolean stopping;
  guint drain_timer;
} Daemon;

static gint verbosity;

static gboolean
on_verbose (const gchar *name, const gchar *value, gpointer data, GError **error)
{
  verbosity++;
  return TRUE;
}

static gboolean
on_sessions_idle (gpointer data)
{
  Daemon *daemon = data;

  if (daemon->stopping)
    g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_drain_timeout (gpointer data)
{
  Daemon *daemon = data;

  daemon->drain_timer = 0;
  g_message ("shutdown_timeout reached: closing %u remaining sessions", mb_session_count ());
  mb_session_close_all ();
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stop_signal (gpointer data)
{
  Daemon *daemon = data;
  guint64 shutdown_timeout_ms;

  if (daemon->stopping)
    {
      g_message ("second stop signal: closing %u sessions now", mb_session_count ());
      mb_session_close_all ();
      g_main_loop_quit (daemon->loop);
      return G_SOURCE_CONTINUE;
    }

  /* Listeners first: once STOPPING=1 is out, connects must be refused. */
  daemon->stopping = TRUE;
  mb_daemon_close (daemon->runtime);
  mb_notify_stopping ("stopping");

  shutdown_timeout_ms = mb_daemon_get_config (daemon->runtime)->shutdown_timeout_ms;
  if (mb_session_count () == 0)
    {
      g_message ("stopping");
      g_main_loop_quit (daemon->loop);
    }
  else if (shutdown_timeout_ms == 0)
    on_drain_timeout (daemon);
  else
    {
      g_message ("stopping: waiting up to %" G_GUINT64_FORMAT " ms for %u sessions to finish",
                 shutdown_timeout_ms, mb_session_count ());
      daemon->drain_timer = g_timeout_add ((guint) shutdown_timeout_ms, on_drain_timeout, daemon);
    }
  return G_SOURCE_CONTINUE;
}

/* One sample of every frontend's counters, for the status page's charts. */
static gboolean
on_sample (gpointer data)
{
  Daemon *daemon = data;
  GPtrArray *frontends = mb_daemon_get_frontends (daemon->runtime);
  gint64 now = g_get_real_time ();

  for (guint i = 0; i < frontends->len; i++)
    mb_frontend_sample (frontends->pdata[i], now);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_hangup (gpointer data)
{
  Daemon *daemon = data;

  mb_daemon_reload (daemon->runtime, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static int
run (Daemon *daemon, MbConfig *config)
{
  g_autofree gchar *status = NULL;
  g_autofree gchar *summary = NULL;
  g_autofree gchar *relay_path = NULL;
  g_autofree gchar *budget = NULL;
  g_autoptr(MbInherited) inherited = NULL;
  g_autoptr(GError) error = NULL;
  guint signals[3];

  if (!mb_poller_init (&error))
    {
      g_critical ("%s", error->message);
      return 1;
    }
  /* Listeners, sessions and health checks of this thread all wait in its
   * epoll set: one epoll_wait() per main loop iteration. */
  mb_poller_drive_context (g_main_context_default ());
  inherited = mb_inherited_take (&error);
  if (inherited == NULL)
    {
      g_critical ("%s", error->message);
      return 1;
    }
  if (!mb_daemon_bind (daemon->runtime, inherited, &error))
    {
      g_critical ("%s", error->message);
      return 1;
    }
  /* The statistics' sockets as the frontends': before privileges go. */
  if (config->stats != NULL && (daemon->http = mb_http_new (daemon->runtime, config->stats, &error)) == NULL)
    {
      g_critical ("%s", error->message);
      return 1;
    }
  if (!mb_inherited_check_all_claimed (inherited, &error))
    {
      g_critical ("%s", error->message);
      return 1;
    }
  g_clear_pointer (&inherited, mb_inherited_free);
  /* Everything is bound: from here on, no privilege is needed. */
  if (!mb_privileges_drop (config, &error))
    {
      g_critical ("%s", error->message);
      return 1;
    }
  /* The control socket as the user the daemon runs as (DESIGN.md). */
  if (config->admin_socket != NULL
      && (daemon->admin = mb_admin_new (daemon->runtime, config->admin_socket, &error)) == NULL)
    {
      g_critical ("%s", error->message);
      return 1;
    }

  if (!mb_workers_start (config->workers, &error))
    {
      g_critical ("cannot start the workers: %s", error->message);
      return 1;
    }

  daemon->loop = g_main_loop_new (NULL, FALSE);
  signals[0] = g_unix_signal_add (SIGTERM, on_stop_signal, daemon);
  signals[1] = g_unix_signal_add (SIGINT, on_stop_signal, daemon);
  signals[2] = g_unix_signal_add (SIGHUP, on_hangup, daemon);
  mb_session_set_idle_callback (on_sessions_idle, daemon);

  /* All the daemon holds for good is open now: the descriptor budget
   * starts from it, and says which relay path that leaves (fds.h). */
  mb_fds_set_base (mb_fds_count_held (mb_fds_estimate (config, mb_workers_count ())));
  mb_privileges_check_fd_limit (config);
  relay_path = mb_pipes_describe ();
  g_message ("relay: %s", relay_path);
  budget = mb_fds_describe ();
  mb_log (G_LOG_LEVEL_DEBUG, NULL, "descriptors: %s; pipes leave room for min (max_connections - sessions, %d) "
          "more sessions", budget, MB_FDS_HEADROOM);

  mb_daemon_start (daemon->runtime);
  if (daemon->http != NULL)
    {
      if (!mb_http_start (daemon->http, &error))
        {
          g_critical ("cannot start the statistics thread: %s", error->message);
          return 1;
        }
      daemon->sampler = g_timeout_add_seconds (1, on_sample, daemon);
      on_sample (daemon);
    }
  summary = mb_frontend_summary ();
  status = g_strdup_printf ("serving %u frontend%s with %u worker%s; %s", config->frontends->len,
                            config->frontends->len == 1 ? "" : "s", mb_workers_count (),
                            mb_workers_count () == 1 ? "" : "s", summary);
  g_message ("mini-balancer %s started: %s", PACKAGE_VERSION, status);
  mb_notify_ready (status);

  g_main_loop_run (daemon->loop);

  /* The listeners are closed: no session is handed over any more. */
  g_clear_pointer (&daemon->admin, mb_admin_free);
  g_clear_pointer (&daemon->http, mb_http_free);
  g_clear_handle_id (&daemon->sampler, g_source_remove);
  mb_daemon_close (daemon->runtime);
  mb_session_close_all ();
  mb_workers_stop ();
  mb_relay_thread_cleanup ();
  mb_trim_stop ();
  mb_daemon_free (g_steal_pointer (&daemon->runtime));
  /* What the workers' last sessions posted here (objects they were the
   * last to hold are freed on the main thread). */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (daemon->drain_timer != 0)
    g_source_remove (daemon->drain_timer);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    g_source_remove (signals[i]);
  mb_session_set_idle_callback (NULL, NULL);
  g_main_loop_unref (daemon->loop);
  g_message ("stopped");
  return 0;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *config_path = NULL;
  gboolean check_only = FALSE, show_version = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Configuration file (default " SYSCONFDIR "/mini-balancer/mini-balancer.conf); "
      "a name ending in .toml is read in the original TOML schema", "FILE" },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) on_verbose,
      "Log more: once for each connection, twice for debugging", NULL },
    { "check-config", 't', 0, G_OPTION_ARG_NONE, &check_only,
      "Check the configuration and exit", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &show_version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = NULL;
  Daemon daemon = { 0 };
  int status;

  signal (SIGPIPE, SIG_IGN);
  mb_log_init ();

  g_option_context_set_summary (context, "A TCP (layer-4) load balancer.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("mini-balancer: %s\nTry 'mini-balancer --help' for more information.\n", error->message);
      return EX_USAGE;
    }
  if (argc > 1)
    {
      g_printerr ("mini-balancer: unexpected argument '%s'\nTry 'mini-balancer --help' for more information.\n",
                  argv[1]);
      return EX_USAGE;
    }
  if (show_version)
    {
      g_print ("mini-balancer %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (config_path == NULL)
    config_path = g_strdup (SYSCONFDIR "/mini-balancer/mini-balancer.conf");

  config = mb_config_load (config_path, &error);
  if (config == NULL)
    {
      /* Not g_printerr(): it would turn UTF-8 into '?' in the C locale. */
      fprintf (stderr, "%s\n", error->message);
      return EX_CONFIG;
    }
  if (check_only)
    {
      g_print ("configuration OK\n");
      return 0;
    }

  mb_log_set_level (MIN (config->log_level + (guint) verbosity, MB_LOG_LEVEL_DEBUG));
  mb_fds_init (mb_privileges_raise_fd_limit (), config->max_connections);
  mb_admission_set_global_limit (config->max_connections);
  daemon.runtime = mb_daemon_new (config, (guint) verbosity);
  status = run (&daemon, config);
  g_clear_pointer (&daemon.admin, mb_admin_free);
  g_clear_pointer (&daemon.http, mb_http_free);
  g_clear_pointer (&daemon.runtime, mb_daemon_free);
  mb_log_shutdown ();
  return status;
}
