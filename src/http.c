/* http.c - statistics over HTTP on a thread of its own; see http.h. */
#include "build-config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "address.h"
#include "error.h"
#include "fds.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "report.h"
#include "snapshot.h"
#include "status-resource.h"

#define MAX_CONNECTIONS 64
#define CONNECTION_MS (30 * 1000)
#define STATUS_PAGE "/org/mini-balancer/status.html"

struct MbHttp {
  gint ref_count;          /* the daemon's, and each request in flight */
  MbDaemon *daemon;        /* main thread only */
  GPtrArray *sockets;      /* GSocket, listening */
  gchar *name;             /* "127.0.0.1:9180" */
  gint stopped;            /* atomic: requests in flight find nobody */
  /* The HTTP thread: */
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  GPtrArray *accepting;    /* GSource per listening socket */
  guint connections;
  GMutex lock;
  GCond cond;
  gint state;              /* start-up handshake: 0 starting, 1 running, -1 failed */
  GError *error;
};

static MbHttp *
http_ref (MbHttp *http)
{
  g_atomic_int_inc (&http->ref_count);
  return http;
}

static void
http_unref (MbHttp *http)
{
  if (!g_atomic_int_dec_and_test (&http->ref_count))
    return;
  g_ptr_array_unref (http->sockets);
  if (http->context != NULL)
    g_main_context_unref (http->context);
  if (http->loop != NULL)
    g_main_loop_unref (http->loop);
  g_mutex_clear (&http->lock);
  g_cond_clear (&http->cond);
  g_clear_error (&http->error);
  g_free (http->name);
  g_free (http);
}

/* ---- answers -------------------------------------------------------------- */

typedef enum { ROUTE_METRICS, ROUTE_PAGE, ROUTE_JSON } Route;

/* A request waiting for its snapshot from the main thread.  It travels
 * main context -> HTTP context; whichever source holds it last frees it
 * (request_done), even if its callback never runs (the daemon stops). */
typedef struct {
  MbHttp *http;            /* a reference */
  SoupServerMessage *message; /* a reference, paused */
  Route route;
  MbSnapshot *snapshot;
  gboolean passed;         /* handed on to the HTTP context */
} Request;

static void
request_done (gpointer data)
{
  Request *request = data;

  if (request->passed)
    {
      request->passed = FALSE;   /* the next holder frees it */
      return;
    }
  g_object_unref (request->message);
  mb_snapshot_free (request->snapshot);
  http_unref (request->http);
  g_free (request);
}

static void
set_text (SoupServerMessage *message, guint status, const gchar *type, gchar *body, gsize length)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);

  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (message, status, NULL);
  soup_server_message_set_response (message, type, SOUP_MEMORY_TAKE, body, length);
}

static gchar *
status_json (const MbSnapshot *snapshot, gsize *length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree gchar *taken = mb_report_time (snapshot->taken_at);
  g_autofree gchar *started = mb_report_time (snapshot->start_time);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, snapshot->version);
  json_builder_set_member_name (builder, "taken_at");
  json_builder_add_string_value (builder, taken);
  json_builder_set_member_name (builder, "start_time");
  json_builder_add_string_value (builder, started);
  json_builder_set_member_name (builder, "uptime_s");
  json_builder_add_int_value (builder, (snapshot->taken_at - snapshot->start_time) / G_USEC_PER_SEC);
  json_builder_set_member_name (builder, "sessions");
  json_builder_add_int_value (builder, snapshot->sessions);
  json_builder_set_member_name (builder, "reloads");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "ok");
  json_builder_add_int_value (builder, snapshot->reloads_ok);
  json_builder_set_member_name (builder, "failed");
  json_builder_add_int_value (builder, snapshot->reloads_failed);
  json_builder_end_object (builder);
  mb_report_frontends (builder, snapshot);
  mb_report_backends (builder, snapshot, NULL);
  json_builder_set_member_name (builder, "history");
  json_builder_begin_object (builder);
  for (guint i = 0; i < snapshot->frontends->len; i++)
    {
      const MbFrontendSnapshot *f = snapshot->frontends->pdata[i];

      json_builder_set_member_name (builder, f->title);
      json_builder_begin_array (builder);
      for (guint j = 0; j < f->history->len; j++)
        {
          const MbHistorySample *sample = &g_array_index (f->history, MbHistorySample, j);

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "t");
          json_builder_add_double_value (builder, (gdouble) sample->at / G_USEC_PER_SEC);
          json_builder_set_member_name (builder, "sessions");
          json_builder_add_int_value (builder, sample->sessions);
          json_builder_set_member_name (builder, "bytes_received");
          json_builder_add_int_value (builder, (gint64) sample->bytes_received);
          json_builder_set_member_name (builder, "bytes_sent");
          json_builder_add_int_value (builder, (gint64) sample->bytes_sent);
          json_builder_set_member_name (builder, "connections");
          json_builder_add_int_value (builder, (gint64) sample->connections);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, length);
}

