/* session.c - one client connection; see session.h. */
#include "build-config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "address.h"
#include "admission.h"
#include "error.h"
#include "fds.h"
#include "log.h"
#include "pipes.h"
#include "poller.h"
#include "proxy-protocol.h"
#include "relay.h"
#include "session.h"
#include "stats.h"
#include "trim.h"
#include "worker.h"

/* The PROXY header of an accept_proxy frontend's client (proxy-protocol.h):
 * read before anything else, without taking a byte of the stream after it.
 * Allocated for such clients only; the header stays for the session. */
typedef struct {
  MbPollerHandle watch;        /* the client, while the header is read */
  GSource *timer;              /* connect_timeout for all of it */
  guint8 *buffer;              /* what has been read of it; NULL once complete */
  gsize have;
  MbProxyHeader header;        /* once complete */
} ProxyRead;

/* A session holds what it uses: its frontend and the backend list it was
 * planned over (references), and copies of the settings it reads on its
 * worker, so that a reload on the main thread changes nothing under it. */
typedef struct {
  GList link;                  /* in its worker's live_sessions */
  MbFrontend *frontend;        /* a reference */
  GPtrArray *backends;         /* a reference: the frontend's list when planned */
  guint64 connect_timeout_ms;  /* the frontend's when planned */
  guint64 idle_timeout_ms;
  MbWorker *worker;            /* the thread it lives on */
  int client;                  /* descriptors: -1 when closed */
  gchar *client_name;
  gint64 started;              /* monotonic, microseconds */
  guint *order;                /* the backends to try, in order (frontend's plan) */
  guint n_order;
  guint order_here[4];         /* order's room when there are few backends */
  guint attempt;               /* backends given up on so far */
  MbBackend *counted;          /* the backend whose live count holds this session */
  MbBackend *current;          /* of the current attempt (in backends) */
  GPtrArray *addresses;        /* its addresses (a reference), NULL before its first */
  guint address_index;         /* next address of the current backend */
  GSocketAddress *backend_address; /* of the current attempt (in addresses) */
  gchar *backend_name;         /* its text, worked out on first use */
  int backend;
  MbPollerHandle connect_watch; /* while connecting */
  GSource *connect_timer;
  gint64 connect_started;      /* monotonic, microseconds: of the current attempt */
  MbRelay *relay;              /* once connected */
  ProxyRead *proxy;            /* accept_proxy only */
} Session;

/* This thread's sessions: each lives and ends on the worker that accepted
 * it (worker.h). */
static __thread GQueue live_sessions = G_QUEUE_INIT;
static GSourceFunc idle_callback;
static gpointer idle_user_data;

/* The client's own address as text: "192.0.2.1:5555". */
static gchar *
peer_name (Session *session)
{
  struct sockaddr_storage native;
  socklen_t len = sizeof native;
  g_autoptr(GSocketAddress) peer = NULL;

  if (getpeername (session->client, (struct sockaddr *) &native, &len) == 0)
    peer = g_socket_address_new_from_native (&native, len);
  return peer ? mb_address_to_string (peer) : g_strdup ("(unknown client)");
}

/* The client's address into SOURCE (and the address it connected to into
 * DESTINATION, unless NULL), *LEN their size: the ones its PROXY header
 * gave, which then stand for the client everywhere, else the socket's own.
 * FALSE when the socket has none (the client is gone). */
static gboolean
client_addresses (Session *session, struct sockaddr_storage *source, struct sockaddr_storage *destination,
                  socklen_t *len)
{
  const ProxyRead *proxy = session->proxy;

  if (proxy != NULL && proxy->buffer == NULL && proxy->header.has_addresses)
    {
      *source = proxy->header.source;
      if (destination != NULL)
        *destination = proxy->header.destination;
      *len = proxy->header.address_len;
      return TRUE;
    }
  *len = sizeof *source;
  if (getpeername (session->client, (struct sockaddr *) source, len) < 0)
    return FALSE;
  if (destination != NULL)
    {
      socklen_t destination_len = sizeof *destination;

      return getsockname (session->client, (struct sockaddr *) destination, &destination_len) == 0;
    }
  return TRUE;
}

