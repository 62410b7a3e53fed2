/* frontend.c - listening sockets and the accept loop; see frontend.h. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "address.h"
#include "admission.h"
#include "error.h"
#include "fds.h"
#include "frontend.h"
#include "log.h"
#include "notify.h"
#include "pipes.h"
#include "poller.h"
#include "resolve.h"
#include "session.h"
#include "snapshot.h"
#include "stats.h"
#include "worker.h"

/* Accepts per wake-up of one worker: enough to drain a burst, few enough
 * to stay fair to the sessions that share its loop and to leave the rest
 * of a burst to the other workers (the listener stays ready, and the
 * kernel wakes a waiting worker for the next connection). */
#define ACCEPT_BATCH 16
/* How long a listener rests after running out of descriptors or memory. */
#define ACCEPT_PAUSE_MS 250

typedef struct Listener Listener;

/* A listener on one worker: its gate (admission.h) is its registration in
 * that worker's epoll set.  Touched only on that worker's thread. */
typedef struct {
  MbGate gate;             /* first: the gate's func gets the door */
  MbPollerHandle watch;
  Listener *listener;
} Door;

struct Listener {
  MbFrontend *frontend;
  GSocket *socket;
  gchar *name;            /* "127.0.0.1:7070" */
  Door *doors;            /* one per worker, once accepting (main thread) */
  guint n_doors;
};

/* Every frontend, for the status summary. */
static GPtrArray *all_frontends;

static void on_incoming (MbPollerHandle *handle, GIOCondition condition);

/* The gate's func: the door's listener in this worker's epoll set or not.
 * EPOLLEXCLUSIVE: one waiting worker is woken per connection. */
static gboolean
door_set_open (MbGate *gate, gboolean open)
{
  Door *door = (Door *) gate;
  g_autoptr(GError) error = NULL;

  if (!open)
    {
      mb_poller_unwatch (&door->watch);
      return FALSE;
    }
  if (mb_poller_watch_exclusive (&door->watch, &error))
    return TRUE;
  /* Only when the kernel is out of memory: rest, as for any shortage. */
  {
    g_autofree gchar *what = g_strdup_printf ("watch %s", door->listener->name);

    mb_frontend_pause (door->listener->frontend, what, error);
  }
  return FALSE;
}

/* LISTENER's door on this worker. */
static MbGate *
gate_here (Listener *listener)
{
  return &listener->doors[mb_worker_index ()].gate;
}

/* On each worker, the main thread waiting: its door of the listener
 * starts to accept, or closes for good. */
static gboolean
door_add (gpointer data)
{
  mb_admission_add (gate_here (data));
  return G_SOURCE_REMOVE;
}

static gboolean
door_remove (gpointer data)
{
  mb_admission_remove (gate_here (data));
  return G_SOURCE_REMOVE;
}

/* LISTENER starts to accept, on every worker. */
static void
listener_open (Listener *listener)
{
  if (listener->doors != NULL)
    return;
  listener->n_doors = MAX (mb_workers_count (), 1);
  listener->doors = g_new0 (Door, listener->n_doors);
  for (guint i = 0; i < listener->n_doors; i++)
    {
      Door *door = &listener->doors[i];

      door->gate.frontend = listener->frontend;
      door->gate.func = door_set_open;
      door->listener = listener;
      mb_poller_handle_init (&door->watch, g_socket_get_fd (listener->socket), on_incoming, door);
    }
  /* Every worker accepts once this returns (READY=1 follows). */
  mb_workers_run_each_wait (door_add, listener);
}

static void
listener_free (gpointer data)
{
  Listener *listener = data;

  /* Out of every epoll set before the descriptor closes: no worker may be
   * woken for it, or accept on a number that a new socket reuses. */
  if (listener->doors != NULL)
    mb_workers_run_each_wait (door_remove, listener);
  g_free (listener->doors);
  if (listener->socket != NULL)
    {
      g_socket_close (listener->socket, NULL);
      g_object_unref (listener->socket);
    }
  g_free (listener->name);
  g_free (listener);
}

/* Every listener of FRONTEND accepts (on every worker), as its limits and
 * pauses allow. */