/* On the HTTP thread: the snapshot came; answer and let the message go. */
static gboolean
deliver (gpointer data)
{
  Request *request = data;
  gsize length = 0;
  gchar *body;

  switch (request->route)
    {
    case ROUTE_METRICS:
      body = mb_metrics_render (request->snapshot);
      set_text (request->message, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", body,
                strlen (body));
      break;
    case ROUTE_JSON:
      body = status_json (request->snapshot, &length);
      set_text (request->message, SOUP_STATUS_OK, "application/json", body, length);
      break;
    case ROUTE_PAGE:
      break;
    }
  soup_server_message_unpause (request->message);
  return G_SOURCE_REMOVE;
}

/* On the main thread, where frontends and backends are consistent. */
static gboolean
take_snapshot (gpointer data)
{
  Request *request = data;

  if (g_atomic_int_get (&request->http->stopped))
    return G_SOURCE_REMOVE;   /* the HTTP thread is gone with its messages */
  request->snapshot = mb_snapshot_take (request->http->daemon);
  request->passed = TRUE;
  g_main_context_invoke_full (request->http->context, G_PRIORITY_DEFAULT, deliver, request, request_done);
  return G_SOURCE_REMOVE;
}

static void
serve_page (SoupServerMessage *message)
{
  /* From the resource itself: looking it up by name only would leave it
   * out of the binary (nothing else refers to it in the static library). */
  g_autoptr(GBytes) page = g_resource_lookup_data (mb_status_get_resource (), STATUS_PAGE,
                                                   G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  gsize length;
  const gchar *data;

  if (page == NULL)
    {
      set_text (message, SOUP_STATUS_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                g_strdup ("no status page in this build\n"), strlen ("no status page in this build\n"));
      return;
    }
  data = g_bytes_get_data (page, &length);
  set_text (message, SOUP_STATUS_OK, "text/html; charset=utf-8", g_memdup2 (data, length), length);
}

static void
on_request (SoupServer *server, SoupServerMessage *message, const char *path, GHashTable *query,
            gpointer data)
{
  MbHttp *http = data;
  Request *request;
  Route route;

  if (strcmp (path, "/metrics") == 0)
    route = ROUTE_METRICS;
  else if (strcmp (path, "/status.json") == 0)
    route = ROUTE_JSON;
  else if (strcmp (path, "/") == 0)
    route = ROUTE_PAGE;
  else
    {
      set_text (message, SOUP_STATUS_NOT_FOUND, "text/plain; charset=utf-8", g_strdup ("not found\n"),
                strlen ("not found\n"));
      return;
    }
  if (route == ROUTE_PAGE)
    {
      serve_page (message);
      return;
    }
  request = g_new0 (Request, 1);
  request->http = http_ref (http);
  request->message = g_object_ref (message);
  request->route = route;
  soup_server_message_pause (message);
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, take_snapshot, request, request_done);
}

/* Answers MESSAGE with STATUS and closes its connection at once: libsoup
 * would otherwise read the request's body first (all 100 MiB of it). */
static void
refuse (SoupServerMessage *message, guint status, const gchar *extra_header, const gchar *text)
{
  g_autoptr(GIOStream) stream = soup_server_message_steal_connection (message);
  g_autofree gchar *answer = g_strdup_printf ("HTTP/1.1 %u %s\r\nConnection: close\r\nCache-Control: no-store\r\n"
                                              "%sContent-Type: text/plain; charset=utf-8\r\n"
                                              "Content-Length: %zu\r\n\r\n%s",
                                              status, soup_status_get_phrase (status),
                                              extra_header ? extra_header : "", strlen (text), text);
  GOutputStream *out;

  if (stream == NULL)
    return;
  out = g_io_stream_get_output_stream (stream);
  /* Best effort: a fresh connection's buffer takes a short answer. */
  if (G_IS_POLLABLE_OUTPUT_STREAM (out))
    g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), answer, strlen (answer),
                                                NULL, NULL);
  g_io_stream_close (stream, NULL, NULL);
}