/* The client as logs name it (client_addresses()), worked out on first use
 * and kept; never asked for before a PROXY header is complete. */
static const gchar *
client_name (Session *session)
{
  if (session->client_name == NULL)
    {
      struct sockaddr_storage native;
      socklen_t len;
      g_autoptr(GSocketAddress) source = NULL;

      if (client_addresses (session, &native, NULL, &len))
        source = g_socket_address_new_from_native (&native, len);
      session->client_name = source ? mb_address_to_string (source) : g_strdup ("(unknown client)");
    }
  return session->client_name;
}

/* The current attempt's backend address as text, worked out on first use:
 * most sessions never log it. */
static const gchar *
backend_name (Session *session)
{
  if (session->backend_name == NULL)
    session->backend_name = mb_address_to_string (session->backend_address);
  return session->backend_name;
}

static GError *
error_from_errno (gint errnum)
{
  return g_error_new_literal (G_IO_ERROR, g_io_error_from_errno (errnum), g_strerror (errnum));
}

static const gchar *
frontend_title (const Session *session)
{
  return session->frontend->title;
}

static void
set_nodelay (int fd)
{
  /* We pass on what arrives when it arrives; the peers did their own
   * coalescing.  Nagle here would only add latency. */
  int on = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Ends the current attempt, closing its socket unless KEEP_SOCKET (then
 * the socket stays in the epoll set for the relay to take over). */
static void
stop_connecting (Session *session, gboolean keep_socket)
{
  mb_worker_clear_source (&session->connect_timer);
  if (!keep_socket)
    {
      mb_poller_forget (&session->connect_watch);   /* closed just below */
      close_fd (&session->backend);
      g_clear_pointer (&session->backend_name, g_free);
    }
}

/* Moves the session's place in the live counts to BACKEND (NULL: none). */
static void
count_on (Session *session, MbBackend *backend)
{
  if (session->counted == backend)
    return;
  if (session->counted != NULL)
    g_atomic_int_add (&session->counted->live, -1);
  if (backend != NULL)
    g_atomic_int_inc (&backend->live);
  session->counted = backend;
}

static void
proxy_read_free (ProxyRead *proxy)
{
  mb_poller_forget (&proxy->watch);   /* the client closes just after */
  mb_worker_clear_source (&proxy->timer);
  g_free (proxy->buffer);
  g_free (proxy);
}

static void
session_end (Session *session)
{
  gboolean last;

  /* Out of the live counts before the client can see its end. */
  count_on (session, NULL);
  stop_connecting (session, FALSE);
  g_clear_pointer (&session->relay, mb_relay_free);
  g_clear_pointer (&session->proxy, proxy_read_free);
  close_fd (&session->client);
  mb_fds_session_give ();   /* taken by the accept loop */
  if (session->order != session->order_here)
    g_free (session->order);
  g_clear_pointer (&session->addresses, g_ptr_array_unref);
  if (session->backends != NULL)   /* NULL while a PROXY header is read */
    g_ptr_array_unref (session->backends);
  g_free (session->client_name);
  if (session->link.prev != NULL || live_sessions.head == &session->link)
    g_queue_unlink (&live_sessions, &session->link);
  mb_worker_session_ended (session->worker);
  /* Every count down before a held listener looks again (admission.h). */
  last = mb_admission_give (session->frontend);
  mb_frontend_unref (session->frontend);
  g_free (session);

  /* Its memory and pooled pipes go back to the system once the daemon is
   * quiet (trim.h), not now: clients that come one at a time would each
   * pay for it. */
  mb_trim_request ();
  if (last && idle_callback != NULL)
    mb_worker_run_on_main (idle_callback, idle_user_data);
}

static void
on_relay_done (MbRelay *relay, const GError *error, gpointer data)
{
  Session *session = data;
  gdouble seconds = (gdouble) (g_get_monotonic_time () - session->started) / G_USEC_PER_SEC;

  /* The relay has set how the sockets close (FIN, or RST for a cut
   * stream): close them now (relay.h). */
  if (mb_log_enabled (G_LOG_LEVEL_INFO))
    {
      g_autofree gchar *from_client = g_strdup_printf ("%" G_GUINT64_FORMAT, mb_relay_bytes_from_client (relay));
      g_autofree gchar *to_client = g_strdup_printf ("%" G_GUINT64_FORMAT, mb_relay_bytes_to_client (relay));
      g_autofree gchar *ended = error ? g_strdup_printf (" (ended early: %s)", error->message) : g_strdup ("");

      mb_log_fields (G_LOG_LEVEL_INFO,
                     "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session),
                     "MB_BACKEND", session->current->title, "MB_BACKEND_ADDRESS", backend_name (session),
                     "MB_BYTES_FROM_CLIENT", from_client, "MB_BYTES_TO_CLIENT", to_client, NULL,
                     "frontend %s: %s: served connection via backend %s (%s) in %.3f s, "
                     "%s bytes from client, %s bytes to client%s",
                     frontend_title (session), client_name (session), session->current->title,
                     backend_name (session), seconds, from_client, to_client, ended);
    }
  session_end (session);
}

static void attempt_failed (Session *session, const gchar *reason);

/* Writes the backend's PROXY header (send_proxy) on the new connection,
 * before any byte of the client's; FALSE after the attempt failed. */
static gboolean
send_proxy_header (Session *session)
{
  MbProxyVersion version = (MbProxyVersion) g_atomic_int_get (&session->current->send_proxy);
  struct sockaddr_storage source, destination;
  socklen_t len;
  guint8 header[MB_PROXY_WRITE_MAX];
  gsize size;
  ssize_t n;

  if (version == MB_PROXY_NONE)
    return TRUE;
  /* A client gone already: an UNKNOWN / LOCAL header, nothing to send it for. */
  if (client_addresses (session, &source, &destination, &len))
    size = mb_proxy_write (version, (const struct sockaddr *) &source, (const struct sockaddr *) &destination,
                           header);
  else
    size = mb_proxy_write (version, NULL, NULL, header);
  /* The connection is new: its send buffer is empty and takes these few
   * bytes whole, unless the backend has already reset it. */
  n = send (session->backend, header, size, MSG_NOSIGNAL);
  if (n == (ssize_t) size)
    return TRUE;
  {
    g_autofree gchar *reason = g_strdup_printf ("sending the PROXY header: %s",
                                                n < 0 ? g_strerror (errno) : "short write");

    attempt_failed (session, reason);
  }
  return FALSE;
}

static void
connected (Session *session)
{
  if (!send_proxy_header (session))
    return;
  mb_backend_connect_succeeded (session->counted);
  stop_connecting (session, TRUE);
  set_nodelay (session->backend);

  if (mb_log_enabled (G_LOG_LEVEL_INFO))
    mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session),
            "MB_BACKEND", session->current->title, "MB_BACKEND_ADDRESS", backend_name (session), NULL,
            "frontend %s: %s: opened client connection to backend %s (%s)", frontend_title (session),
            client_name (session), session->current->title, backend_name (session));

  mb_counter_inc (&session->current->connections);
  mb_connect_histogram_add (&session->current->connect_time,
                            (guint64) (g_get_monotonic_time () - session->connect_started));
  {
    MbRelayCounters counters = {
      .from_client = { &session->frontend->bytes_received, &session->current->bytes_sent },
      .to_client = { &session->current->bytes_received, &session->frontend->bytes_sent },
    };

    session->relay = mb_relay_new (session->client, session->backend, &session->connect_watch,
                                   session->idle_timeout_ms, &counters, on_relay_done, session);
  }
}