static void
open_listeners (MbFrontend *frontend)
{
  for (guint i = 0; i < frontend->listeners->len; i++)
    listener_open (frontend->listeners->pdata[i]);
}

static gboolean
on_resume (gpointer data)
{
  MbFrontend *frontend = data;

  frontend->resume = 0;
  g_atomic_int_set (&frontend->paused, FALSE);
  mb_admission_update_all ();
  return G_SOURCE_REMOVE;
}

typedef struct {
  MbFrontend *frontend;   /* a reference */
  gchar *what;
  GError *error;
} Pause;

static gboolean
pause_on_main (gpointer data)
{
  Pause *pause = data;

  mb_frontend_pause (pause->frontend, pause->what, pause->error);
  mb_frontend_unref (pause->frontend);
  g_free (pause->what);
  g_error_free (pause->error);
  g_free (pause);
  return G_SOURCE_REMOVE;
}

void
mb_frontend_pause (MbFrontend *frontend, const gchar *what, const GError *error)
{
  gint64 now = g_get_monotonic_time ();

  /* This worker's listeners now; every worker's below, on the main thread. */
  mb_admission_pause_here (frontend);
  if (!mb_worker_is_main ())
    {
      Pause *pause = g_new0 (Pause, 1);

      pause->frontend = mb_frontend_ref (frontend);
      pause->what = g_strdup (what);
      pause->error = g_error_copy (error);
      mb_worker_run_on_main (pause_on_main, pause);
      return;
    }

  /* One line per shortage (failures less than a second apart), however
   * many pauses it takes. */
  if (frontend->last_shortage == 0 || now - frontend->last_shortage > G_USEC_PER_SEC)
    mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", frontend->title, NULL,
            "frontend %s: %s: %s; pausing accepts for %d ms at a time until resources return",
            frontend->title, what, mb_error_reason (error), ACCEPT_PAUSE_MS);
  frontend->last_shortage = now;
  if (frontend->resume == 0 && frontend->listeners->len > 0)
    frontend->resume = g_timeout_add (ACCEPT_PAUSE_MS, on_resume, frontend);
  else if (frontend->resume == 0)
    g_atomic_int_set (&frontend->paused, FALSE);   /* nothing to resume */
  mb_admission_update_all ();
}

static gboolean
is_peer_errno (gint errnum)
{
  /* The connection died in the queue (ECONNABORTED and friends), or
   * accept(2)'s "network errors" of the new socket: not our problem, take
   * the next one. */
  return errnum == ECONNABORTED || errnum == EPROTO || errnum == EPERM || errnum == ENETDOWN
         || errnum == ENOPROTOOPT || errnum == EHOSTDOWN || errnum == ENONET || errnum == EHOSTUNREACH
         || errnum == EOPNOTSUPP || errnum == ENETUNREACH || errnum == ETIMEDOUT || errnum == ECONNRESET
         || errnum == EINTR;
}

/* Takes the next session's two descriptors from the budget (fds.h),
 * emptying the pipe pool if need be.  FALSE when they are not to be had:
 * the listener rests and its clients wait in the backlog, so that every
 * client accepted has its backend socket. */
static gboolean
take_session_fds (Listener *listener)
{
  g_autofree gchar *what = NULL;
  g_autoptr(GError) error = NULL;
  MbFdsFigures f;

  if (mb_fds_session_take () || (mb_pipes_trim () && mb_fds_session_take ()))
    return TRUE;
  mb_fds_get_figures (&f);
  what = g_strdup_printf ("accept on %s", listener->name);
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES,
                       "no descriptors left for another session (%u in use, %u kept in reserve, "
                       "limit %" G_GUINT64_FORMAT ")", f.in_use, f.reserve, f.limit);
  mb_frontend_pause (listener->frontend, what, error);
  return FALSE;
}