/* Before the body is read: only GET and HEAD, and no body at all. */
static void
on_headers (SoupServer *server, SoupServerMessage *message, const char *path, GHashTable *query,
            gpointer data)
{
  const gchar *method = soup_server_message_get_method (message);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (message);
  SoupEncoding encoding = soup_message_headers_get_encoding (request);

  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    refuse (message, SOUP_STATUS_METHOD_NOT_ALLOWED, "Allow: GET, HEAD\r\n", "method not allowed\n");
  else if (!(encoding == SOUP_ENCODING_NONE
             || (encoding == SOUP_ENCODING_CONTENT_LENGTH && soup_message_headers_get_content_length (request) == 0)))
    refuse (message, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL, "a request with a body is not accepted here\n");
}

/* ---- connections --------------------------------------------------------- */

typedef struct {
  MbHttp *http;
  GIOStream *stream;       /* weak: libsoup holds it while it serves */
  GSource *deadline;
} Connection;

static void
connection_gone (gpointer data, GObject *stream)
{
  Connection *connection = data;

  connection->http->connections--;
  mb_fds_client_give ();
  if (connection->deadline != NULL)
    {
      g_source_destroy (connection->deadline);
      g_source_unref (connection->deadline);
    }
  g_free (connection);
}

/* Open too long (a request that never ends, an answer never read): closed;
 * libsoup lets it go, and connection_gone() counts it out. */
static gboolean
on_deadline (gpointer data)
{
  Connection *connection = data;

  g_clear_pointer (&connection->deadline, g_source_unref);
  g_io_stream_close (connection->stream, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean on_incoming (GSocket *listening, GIOCondition condition, gpointer data);

/* Waits for the socket again (after a pause). */
static void
accept_on (MbHttp *http, GSocket *listening, guint at)
{
  GSource *source = g_socket_create_source (listening, G_IO_IN, NULL);

  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) on_incoming, http, NULL);
  g_source_attach (source, http->context);
  if (at < http->accepting->len)
    {
      g_source_destroy (http->accepting->pdata[at]);
      g_source_unref (http->accepting->pdata[at]);
      http->accepting->pdata[at] = source;
    }
  else
    g_ptr_array_add (http->accepting, source);
}

typedef struct {
  MbHttp *http;
  guint index;
} Resume;

static gboolean
on_resume (gpointer data)
{
  Resume *resume = data;

  accept_on (resume->http, resume->http->sockets->pdata[resume->index], resume->index);
  return G_SOURCE_REMOVE;
}

