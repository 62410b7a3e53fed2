/* session.c - one client connection; see session.h. */
#include "build-config.h"

#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "address.h"
#include "error.h"
#include "log.h"
#include "pipes.h"
#include "relay.h"
#include "session.h"
#include "worker.h"

typedef struct {
  GList link;                  /* in its worker's live_sessions */
  MbFrontend *frontend;
  MbWorker *worker;            /* the thread it lives on */
  GSocket *client;
  gchar *client_name;
  gint64 started;              /* monotonic, microseconds */
  guint first;                 /* index of the backend the balancer picked */
  guint attempt;               /* backends given up on so far */
  guint address_index;         /* next address of the current backend */
  const MbBackendConfig *backend_config;
  gchar *backend_name;         /* address of the current attempt */
  GSocket *backend;
  GSource *connect_source;     /* while connecting */
  GSource *connect_timer;
  MbRelay *relay;              /* once connected */
} Session;

/* This thread's sessions: each lives and ends on one worker (worker.h). */
static __thread GQueue live_sessions = G_QUEUE_INIT;
static gint total_sessions;    /* all threads (atomic), counted from the hand-over */
static GSourceFunc idle_callback;
static gpointer idle_user_data;

/* "192.0.2.1:5555", worked out on first use and kept. */
static const gchar *
client_name (Session *session)
{
  if (session->client_name == NULL)
    {
      g_autoptr(GSocketAddress) peer = g_socket_get_remote_address (session->client, NULL);

      session->client_name = peer ? mb_address_to_string (peer) : g_strdup ("(unknown client)");
    }
  return session->client_name;
}

static const gchar *
frontend_title (const Session *session)
{
  return session->frontend->config->title;
}

static void
set_nodelay (GSocket *socket)
{
  /* We pass on what arrives when it arrives; the peers did their own
   * coalescing.  Nagle here would only add latency. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

static void
abort_socket (GSocket *socket)
{
  /* Close with RST, not FIN: the peer must not take an aborted session for
   * a complete one. */
  struct linger linger = { 1, 0 };

  setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
}

static void
stop_connecting (Session *session)
{
  if (session->connect_source != NULL)
    {
      g_source_destroy (session->connect_source);
      g_clear_pointer (&session->connect_source, g_source_unref);
    }
  mb_worker_clear_source (&session->connect_timer);
  g_clear_object (&session->backend);
  g_clear_pointer (&session->backend_name, g_free);
}

static void
session_end (Session *session)
{
  gboolean last;

  stop_connecting (session);
  g_clear_pointer (&session->relay, mb_relay_free);
  g_clear_object (&session->client);
  g_free (session->client_name);
  if (session->link.prev != NULL || live_sessions.head == &session->link)
    g_queue_unlink (&live_sessions, &session->link);
  mb_worker_session_ended (session->worker);
  /* Every count down before the frontend looks whether it may accept
   * again: it reads them all. */
  last = g_atomic_int_dec_and_test (&total_sessions);
  mb_frontend_session_ended (session->frontend);
  g_free (session);

  if (live_sessions.length == 0)
    mb_pipes_trim ();
  if (last)
    {
#ifdef HAVE_MALLOC_TRIM
      /* Give the relay buffers of a busy spell back to the system, so that
       * an idle daemon returns to its resting size. */
      malloc_trim (0);
#endif
      if (idle_callback != NULL && mb_worker_is_main ())
        idle_callback (idle_user_data);
      else if (idle_callback != NULL)
        g_main_context_invoke (NULL, idle_callback, idle_user_data);
    }
}