/* On the worker whose door it is: accepts and starts sessions here. */
static void
on_incoming (MbPollerHandle *handle, GIOCondition condition)
{
  Door *door = handle->data;
  Listener *listener = door->listener;
  MbFrontend *frontend = listener->frontend;

  for (gint i = 0; i < ACCEPT_BATCH; i++)
    {
      struct sockaddr_storage peer;
      socklen_t peer_len;
      gint errnum;
      int client;

      if (!mb_admission_take (frontend))
        {
          mb_admission_hold (&door->gate);   /* shuts this door */
          return;
        }
      if (!take_session_fds (listener))
        {
          mb_admission_cancel (frontend);
          return;
        }
      /* accept4 rather than g_socket_accept(): one system call instead of
       * eight (GSocket asks the new socket for its type, addresses and
       * options), and no object to allocate per connection. */
      peer_len = sizeof peer;
      client = accept4 (handle->fd, (struct sockaddr *) &peer, &peer_len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client >= 0)
        {
          mb_session_start (frontend, client, (struct sockaddr *) &peer, peer_len);
          /* That session may have run out of descriptors and paused us:
           * then this door is shut, and so is the rest of the batch. */
          if (!door->gate.open)
            return;
          continue;
        }
      errnum = errno;
      mb_fds_session_give ();   /* no session after all */
      mb_admission_cancel (frontend);
      if (errnum == EAGAIN || errnum == EWOULDBLOCK)
        break;
      if (is_peer_errno (errnum))
        continue;
      /* Pooled pipes (splice) held descriptors: free them, try again. */
      if ((errnum == EMFILE || errnum == ENFILE) && mb_pipes_trim ())
        continue;

      /* Out of descriptors or memory: accepting again at once would fail
       * again at once.  Rest; sessions ending free resources. */
      {
        g_autofree gchar *what = g_strdup_printf ("accept on %s", listener->name);
        g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, g_io_error_from_errno (errnum),
                                                       g_strerror (errnum));
        mb_frontend_pause (frontend, what, error);
      }
      return;
    }
}

guint
mb_frontend_plan (MbFrontend *frontend, guint64 key, guint *order)
{
  if (frontend->balancer == NULL)
    return 0;   /* no backend discovered yet */
  /* Only the algorithms that weigh load read the live counts. */
  if (frontend->config->balance == MB_BALANCE_LEAST_CONNECTIONS
      || frontend->config->balance == MB_BALANCE_RANDOM_TWO)
    {
      for (guint i = 0; i < frontend->backends->len; i++)
        frontend->backend_live[i] = (guint) g_atomic_int_get (&((MbBackend *) frontend->backends->pdata[i])->live);
      return mb_balancer_plan (frontend->balancer, frontend->backend_live, key, order);
    }
  return mb_balancer_plan (frontend->balancer, NULL, key, order);
}

gchar *
mb_frontend_summary (void)
{
  GString *summary = g_string_new (NULL);

  for (guint i = 0; all_frontends != NULL && i < all_frontends->len; i++)
    {
      MbFrontend *frontend = all_frontends->pdata[i];
      guint up = 0;

      for (guint j = 0; j < frontend->backends->len; j++)
        up += mb_backend_is_down (frontend->backends->pdata[j]) ? 0 : 1;
      g_string_append_printf (summary, "%s%s: %u/%u backends up", i > 0 ? ", " : "",
                              frontend->title, up, frontend->backends->len);
    }
  return g_string_free (summary, FALSE);
}

void
mb_frontend_sample (MbFrontend *frontend, gint64 now)
{
  MbHistorySample *sample;

  if (frontend->history == NULL)
    frontend->history = g_new0 (MbHistorySample, MB_FRONTEND_HISTORY);
  sample = &frontend->history[frontend->history_next];
  sample->at = now;
  sample->sessions = (guint) g_atomic_int_get (&frontend->live);
  sample->bytes_received = mb_counter_get (&frontend->bytes_received);
  sample->bytes_sent = mb_counter_get (&frontend->bytes_sent);
  sample->connections = mb_counter_get (&frontend->connections);
  frontend->history_next = (frontend->history_next + 1) % MB_FRONTEND_HISTORY;
  frontend->history_len = MIN (frontend->history_len + 1, MB_FRONTEND_HISTORY);
}