static void try_connect (Session *session);

static void
attempt_failed (Session *session, const gchar *reason)
{
  if (mb_rate_limit_allow (&session->counted->failure_log))
    mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session),
          "MB_BACKEND", session->current->title, "MB_BACKEND_ADDRESS", backend_name (session), NULL,
          "frontend %s: %s: backend %s (%s): connect failed: %s", frontend_title (session),
          client_name (session), session->current->title, backend_name (session), reason);
  mb_backend_connect_failed (session->counted, reason);
  stop_connecting (session, FALSE);
  try_connect (session);
}

static void
on_connect_ready (MbPollerHandle *handle, GIOCondition condition)
{
  Session *session = handle->data;
  /* Writable without an error or a hang-up: connected, no need to ask. */
  gint errnum = condition & (G_IO_ERR | G_IO_HUP) ? mb_address_take_error (session->backend) : 0;

  if (errnum == 0)
    connected (session);
  else
    attempt_failed (session, g_strerror (errnum));
}

static gboolean
on_connect_timeout (gpointer data)
{
  Session *session = data;
  g_autofree gchar *reason = g_strdup_printf ("no answer within %" G_GUINT64_FORMAT " ms",
                                              session->connect_timeout_ms);

  g_clear_pointer (&session->connect_timer, g_source_unref);
  attempt_failed (session, reason);
  return G_SOURCE_REMOVE;
}