static void
on_relay_done (MbRelay *relay, const GError *error, gpointer data)
{
  Session *session = data;
  gdouble seconds = (gdouble) (g_get_monotonic_time () - session->started) / G_USEC_PER_SEC;

  if (error != NULL && !g_error_matches (error, MB_ERROR, MB_ERROR_TIMED_OUT))
    {
      abort_socket (session->client);
      abort_socket (session->backend);
    }
  if (mb_log_enabled (G_LOG_LEVEL_INFO))
    {
      g_autofree gchar *from_client = g_strdup_printf ("%" G_GUINT64_FORMAT, mb_relay_bytes_from_client (relay));
      g_autofree gchar *to_client = g_strdup_printf ("%" G_GUINT64_FORMAT, mb_relay_bytes_to_client (relay));
      g_autofree gchar *ended = error ? g_strdup_printf (" (ended early: %s)", error->message) : g_strdup ("");

      mb_log_fields (G_LOG_LEVEL_INFO,
                     "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session),
                     "MB_BACKEND", session->backend_config->title, "MB_BACKEND_ADDRESS", session->backend_name,
                     "MB_BYTES_FROM_CLIENT", from_client, "MB_BYTES_TO_CLIENT", to_client, NULL,
                     "frontend %s: %s: served connection via backend %s (%s) in %.3f s, "
                     "%s bytes from client, %s bytes to client%s",
                     frontend_title (session), client_name (session), session->backend_config->title,
                     session->backend_name, seconds, from_client, to_client, ended);
    }
  session_end (session);
}

static void
connected (Session *session)
{
  GSocket *backend = g_steal_pointer (&session->backend);
  gchar *backend_name = g_steal_pointer (&session->backend_name);

  stop_connecting (session);
  session->backend = backend;
  session->backend_name = backend_name;
  set_nodelay (backend);

  mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session),
          "MB_BACKEND", session->backend_config->title, "MB_BACKEND_ADDRESS", session->backend_name, NULL,
          "frontend %s: %s: opened client connection to backend %s (%s)", frontend_title (session),
          client_name (session), session->backend_config->title, session->backend_name);

  session->relay = mb_relay_new (g_socket_get_fd (session->client), g_socket_get_fd (session->backend),
                                 session->frontend->config->idle_timeout_ms, on_relay_done, session);
}

static void try_connect (Session *session);

static void
attempt_failed (Session *session, const gchar *reason)
{
  mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session),
          "MB_BACKEND", session->backend_config->title, "MB_BACKEND_ADDRESS", session->backend_name, NULL,
          "frontend %s: %s: backend %s (%s): connect failed: %s", frontend_title (session),
          client_name (session), session->backend_config->title, session->backend_name, reason);
  stop_connecting (session);
  try_connect (session);
}

static gboolean
on_connect_ready (GSocket *socket, GIOCondition condition, gpointer data)
{
  Session *session = data;
  g_autoptr(GError) error = NULL;

  if (g_socket_check_connect_result (socket, &error))
    connected (session);
  else
    attempt_failed (session, error->message);
  return G_SOURCE_REMOVE;
}

static gboolean
on_connect_timeout (gpointer data)
{
  Session *session = data;
  g_autofree gchar *reason = g_strdup_printf ("no answer within %" G_GUINT64_FORMAT " ms",
                                              session->frontend->config->connect_timeout_ms);

  g_clear_pointer (&session->connect_timer, g_source_unref);
  attempt_failed (session, reason);
  return G_SOURCE_REMOVE;
}

static gboolean
is_resource_error (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
}

static GSocket *
new_socket (GSocketAddress *address, GError **error)
{
  for (gint tries = 0;; tries++)
    {
      g_autoptr(GError) local_error = NULL;
      GSocket *socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, &local_error);

      if (socket != NULL)
        return socket;
      /* Pooled pipes (splice) may hold the descriptors: free them, try again. */
      if (tries > 0 || !is_resource_error (local_error) || !mb_pipes_trim ())
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
}

/* Not the backend's fault: this process is out of descriptors or memory.
 * Trying the other backends would fail the same way: close this client and
 * let the frontend rest. */
static void
out_of_resources (Session *session, const gchar *call, const GError *error)
{
  g_autofree gchar *what = g_strdup_printf ("%s: %s for backend %s", client_name (session), call,
                                            session->backend_config->title);

  mb_frontend_pause (session->frontend, what, error);
  session_end (session);
}

/* Starts the next connect attempt: the current backend's next address, else
 * the next backend in order.  Ends the session when none is left. */