void
mb_frontend_copy_history (const MbFrontend *frontend, GArray *history)
{
  guint first = (frontend->history_next + MB_FRONTEND_HISTORY - frontend->history_len) % MB_FRONTEND_HISTORY;

  for (guint i = 0; i < frontend->history_len; i++)
    g_array_append_val (history, frontend->history[(first + i) % MB_FRONTEND_HISTORY]);
}

const gchar *
mb_frontend_state_name (const MbFrontend *frontend)
{
  if (frontend->listeners->len == 0)
    return "closed";
  if (frontend->resume != 0 || g_atomic_int_get (&frontend->paused))
    return "paused";
  if (g_atomic_int_get (&frontend->held))
    return "held";
  return "listening";
}

void
mb_frontend_backends_changed (MbFrontend *frontend)
{
  g_autofree gchar *summary = mb_frontend_summary ();

  mb_notify_status (summary);
}

/* The summary of the clients that no_backend_log kept out of the log. */
static void
log_no_backend (guint64 count, guint seconds, gpointer data)
{
  MbFrontend *frontend = data;
  g_autofree gchar *text = mb_rate_limit_count (count);

  mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", frontend->title, NULL,
          "frontend %s: %s more client%s closed because no backend accepted the connection in the last %u s",
          frontend->title, text, count == 1 ? "" : "s", seconds);
}

/* Specs of BACKENDS for a balancer, and their down states (DOWN, room for
 * backends->len, may be NULL). */
static MbBackendSpec *
backend_specs (GPtrArray *backends, gboolean *down)
{
  MbBackendSpec *specs = g_new0 (MbBackendSpec, backends->len);

  for (guint i = 0; i < backends->len; i++)
    {
      MbBackend *backend = backends->pdata[i];

      specs[i].name = backend->title;
      specs[i].weight = backend->weight;
      specs[i].backup = backend->backup;
      specs[i].excluded = !mb_backend_takes_sessions (backend);
      if (down != NULL)
        down[i] = mb_backend_is_down (backend);
    }
  return specs;
}

/* BACKENDS (taken) become FRONTEND's list, each at its index, with a new
 * balancer that goes on from the old one if any, each backend down or up
 * as it is now (none for an empty list: a frontend that only discovers may
 * have no backend yet). */
static void
install_backends (MbFrontend *frontend, GPtrArray *backends, MbBalance balance)
{
  g_autofree MbBackendSpec *specs = NULL;
  g_autofree gboolean *down = NULL;
  MbBalancer *balancer = NULL;
  GPtrArray *old_backends;

  for (guint i = 0; i < backends->len; i++)
    ((MbBackend *) backends->pdata[i])->index = i;
  down = g_new0 (gboolean, backends->len);
  specs = backend_specs (backends, down);
  g_mutex_lock (&frontend->lock);
  if (backends->len > 0)
    balancer = mb_balancer_new_from (frontend->balancer, balance, specs, backends->len, down);
  mb_balancer_free (frontend->balancer);
  frontend->balancer = balancer;
  g_free (frontend->backend_live);
  frontend->backend_live = g_new0 (guint, backends->len);
  old_backends = frontend->backends;
  frontend->backends = backends;
  g_mutex_unlock (&frontend->lock);
  /* Sessions hold the old list: it goes when the last of them ends. */
  if (old_backends != NULL)
    g_ptr_array_unref (old_backends);
}

MbFrontend *
mb_frontend_new (MbConfig *owner, const MbFrontendConfig *config)
{
  MbFrontend *frontend = g_new0 (MbFrontend, 1);
  GPtrArray *backends = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_backend_unref);

  frontend->ref_count = 1;
  frontend->title = g_strdup (config->title);
  frontend->owner = mb_config_ref (owner);
  frontend->config = config;
  g_mutex_init (&frontend->lock);
  mb_admission_set_frontend_limit (frontend, config->max_connections);
  for (guint i = 0; i < config->backends->len; i++)
    g_ptr_array_add (backends, mb_backend_new (frontend, frontend->title, i, config->backends->pdata[i]));
  /* Down from the start: a name that did not resolve yet (backend.h). */
  install_backends (frontend, backends, config->balance);
  mb_rate_limit_init (&frontend->no_backend_log, MB_RATE_LIMIT_INTERVAL_MS, log_no_backend, frontend);
  frontend->listeners = g_ptr_array_new_with_free_func (listener_free);
  if (all_frontends == NULL)
    all_frontends = g_ptr_array_new ();
  g_ptr_array_add (all_frontends, frontend);
  return frontend;
}