static gboolean
on_incoming (GSocket *listening, GIOCondition condition, gpointer data)
{
  MbHttp *http = data;

  for (guint i = 0; i < 64; i++)
    {
      g_autoptr(GError) accept_error = NULL;
      g_autoptr(GSocket) socket = g_socket_accept (listening, NULL, &accept_error);
      g_autoptr(GSocketConnection) stream = NULL;
      g_autoptr(GSocketAddress) local = NULL;
      g_autoptr(GSocketAddress) remote = NULL;
      g_autoptr(GError) error = NULL;
      Connection *connection;

      if (socket == NULL && g_error_matches (accept_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (socket == NULL)
        {
          /* Out of descriptors, say: rest a moment rather than spin. */
          Resume *resume = g_new0 (Resume, 1);
          guint index;

          g_ptr_array_find (http->sockets, listening, &index);
          resume->http = http;
          resume->index = index;
          mb_log (G_LOG_LEVEL_WARNING, NULL, "stats_listen %s: accept: %s; pausing 250 ms", http->name,
                  accept_error->message);
          {
            GSource *timer = g_timeout_source_new (250);

            g_source_set_callback (timer, on_resume, resume, g_free);
            g_source_attach (timer, http->context);
            g_source_unref (timer);
          }
          return G_SOURCE_REMOVE;
        }
      /* Too many, or no descriptor to spare (fds.h): closed at once. */
      if (http->connections >= MAX_CONNECTIONS || !mb_fds_client_take ())
        {
          g_socket_close (socket, NULL);
          continue;
        }
      g_socket_set_blocking (socket, FALSE);
      stream = g_socket_connection_factory_create_connection (socket);
      local = g_socket_get_local_address (socket, NULL);
      remote = g_socket_get_remote_address (socket, NULL);
      if (local == NULL || remote == NULL)
        {
          mb_fds_client_give ();
          continue;   /* gone already */
        }
      connection = g_new0 (Connection, 1);
      connection->http = http;
      connection->stream = G_IO_STREAM (stream);
      http->connections++;
      g_object_weak_ref (G_OBJECT (stream), connection_gone, connection);
      connection->deadline = g_timeout_source_new (CONNECTION_MS);
      g_source_set_callback (connection->deadline, on_deadline, connection, NULL);
      g_source_attach (connection->deadline, http->context);
      if (!soup_server_accept_iostream (http->server, G_IO_STREAM (stream), local, remote, &error))
        mb_log (G_LOG_LEVEL_INFO, NULL, "stats_listen %s: %s", http->name, error->message);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the thread --------------------------------------------------------- */

static gpointer
http_main (gpointer data)
{
  MbHttp *http = data;

  g_main_context_push_thread_default (http->context);
  http->server = soup_server_new ("server-header", "mini-balancer/" PACKAGE_VERSION, NULL);
  soup_server_add_early_handler (http->server, NULL, on_headers, http, NULL);
  soup_server_add_handler (http->server, NULL, on_request, http, NULL);
  http->accepting = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  for (guint i = 0; i < http->sockets->len; i++)
    accept_on (http, http->sockets->pdata[i], i);
  g_mutex_lock (&http->lock);
  http->state = 1;
  g_cond_signal (&http->cond);
  g_mutex_unlock (&http->lock);

  g_main_loop_run (http->loop);

  for (guint i = 0; i < http->accepting->len; i++)
    g_source_destroy (http->accepting->pdata[i]);
  g_ptr_array_unref (http->accepting);
  /* Closes its connections; their weak references count them out. */
  soup_server_disconnect (http->server);
  g_clear_object (&http->server);
  while (g_main_context_iteration (http->context, FALSE))
    ;
  g_main_context_pop_thread_default (http->context);
  return NULL;
}

static gboolean
quit (gpointer data)
{
  MbHttp *http = data;

  g_main_loop_quit (http->loop);
  return G_SOURCE_REMOVE;
}

/* ---- binding -------------------------------------------------------------- */

static GSocket *
listen_on (GSocketAddress *address, GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, MAX_CONNECTIONS);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

static gboolean
bind_address (MbHttp *http, GSocketAddress *address, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *name = mb_address_to_string (address);
  GSocket *socket = listen_on (address, &local_error);

  if (socket == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code, "stats_listen %s: bind: %s", name,
                   mb_error_reason (local_error));
      return FALSE;
    }
  g_ptr_array_add (http->sockets, socket);
  return TRUE;
}

MbHttp *
mb_http_new (MbDaemon *daemon, const MbFrontendConfig *listen, GError **error)
{
  MbHttp *http = g_new0 (MbHttp, 1);

  http->ref_count = 1;
  http->daemon = daemon;
  http->name = g_strdup (listen->bind_on);
  http->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_init (&http->lock);
  g_cond_init (&http->cond);
  if (listen->bind_any)
    {
      g_autoptr(GSocketAddress) address6 = mb_address_new_any (G_SOCKET_FAMILY_IPV6, listen->bind_port);
      g_autoptr(GSocketAddress) address4 = mb_address_new_any (G_SOCKET_FAMILY_IPV4, listen->bind_port);
      g_autoptr(GError) v6_error = NULL;

      /* [::] dual-stack, else 0.0.0.0 where the host has no IPv6. */
      if (!bind_address (http, address6, &v6_error)
          && (g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)
              || !bind_address (http, address4, NULL)))
        {
          g_propagate_error (error, g_steal_pointer (&v6_error));
          http_unref (http);
          return NULL;
        }
    }
  else
    for (guint i = 0; i < listen->bind_addresses->len; i++)
      if (!bind_address (http, listen->bind_addresses->pdata[i], error))
        {
          http_unref (http);
          return NULL;
        }
  return http;
}

gboolean
mb_http_start (MbHttp *http, GError **error)
{
  http->context = g_main_context_new ();
  http->loop = g_main_loop_new (http->context, FALSE);
  http->thread = g_thread_try_new ("mb-http", http_main, http, error);
  if (http->thread == NULL)
    return FALSE;
  g_mutex_lock (&http->lock);
  while (http->state == 0)
    g_cond_wait (&http->cond, &http->lock);
  g_mutex_unlock (&http->lock);
  mb_log (G_LOG_LEVEL_INFO, NULL, "statistics on http://%s/ (metrics: /metrics)", http->name);
  return TRUE;
}

void
mb_http_free (MbHttp *http)
{
  if (http == NULL)
    return;
  g_atomic_int_set (&http->stopped, 1);
  if (http->thread != NULL)
    {
      g_main_context_invoke (http->context, quit, http);
      g_thread_join (http->thread);
      http->thread = NULL;
    }
  http_unref (http);
}