static void
try_connect (Session *session)
{
  const MbFrontendConfig *config = session->frontend->config;

  while (session->attempt < config->backends->len)
    {
      guint index = mb_balancer_next (&session->frontend->balancer, session->first, session->attempt);
      const MbBackendConfig *backend = config->backends->pdata[index];
      GSocketAddress *address;
      g_autoptr(GError) error = NULL;

      if (session->address_index >= backend->addresses->len)
        {
          session->attempt++;
          session->address_index = 0;
          continue;
        }
      address = backend->addresses->pdata[session->address_index++];
      session->backend_config = backend;
      session->backend_name = mb_address_to_string (address);
      if (session->backend == NULL)   /* else made by mb_session_start() */
        session->backend = new_socket (address, &error);
      if (session->backend == NULL)
        {
          out_of_resources (session, "socket", error);
          return;
        }
      g_socket_set_blocking (session->backend, FALSE);
      if (g_socket_connect (session->backend, address, NULL, &error))
        {
          connected (session);
          return;
        }
      if (is_resource_error (error))
        {
          out_of_resources (session, "connect", error);
          return;
        }
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
        {
          attempt_failed (session, error->message);
          return;
        }
      session->connect_source = mb_worker_attach (g_socket_create_source (session->backend, G_IO_OUT, NULL),
                                                  (GSourceFunc) (void (*) (void)) on_connect_ready, session);
      session->connect_timer = mb_worker_timeout ((guint) config->connect_timeout_ms, on_connect_timeout, session);
      return;
    }

  mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", config->title, "MB_CLIENT", client_name (session), NULL,
          "frontend %s: %s: no backend accepted the connection; closing the client",
          config->title, client_name (session));
  session_end (session);
}

/* Makes the socket for the first attempt (see try_connect()); FALSE when
 * the daemon is out of descriptors: the session is then over. */
static gboolean
first_socket (Session *session)
{
  const MbBackendConfig *backend = session->frontend->config->backends->pdata[session->first];
  g_autoptr(GError) error = NULL;

  if (backend->addresses->len == 0)
    return TRUE;
  session->backend = new_socket (backend->addresses->pdata[0], &error);
  if (session->backend != NULL)
    return TRUE;
  session->backend_config = backend;
  out_of_resources (session, "socket", error);
  return FALSE;
}

/* On the session's worker. */
static gboolean
session_begin (gpointer data)
{
  Session *session = data;
  MbFrontend *frontend = session->frontend;

  g_queue_push_tail_link (&live_sessions, &session->link);
  set_nodelay (session->client);
  mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend->config->title, "MB_CLIENT", client_name (session), NULL,
          "frontend %s: %s: serving connection", frontend->config->title, client_name (session));
  try_connect (session);
  return G_SOURCE_REMOVE;
}

void
mb_session_start (MbFrontend *frontend, GSocket *client)
{
  Session *session = g_new0 (Session, 1);

  session->link.data = session;
  session->frontend = frontend;
  session->client = client;
  /* The address is asked for (getpeername) only when a line will name it:
   * at info level for every connection, otherwise only on failures. */
  if (mb_log_enabled (G_LOG_LEVEL_INFO))
    client_name (session);
  session->started = g_get_monotonic_time ();
  /* Here, on the accepting thread: the order of picks is the order of
   * accepts, and the counts are up to date for the next accept. */
  session->first = mb_balancer_pick (&frontend->balancer);
  g_atomic_int_inc (&total_sessions);
  mb_frontend_session_started (frontend);
  /* The first backend socket here too: when descriptors run out, this
   * client is closed and the frontend pauses before it accepts the next
   * one (a worker could tell it only after the rest of the batch). */
  if (!first_socket (session))
    return;
  session->worker = mb_worker_choose ();
  mb_worker_run (session->worker, session_begin, session);
}

guint
mb_session_count (void)
{
  return (guint) g_atomic_int_get (&total_sessions);
}

void
mb_session_close_all (void)
{
  while (live_sessions.head != NULL)
    {
      Session *session = live_sessions.head->data;

      mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session), NULL,
              "frontend %s: %s: closing session at shutdown", frontend_title (session), client_name (session));
      session_end (session);
    }
}

void
mb_session_set_idle_callback (GSourceFunc callback, gpointer user_data)
{
  idle_callback = callback;
  idle_user_data = user_data;
}