MbFrontend *
mb_frontend_ref (MbFrontend *frontend)
{
  g_atomic_int_inc (&frontend->ref_count);
  return frontend;
}

static gboolean
frontend_free (gpointer data)
{
  MbFrontend *frontend = data;

  mb_frontend_remove (frontend);
  g_ptr_array_unref (frontend->listeners);
  mb_rate_limit_clear (&frontend->no_backend_log);
  g_ptr_array_unref (frontend->backends);
  g_free (frontend->backend_live);
  mb_balancer_free (frontend->balancer);
  mb_config_unref (frontend->owner);
  g_free (frontend->history);
  g_free (frontend->title);
  g_mutex_clear (&frontend->lock);
  g_free (frontend);
  return G_SOURCE_REMOVE;
}

void
mb_frontend_unref (MbFrontend *frontend)
{
  if (frontend == NULL || !g_atomic_int_dec_and_test (&frontend->ref_count))
    return;
  /* Its listeners, checks and timers are the main thread's; the last
   * session of a removed frontend may end on a worker. */
  mb_worker_run_on_main (frontend_free, frontend);
}

/* IP_FREEBIND: bind an address the host does not have yet, such as a VIP
 * that keepalived moves here only when this machine becomes the master
 * (DESIGN.md "Beyond one machine").  The kernel then accepts connections
 * to it as soon as it arrives.  IPV6_FREEBIND sets the same flag for IPv6
 * sockets (Linux 4.15); IP_FREEBIND, which older kernels honour for them
 * too, where the header lacks it. */
static gboolean
set_freebind (GSocket *socket, GError **error)
{
  gint level = IPPROTO_IP, option = IP_FREEBIND;

#ifdef IPV6_FREEBIND
  if (g_socket_get_family (socket) == G_SOCKET_FAMILY_IPV6)
    {
      level = IPPROTO_IPV6;
      option = IPV6_FREEBIND;
    }
#endif
  return g_socket_set_option (socket, level, option, 1, error);
}

static GSocket *
listen_on (const MbFrontendConfig *config, GSocketAddress *address, GError **error)
{
  g_autoptr(GSocket) socket = NULL;

  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  /* GSocket emulates blocking calls by default: g_socket_accept() would wait
   * for the next client inside the main loop. */
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, (gint) config->backlog);
  if (config->freebind && !set_freebind (socket, error))
    return NULL;
  /* allow_reuse: SO_REUSEADDR, so a restart does not wait for TIME_WAIT. */
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

/* A socket on the listening socket of a DONORS' listener named NAME, whose
 * queue it shares: a reload that moves an address from one frontend to
 * another (a rename) takes it over without a moment of refused connects.
 * A descriptor of its own, so that both can be in the epoll set until the
 * donor's closes.  NULL when no donor listens there. */
static GSocket *
share_listener (GPtrArray *donors, const gchar *name, const MbFrontendConfig *config)
{
  for (guint i = 0; donors != NULL && i < donors->len; i++)
    {
      MbFrontend *donor = donors->pdata[i];

      for (guint j = 0; j < donor->listeners->len; j++)
        {
          Listener *listener = donor->listeners->pdata[j];
          int fd;
          GSocket *socket;

          if (strcmp (listener->name, name) != 0)
            continue;
          fd = fcntl (g_socket_get_fd (listener->socket), F_DUPFD_CLOEXEC, 0);
          if (fd < 0)
            return NULL;
          socket = g_socket_new_from_fd (fd, NULL);
          if (socket == NULL)
            {
              close (fd);
              return NULL;
            }
          g_socket_set_blocking (socket, FALSE);
          /* The new frontend's backlog (listen() again only changes it). */
          g_socket_set_listen_backlog (socket, (gint) config->backlog);
          g_socket_listen (socket, NULL);
          return socket;
        }
    }
  return NULL;
}