static gboolean
is_resource_errno (gint errnum)
{
  return errnum == EMFILE || errnum == ENFILE || errnum == ENOBUFS || errnum == ENOMEM;
}

/* A socket for ADDRESS (mb_address_socket); -1 with ERROR set. */
static int
new_socket (GSocketAddress *address, GError **error)
{
  for (gint tries = 0;; tries++)
    {
      int fd = mb_address_socket (address);

      if (fd >= 0)
        return fd;
      /* Pooled pipes (splice) may hold the descriptors: free them, try again. */
      if (tries > 0 || !is_resource_errno (errno) || !mb_pipes_trim ())
        {
          g_propagate_error (error, error_from_errno (errno));
          return -1;
        }
    }
}

/* Not the backend's fault: this process is out of descriptors or memory.
 * Trying the other backends would fail the same way: close this client and
 * let the frontend rest. */
static void
out_of_resources (Session *session, const gchar *call, const GError *error)
{
  g_autofree gchar *what = session->current != NULL
                           ? g_strdup_printf ("%s: %s for backend %s", client_name (session), call,
                                              session->current->title)
                           : g_strdup_printf ("%s: %s for its PROXY header", client_name (session), call);

  mb_counter_inc (&session->frontend->failed);
  mb_frontend_pause (session->frontend, what, error);
  session_end (session);
}

/* Starts the next connect attempt: the current backend's next address, else
 * the next backend in order.  Ends the session when none is left. */
static void
try_connect (Session *session)
{
  while (session->attempt < session->n_order)
    {
      MbBackend *backend = session->backends->pdata[session->order[session->attempt]];
      g_autoptr(GError) error = NULL;

      if (session->addresses == NULL)   /* else from first_socket() */
        session->addresses = mb_backend_get_addresses (backend);
      if (session->address_index >= session->addresses->len)
        {
          session->attempt++;
          session->address_index = 0;
          g_clear_pointer (&session->addresses, g_ptr_array_unref);
          continue;
        }
      session->backend_address = session->addresses->pdata[session->address_index++];
      session->current = backend;
      count_on (session, backend);
      if (session->backend < 0)   /* else made by mb_session_start() */
        session->backend = new_socket (session->backend_address, &error);
      if (session->backend < 0)
        {
          out_of_resources (session, "socket", error);
          return;
        }
      mb_poller_handle_init (&session->connect_watch, session->backend, on_connect_ready, session);
      session->connect_started = g_get_monotonic_time ();
      if (mb_address_connect (session->backend, session->backend_address) == 0)
        {
          connected (session);
          return;
        }
      if (is_resource_errno (errno))
        {
          g_autoptr(GError) shortage = error_from_errno (errno);

          out_of_resources (session, "connect", shortage);
          return;
        }
      if (errno != EINPROGRESS && errno != EINTR)
        {
          attempt_failed (session, g_strerror (errno));
          return;
        }
      if (!mb_poller_watch (&session->connect_watch, G_IO_OUT, &error))
        {
          out_of_resources (session, "watch", error);
          return;
        }
      session->connect_timer = mb_worker_timeout ((guint) session->connect_timeout_ms, on_connect_timeout, session);
      return;
    }

  mb_counter_inc (&session->frontend->failed);
  if (mb_rate_limit_allow (&session->frontend->no_backend_log))
    mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session), NULL,
          "frontend %s: %s: no backend accepted the connection; closing the client",
          frontend_title (session), client_name (session));
  session_end (session);
}