static gboolean
add_listener (MbFrontend *frontend, const MbFrontendConfig *config, MbInherited *inherited,
              GPtrArray *donors, GSocketAddress *address, GPtrArray *listeners, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *name = mb_address_to_string (address);
  const gchar *socket_name = NULL;
  GSocket *socket = NULL;
  Listener *listener;

  if (inherited != NULL)
    socket = mb_inherited_claim (inherited, G_INET_SOCKET_ADDRESS (address), &socket_name);
  if (socket != NULL)
    mb_log (G_LOG_LEVEL_DEBUG, "MB_FRONTEND", frontend->title, NULL,
            "frontend %s: %s: using the socket '%s' passed by systemd",
            frontend->title, name, socket_name);
  else if ((socket = share_listener (donors, name, config)) != NULL)
    mb_log (G_LOG_LEVEL_DEBUG, "MB_FRONTEND", frontend->title, NULL,
            "frontend %s: %s: taking over the listening socket", frontend->title, name);
  else
    socket = listen_on (config, address, &local_error);
  if (socket == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code, "frontend %s: bind %s: %s",
                   frontend->title, name, mb_error_reason (local_error));
      return FALSE;
    }
  /* Accepted sockets inherit TCP_NODELAY (Linux): we pass on what arrives
   * when it arrives, the peers did their own coalescing; set here, it costs
   * no system call per client. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  listener = g_new0 (Listener, 1);
  listener->frontend = frontend;
  listener->socket = socket;
  listener->name = g_steal_pointer (&name);
  g_ptr_array_add (listeners, listener);
  return TRUE;
}

GPtrArray *
mb_frontend_listen (MbFrontend *frontend, const MbFrontendConfig *config, MbInherited *inherited,
                    GPtrArray *donors, GError **error)
{
  g_autoptr(GPtrArray) listeners = g_ptr_array_new_with_free_func (listener_free);

  if (config->bind_any)
    {
      g_autoptr(GSocketAddress) address6 = mb_address_new_any (G_SOCKET_FAMILY_IPV6, config->bind_port);
      g_autoptr(GSocketAddress) address4 = mb_address_new_any (G_SOCKET_FAMILY_IPV4, config->bind_port);
      g_autoptr(GError) v6_error = NULL;

      /* GSocket makes IPv6 sockets dual-stack: [::] takes IPv4 too.  Fall
       * back to IPv4 only where the host has no IPv6. */
      if (add_listener (frontend, config, inherited, donors, address6, listeners, &v6_error))
        return g_steal_pointer (&listeners);
      if (g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          g_propagate_error (error, g_steal_pointer (&v6_error));
          return NULL;
        }
      mb_log (G_LOG_LEVEL_DEBUG, NULL, "%s; trying IPv4 only", v6_error->message);
      if (add_listener (frontend, config, inherited, donors, address4, listeners, error))
        return g_steal_pointer (&listeners);
      return NULL;
    }
  for (guint i = 0; i < config->bind_addresses->len; i++)
    if (!add_listener (frontend, config, inherited, donors, config->bind_addresses->pdata[i], listeners, error))
      return NULL;   /* closes what was bound */
  return g_steal_pointer (&listeners);
}

void
mb_frontend_adopt_listeners (MbFrontend *frontend, GPtrArray *listeners)
{
  g_ptr_array_set_size (frontend->listeners, 0);
  for (guint i = 0; i < listeners->len; i++)
    g_ptr_array_add (frontend->listeners, listeners->pdata[i]);
  g_ptr_array_set_free_func (listeners, NULL);
  g_ptr_array_unref (listeners);
}

static void
log_listening (MbFrontend *frontend)
{
  for (guint i = 0; i < frontend->listeners->len; i++)
    {
      Listener *listener = frontend->listeners->pdata[i];

      mb_log (G_LOG_LEVEL_INFO, "MB_FRONTEND", frontend->title, NULL,
              "frontend %s: listening on %s", frontend->title, listener->name);
    }
}

gboolean
mb_frontend_bind (MbFrontend *frontend, MbInherited *inherited, GError **error)
{
  GPtrArray *listeners = mb_frontend_listen (frontend, frontend->config, inherited, NULL, error);

  if (listeners == NULL)
    return FALSE;
  mb_frontend_adopt_listeners (frontend, listeners);
  return TRUE;
}

void
mb_frontend_start (MbFrontend *frontend)
{
  log_listening (frontend);
  open_listeners (frontend);
  if (frontend->config->health_check != NULL && frontend->health == NULL)
    frontend->health = mb_health_start (frontend);
  if (frontend->resolve == NULL)
    frontend->resolve = mb_resolve_start (frontend);
}

void
mb_frontend_stop_listening (MbFrontend *frontend)
{
  if (frontend->resume != 0)
    g_source_remove (frontend->resume);
  frontend->resume = 0;
  g_ptr_array_set_size (frontend->listeners, 0);
  g_atomic_int_set (&frontend->paused, FALSE);
}

gboolean
mb_frontend_listen_again (MbFrontend *frontend, GError **error)
{
  if (!mb_frontend_bind (frontend, NULL, error))
    return FALSE;
  open_listeners (frontend);
  return TRUE;
}

void
mb_frontend_close (MbFrontend *frontend)
{
  g_clear_pointer (&frontend->health, mb_health_stop);
  g_clear_pointer (&frontend->resolve, mb_resolve_stop);
  mb_frontend_stop_listening (frontend);
}

/* FRONTEND's backends after a reload: the objects of the kept ones (state
 * and all), new ones for the added, the removed ones detached; a new
 * balancer that goes on from the old one. */
static void
update_backends (MbFrontend *frontend, const MbFrontendChange *change)
{
  const MbFrontendConfig *config = change->new_config;
  g_autoptr(GHashTable) old = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) backends = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_backend_unref);

  for (guint i = 0; i < frontend->backends->len; i++)
    {
      MbBackend *backend = frontend->backends->pdata[i];

      g_hash_table_insert (old, backend->title, backend);
    }
  for (guint i = 0; i < change->backends->len; i++)
    {
      const MbBackendChange *b = change->backends->pdata[i];
      MbBackend *backend = b->old_config ? g_hash_table_lookup (old, b->old_config->title) : NULL;

      switch (b->action)
        {
        case MB_RELOAD_ADD:
          g_ptr_array_add (backends, mb_backend_new (frontend, frontend->title, backends->len, b->new_config));
          break;
        case MB_RELOAD_KEEP:
        case MB_RELOAD_CHANGE:
          g_assert (backend != NULL);
          mb_backend_update (backend, backends->len, b->new_config);
          g_ptr_array_add (backends, mb_backend_ref (backend));
          break;
        case MB_RELOAD_REMOVE:
          g_assert (backend != NULL);
          mb_backend_detach (backend);
          break;
        }
    }
  g_assert (backends->len == config->backends->len);
  /* The backends discovery found (resolve.h) follow the written ones while
   * the same SRV name is still discovered. */
  for (guint i = 0; i < frontend->backends->len; i++)
    {
      MbBackend *backend = frontend->backends->pdata[i];

      if (!backend->discovered)
        continue;
      if (g_strcmp0 (frontend->config->discover, config->discover) == 0)
        {
          backend->index = backends->len;
          g_ptr_array_add (backends, mb_backend_ref (backend));
        }
      else
        mb_backend_detach (backend);
    }
  install_backends (frontend, g_steal_pointer (&backends), config->balance);
}