/* Makes the socket for the first attempt (see try_connect()); FALSE when
 * the daemon is out of descriptors: the session is then over. */
static gboolean
first_socket (Session *session)
{
  g_autoptr(GError) error = NULL;

  session->current = session->backends->pdata[session->order[0]];
  session->addresses = mb_backend_get_addresses (session->current);
  if (session->addresses->len == 0)
    return TRUE;
  session->backend = new_socket (session->addresses->pdata[0], &error);
  if (session->backend >= 0)
    return TRUE;
  out_of_resources (session, "socket", error);
  return FALSE;
}

static void
session_begin (Session *session)
{
  MbFrontend *frontend = session->frontend;

  mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend->title, "MB_CLIENT", client_name (session), NULL,
          "frontend %s: %s: serving connection", frontend->title, client_name (session));
  try_connect (session);
}

/* Source-hash's key: a hash of the client's IP address (an IPv4 client of
 * a dual-stack listener as its IPv4 address). */
static guint64
address_key (const struct sockaddr *peer, socklen_t len)
{
  if (peer->sa_family == AF_INET && len >= sizeof (struct sockaddr_in))
    return mb_balancer_hash_address ((const guint8 *) &((const struct sockaddr_in *) peer)->sin_addr, 4);
  if (peer->sa_family == AF_INET6 && len >= sizeof (struct sockaddr_in6))
    {
      const struct in6_addr *addr = &((const struct sockaddr_in6 *) peer)->sin6_addr;

      if (IN6_IS_ADDR_V4MAPPED (addr))
        return mb_balancer_hash_address ((const guint8 *) addr + 12, 4);
      return mb_balancer_hash_address ((const guint8 *) addr, 16);
    }
  return 0;
}

/* Plans the session under its frontend's lock (frontend.h): one pick, and a
 * consistent view of a frontend that a reload may change.  PEER: the
 * client's address for source-hash. */
static void
plan_locked (Session *session, const struct sockaddr *peer, socklen_t peer_len)
{
  MbFrontend *frontend = session->frontend;

  session->backends = g_ptr_array_ref (frontend->backends);
  session->order = session->backends->len <= G_N_ELEMENTS (session->order_here)
                   ? session->order_here : g_new (guint, session->backends->len);
  session->n_order = mb_frontend_plan (frontend,
                                       frontend->config->balance == MB_BALANCE_SOURCE_HASH
                                       ? address_key (peer, peer_len) : 0,
                                       session->order);
  /* Counted before the lock goes, so that the next plan sees it
   * (least-connections, random-two). */
  if (session->n_order > 0)
    count_on (session, session->backends->pdata[session->order[0]]);
}

/* Planned: on to the backends.  An empty plan (every backend drained or in
 * maintenance): the client is closed as when none accepts.  When
 * descriptors run out for the first backend socket, this client is closed
 * and the frontend pauses before this worker accepts the next one. */
static void
session_go (Session *session)
{
  if (session->n_order > 0 && !first_socket (session))
    return;
  session_begin (session);
}

/* ---- the PROXY header of an accept_proxy frontend's client --------------- */

/* A bad, truncated or late header: the client goes before any backend is
 * chosen, with one line (its real address: the header gave none we can
 * trust) and a count. */
static void
proxy_failed (Session *session, const gchar *reason)
{
  if (mb_log_enabled (G_LOG_LEVEL_INFO))
    {
      g_autofree gchar *peer = peer_name (session);

      mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", peer, NULL,
              "frontend %s: %s: bad PROXY header: %s", frontend_title (session), peer, reason);
    }
  mb_counter_inc (&session->frontend->proxy_errors);
  session_end (session);
}