void
mb_frontend_set_discovered (MbFrontend *frontend, GPtrArray *configs)
{
  g_autoptr(GHashTable) old = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *backends = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_backend_unref);

  for (guint i = 0; i < frontend->backends->len; i++)
    {
      MbBackend *backend = frontend->backends->pdata[i];

      if (backend->discovered)
        g_hash_table_insert (old, backend->title, backend);
      else
        g_ptr_array_add (backends, mb_backend_ref (backend));
    }
  for (guint i = 0; i < configs->len; i++)
    {
      const MbBackendConfig *config = configs->pdata[i];
      MbBackend *backend = g_hash_table_lookup (old, config->title);

      if (backend != NULL)
        {
          g_hash_table_remove (old, config->title);
          if (backend->config_weight != config->weight || backend->backup != config->backup)
            mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", frontend->title, "MB_BACKEND", backend->title, NULL,
                    "frontend %s: discover: backend %s now weight %u%s", frontend->title, backend->title,
                    config->weight, config->backup ? ", backup" : "");
          mb_backend_update (backend, backends->len, config);
          g_ptr_array_add (backends, mb_backend_ref (backend));
        }
      else
        {
          backend = mb_backend_new (frontend, frontend->title, backends->len, config);
          backend->discovered = TRUE;
          g_ptr_array_add (backends, backend);
          mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", frontend->title, "MB_BACKEND", backend->title, NULL,
                  "frontend %s: discover: backend %s added (weight %u%s)", frontend->title, backend->title,
                  config->weight, config->backup ? ", backup" : "");
        }
    }
  {
    GHashTableIter iter;
    gpointer backend;

    /* Gone from the records: no new session; their sessions go on. */
    g_hash_table_iter_init (&iter, old);
    while (g_hash_table_iter_next (&iter, NULL, &backend))
      {
        mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", frontend->title, "MB_BACKEND", ((MbBackend *) backend)->title,
                NULL, "frontend %s: discover: backend %s removed (its sessions go on)", frontend->title,
                ((MbBackend *) backend)->title);
        mb_backend_detach (backend);
      }
  }
  install_backends (frontend, backends, frontend->config->balance);
  if (frontend->health != NULL)
    mb_health_update (frontend->health, frontend->config->health_check);
  mb_frontend_backends_changed (frontend);
}

void
mb_frontend_update (MbFrontend *frontend, MbConfig *owner, const MbFrontendChange *change,
                    GPtrArray *listeners)
{
  const MbFrontendConfig *config = change->new_config;
  gboolean checks_kept = mb_reload_same_checks (frontend->config->health_check, config->health_check);
  gboolean resolve_kept = frontend->config->resolve_interval_ms == config->resolve_interval_ms;
  MbConfig *old_owner;

  if (listeners != NULL)
    {
      mb_frontend_adopt_listeners (frontend, listeners);
      log_listening (frontend);
    }
  /* Checks that change are stopped before a backend can go; kept ones are
   * matched with the new backends below. */
  if (!checks_kept)
    g_clear_pointer (&frontend->health, mb_health_stop);
  if (change->backends_changed || frontend->config->balance != config->balance
      || g_strcmp0 (frontend->config->discover, config->discover) != 0)
    update_backends (frontend, change);
  else
    /* The same written list (discovered backends after it): the names it
     * holds may resolve to new addresses. */
    for (guint i = 0; i < config->backends->len; i++)
      mb_backend_update (frontend->backends->pdata[i], i, config->backends->pdata[i]);

  /* The settings in force; the health checks read theirs from there. */
  old_owner = frontend->owner;
  g_mutex_lock (&frontend->lock);
  frontend->config = config;
  frontend->owner = mb_config_ref (owner);
  g_mutex_unlock (&frontend->lock);
  mb_config_unref (old_owner);
  mb_admission_set_frontend_limit (frontend, config->max_connections);
  if (frontend->health != NULL)
    mb_health_update (frontend->health, config->health_check);
  else if (config->health_check != NULL)
    frontend->health = mb_health_start (frontend);
  /* The rounds read the backend list as it is then: only a new interval
   * restarts them. */
  if (!resolve_kept)
    {
      g_clear_pointer (&frontend->resolve, mb_resolve_stop);
      frontend->resolve = mb_resolve_start (frontend);
    }
  open_listeners (frontend);
  mb_admission_update_all ();
}

void
mb_frontend_remove (MbFrontend *frontend)
{
  if (frontend->removed)
    return;
  frontend->removed = TRUE;
  mb_frontend_close (frontend);
  for (guint i = 0; i < frontend->backends->len; i++)
    mb_backend_detach (frontend->backends->pdata[i]);
  g_ptr_array_remove (all_frontends, frontend);
  if (all_frontends->len == 0)
    g_clear_pointer (&all_frontends, g_ptr_array_unref);
}