static void
proxy_complete (Session *session)
{
  ProxyRead *proxy = session->proxy;
  struct sockaddr_storage source;
  socklen_t len;

  mb_poller_unwatch (&proxy->watch);   /* the relay watches the client from now on */
  mb_worker_clear_source (&proxy->timer);
  g_clear_pointer (&proxy->buffer, g_free);   /* complete: the header's addresses count */
  g_clear_pointer (&session->client_name, g_free);
  if (!client_addresses (session, &source, NULL, &len))
    {
      source.ss_family = AF_UNSPEC;   /* source-hash: key 0 */
      len = 0;
    }
  g_mutex_lock (&session->frontend->lock);
  plan_locked (session, (const struct sockaddr *) &source, len);
  g_mutex_unlock (&session->frontend->lock);
  session_go (session);
}

/* Reads what the client sent of its header so far: peeks, lets the parser
 * say how much of it is header for sure, and takes only that much, so that
 * the first byte of the stream stays in the socket for the relay.  Each
 * round takes at least one byte (or ends), and the header is bounded. */
static void
proxy_on_readable (MbPollerHandle *handle, GIOCondition condition)
{
  Session *session = handle->data;
  ProxyRead *proxy = session->proxy;

  (void) condition;
  for (;;)
    {
      gsize wanted = mb_proxy_wanted (proxy->buffer, proxy->have), used = 0;
      g_autoptr(GError) error = NULL;
      MbProxyStatus status;
      ssize_t n;

      proxy->buffer = g_realloc (proxy->buffer, wanted);
      n = recv (session->client, proxy->buffer + proxy->have, wanted - proxy->have, MSG_PEEK);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
      if (n <= 0)
        {
          g_autofree gchar *reason = g_strdup_printf ("%s after %" G_GSIZE_FORMAT " bytes",
                                                      n == 0 ? "the client closed" : g_strerror (errno),
                                                      proxy->have);

          proxy_failed (session, reason);
          return;
        }
      status = mb_proxy_parse (proxy->buffer, proxy->have + (gsize) n, &proxy->header, &used, &error);
      if (status == MB_PROXY_INVALID)
        {
          proxy_failed (session, error->message);
          return;
        }
      if (used <= proxy->have || used > proxy->have + (gsize) n)
        {
          /* Not a valid answer of the parser's: never spin on it. */
          proxy_failed (session, "the header could not be read");
          return;
        }
      /* Taken for real now: those bytes are in the socket (peeked). */
      n = recv (session->client, proxy->buffer + proxy->have, used - proxy->have, 0);
      if (n <= 0)
        {
          proxy_failed (session, n == 0 ? "the client closed" : g_strerror (errno));
          return;
        }
      proxy->have += (gsize) n;
      if (status == MB_PROXY_COMPLETE && proxy->have == used)
        {
          proxy_complete (session);
          return;
        }
    }
}

static gboolean
proxy_on_timeout (gpointer data)
{
  Session *session = data;
  g_autofree gchar *reason = g_strdup_printf ("no complete header within %" G_GUINT64_FORMAT " ms",
                                              session->connect_timeout_ms);

  g_clear_pointer (&session->proxy->timer, g_source_unref);
  proxy_failed (session, reason);
  return G_SOURCE_REMOVE;
}

static void
proxy_begin (Session *session)
{
  ProxyRead *proxy = g_new0 (ProxyRead, 1);
  g_autoptr(GError) error = NULL;

  session->proxy = proxy;
  mb_poller_handle_init (&proxy->watch, session->client, proxy_on_readable, session);
  if (!mb_poller_watch (&proxy->watch, G_IO_IN, &error))
    {
      out_of_resources (session, "watch", error);
      return;
    }
  proxy->timer = mb_worker_timeout ((guint) session->connect_timeout_ms, proxy_on_timeout, session);
}

/* Starts the session on this worker, WORKER. */
static void
start_here (MbFrontend *frontend, MbWorker *worker, int client, const struct sockaddr *peer, socklen_t peer_len)
{
  Session *session = g_new0 (Session, 1);
  gboolean accept_proxy;

  session->link.data = session;
  session->worker = worker;
  session->frontend = mb_frontend_ref (frontend);
  session->client = client;
  session->backend = -1;
  g_queue_push_tail_link (&live_sessions, &session->link);
  session->started = g_get_monotonic_time ();
  mb_trim_note_activity (session->started);
  /* The settings, and the plan unless a PROXY header comes first, under
   * the frontend's lock (see plan_locked()). */
  g_mutex_lock (&frontend->lock);
  session->connect_timeout_ms = frontend->config->connect_timeout_ms;
  session->idle_timeout_ms = frontend->config->idle_timeout_ms;
  accept_proxy = frontend->config->accept_proxy;
  if (!accept_proxy)
    plan_locked (session, peer, peer_len);
  g_mutex_unlock (&frontend->lock);
  mb_counter_inc (&frontend->connections);
  if (accept_proxy)
    {
      proxy_begin (session);
      return;
    }
  /* The address is asked for (getpeername) only when a line will name it:
   * at info level for every connection, otherwise only on failures. */
  if (mb_log_enabled (G_LOG_LEVEL_INFO))
    client_name (session);
  session_go (session);
}

/* A session handed to a lighter worker (worker.h). */
typedef struct {
  MbFrontend *frontend;   /* a reference */
  MbWorker *worker;
  int client;
  struct sockaddr_storage peer;
  socklen_t peer_len;
} HandOver;

static gboolean
start_handed_over (gpointer data)
{
  HandOver *job = data;

  start_here (job->frontend, job->worker, job->client, (struct sockaddr *) &job->peer, job->peer_len);
  mb_frontend_unref (job->frontend);
  g_free (job);
  return G_SOURCE_REMOVE;
}

void
mb_session_start (MbFrontend *frontend, int client, const struct sockaddr *peer, socklen_t peer_len)
{
  MbWorker *worker = mb_worker_take_session ();
  HandOver *job;

  if (mb_worker_is_here (worker))
    {
      start_here (frontend, worker, client, peer, peer_len);
      return;
    }
  job = g_new (HandOver, 1);
  job->frontend = mb_frontend_ref (frontend);
  job->worker = worker;
  job->client = client;
  job->peer_len = MIN (peer_len, (socklen_t) sizeof job->peer);
  memcpy (&job->peer, peer, job->peer_len);
  mb_worker_run (worker, start_handed_over, job);
}

guint
mb_session_count (void)
{
  return mb_admission_sessions ();
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

typedef struct {
  MbBackend *backend;      /* a reference */
  gint remaining;          /* workers still to look (atomic) */
  gint closed;             /* sessions closed (atomic) */
  MbSessionsClosed done;
  gpointer user_data;
} CloseJob;

static gboolean
close_job_done (gpointer data)
{
  CloseJob *job = data;

  job->done ((guint) g_atomic_int_get (&job->closed), job->user_data);
  mb_backend_unref (job->backend);
  g_free (job);
  return G_SOURCE_REMOVE;
}

/* On each worker: its sessions with the job's backend. */
static gboolean
close_on_worker (gpointer data)
{
  CloseJob *job = data;

  for (GList *l = live_sessions.head; l != NULL; )
    {
      Session *session = l->data;

      l = l->next;   /* session_end() unlinks it */
      if (session->counted != job->backend)
        continue;
      mb_address_set_abortive (session->client);
      if (session->backend >= 0)
        mb_address_set_abortive (session->backend);
      mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend_title (session), "MB_CLIENT", client_name (session), NULL,
              "frontend %s: %s: session to backend %s shut down (control socket)", frontend_title (session),
              client_name (session), job->backend->title);
      /* A relay already set to close cleanly is freed as cut (relay.h). */
      session_end (session);
      g_atomic_int_inc (&job->closed);
    }
  if (g_atomic_int_dec_and_test (&job->remaining))
    mb_worker_run_on_main (close_job_done, job);
  return G_SOURCE_REMOVE;
}

void
mb_session_close_backend (MbBackend *backend, MbSessionsClosed done, gpointer user_data)
{
  CloseJob *job = g_new0 (CloseJob, 1);

  job->backend = mb_backend_ref (backend);
  job->remaining = (gint) MAX (mb_workers_count (), 1);
  job->done = done;
  job->user_data = user_data;
  mb_workers_run_each (close_on_worker, job);
}

void
mb_session_set_idle_callback (GSourceFunc callback, gpointer user_data)
{
  idle_callback = callback;
  idle_user_data = user_data;
}
