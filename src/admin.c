/* admin.c - the control socket; see admin.h. */
#include "build-config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "address.h"
#include "admin-command.h"
#include "admin.h"
#include "error.h"
#include "fds.h"
#include "frontend.h"
#include "log.h"
#include "pipes.h"
#include "poller.h"
#include "relay.h"
#include "report.h"
#include "session.h"
#include "snapshot.h"
#include "stats.h"
#include "worker.h"

#define MAX_LINE 4096
#define MAX_CLIENTS 16
#define IDLE_MS (30 * 1000)
/* Answers a client has not read yet, at most. */
#define MAX_OUTPUT (4 * 1024 * 1024)

typedef struct Client Client;

struct MbAdmin {
  MbDaemon *daemon;
  gchar *path;
  int fd;
  MbPollerHandle watch;
  GQueue clients;
};

struct Client {
  gint ref_count;          /* the admin's, and an answer's being worked out */
  MbAdmin *admin;          /* NULL once closed */
  GList link;              /* in admin->clients */
  int fd;
  MbPollerHandle watch;
  GString *in, *out;
  GSource *idle;
  gboolean busy;           /* an answer is being worked out (reload, shutdown) */
  gboolean eof;            /* it sent all it will: answer what came, then close */
  gboolean closing;        /* close once the answers are written */
};

static void client_update (Client *client);

/* ---- answers ------------------------------------------------------------ */

/* A builder with {"ok": OK, ... open for more members. */
static JsonBuilder *
answer_begin (gboolean ok)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  mb_report_add_bool (builder, "ok", ok);
  return builder;
}

static void
send_answer (Client *client, JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree gchar *text = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  g_string_append (client->out, text);
  g_string_append_c (client->out, '\n');
}

static void
send_error (Client *client, const gchar *message)
{
  g_autoptr(JsonBuilder) builder = answer_begin (FALSE);

  mb_report_add_string (builder, "error", message);
  send_answer (client, builder);
}

/* ---- the commands ------------------------------------------------------- */

static MbFrontend *
find_frontend (MbAdmin *admin, const gchar *title)
{
  GPtrArray *frontends = mb_daemon_get_frontends (admin->daemon);

  for (guint i = 0; i < frontends->len; i++)
    if (strcmp (((MbFrontend *) frontends->pdata[i])->title, title) == 0)
      return frontends->pdata[i];
  return NULL;
}

/* The backend a command names, or NULL after answering why not. */
static MbBackend *
find_backend (Client *client, const MbAdminCommand *command)
{
  MbFrontend *frontend = find_frontend (client->admin, command->frontend);
  g_autofree gchar *error = NULL;

  if (frontend == NULL)
    error = g_strdup_printf ("no frontend '%s'", command->frontend);
  else
    for (guint i = 0; i < frontend->backends->len; i++)
      {
        MbBackend *backend = frontend->backends->pdata[i];

        if (strcmp (backend->title, command->backend) == 0)
          return backend;
      }
  if (error == NULL)
    error = g_strdup_printf ("frontend %s has no backend '%s'", command->frontend, command->backend);
  send_error (client, error);
  return NULL;
}

static void
show_info (Client *client)
{
  MbAdmin *admin = client->admin;
  g_autoptr(JsonBuilder) builder = answer_begin (TRUE);
  gint64 started_real, started_monotonic, at;
  GPtrArray *errors;
  gboolean ok;
  MbFdsFigures fds;
  const gchar *path;

  mb_daemon_get_start (admin->daemon, &started_real, &started_monotonic);
  mb_report_add_string (builder, "version", PACKAGE_VERSION);
  mb_report_add_int (builder, "pid", getpid ());
  mb_report_add_int (builder, "uptime_s", (g_get_monotonic_time () - started_monotonic) / G_USEC_PER_SEC);
  mb_report_add_string (builder, "config_file", mb_daemon_get_config (admin->daemon)->path);
  mb_report_add_int (builder, "workers", mb_workers_count ());
  mb_report_add_int (builder, "sessions", mb_session_count ());
  mb_report_add_int (builder, "reloads", mb_daemon_reload_count (admin->daemon, NULL, NULL));
  json_builder_set_member_name (builder, "last_reload");
  if (mb_daemon_last_reload (admin->daemon, &ok, &at, &errors))
    {
      g_autofree gchar *when = mb_report_time (at);

      json_builder_begin_object (builder);
      mb_report_add_bool (builder, "ok", ok);
      mb_report_add_string (builder, "at", when);
      json_builder_set_member_name (builder, "errors");
      json_builder_begin_array (builder);
      for (guint i = 0; i < errors->len; i++)
        json_builder_add_string_value (builder, errors->pdata[i]);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  else
    json_builder_add_null_value (builder);
  mb_fds_get_figures (&fds);
  json_builder_set_member_name (builder, "descriptors");
  json_builder_begin_object (builder);
  mb_report_add_int (builder, "limit", fds.limit == G_MAXUINT64 ? -1 : (gint64) fds.limit);
  mb_report_add_int (builder, "in_use", fds.in_use);
  mb_report_add_int (builder, "reserve", fds.reserve);
  mb_report_add_int (builder, "held_at_start", fds.base);
  mb_report_add_int (builder, "sessions", fds.sessions);
  mb_report_add_int (builder, "pipes", fds.pipes);
  mb_report_add_int (builder, "pipes_pooled", mb_pipes_pooled ());
  json_builder_end_object (builder);
  path = mb_pipes_enabled () && mb_fds_pipes_possible () ? "splice" : "copy";
  mb_report_add_string (builder, "relay", path);
  /* An object of its own rather than "relay" made one: members are an
   * interface, added to, never changed. */
  json_builder_set_member_name (builder, "relay_bytes");
  json_builder_begin_object (builder);
  mb_report_add_string (builder, "path", path);
  mb_report_add_int (builder, "bytes_spliced", (gint64) mb_relay_bytes_spliced ());
  mb_report_add_int (builder, "bytes_copied", (gint64) mb_relay_bytes_copied ());
  json_builder_end_object (builder);
  send_answer (client, builder);
}

static void
show_frontends (Client *client)
{
  g_autoptr(MbSnapshot) snapshot = mb_snapshot_take (client->admin->daemon);
  g_autoptr(JsonBuilder) builder = answer_begin (TRUE);

  mb_report_frontends (builder, snapshot);
  send_answer (client, builder);
}

static void
show_backends (Client *client, const MbAdminCommand *command)
{
  g_autoptr(MbSnapshot) snapshot = NULL;
  g_autoptr(JsonBuilder) builder = NULL;

  if (command->frontend != NULL && find_frontend (client->admin, command->frontend) == NULL)
    {
      g_autofree gchar *error = g_strdup_printf ("no frontend '%s'", command->frontend);

      send_error (client, error);
      return;
    }
  snapshot = mb_snapshot_take (client->admin->daemon);
  builder = answer_begin (TRUE);
  mb_report_backends (builder, snapshot, command->frontend);
  send_answer (client, builder);
}

static void
help (Client *client)
{
  g_autoptr(JsonBuilder) builder = answer_begin (TRUE);
  const gchar *const *usages = mb_admin_command_usages ();

  json_builder_set_member_name (builder, "commands");
  json_builder_begin_array (builder);
  for (guint i = 0; usages[i] != NULL; i++)
    json_builder_add_string_value (builder, usages[i]);
  json_builder_end_array (builder);
  send_answer (client, builder);
}

/* {"ok":true,"frontend":...,"backend":...: the start of an action's answer. */
static JsonBuilder *
action_begin (MbBackend *backend)
{
  JsonBuilder *builder = answer_begin (TRUE);

  mb_report_add_string (builder, "frontend", backend->frontend_title);
  mb_report_add_string (builder, "backend", backend->title);
  return builder;
}

static void
set_admin (Client *client, const MbAdminCommand *command, MbBackendAdmin state)
{
  MbBackend *backend = find_backend (client, command);
  g_autoptr(JsonBuilder) builder = NULL;

  if (backend == NULL)
    return;
  mb_backend_set_admin (backend, state);
  builder = action_begin (backend);
  mb_report_add_string (builder, "state", mb_backend_state_name (backend));
  send_answer (client, builder);
}

static void
set_weight (Client *client, const MbAdminCommand *command)
{
  MbBackend *backend = find_backend (client, command);
  g_autoptr(JsonBuilder) builder = NULL;

  if (backend == NULL)
    return;
  mb_backend_set_weight (backend, command->weight);
  builder = action_begin (backend);
  mb_report_add_int (builder, "weight", backend->weight);
  send_answer (client, builder);
}

static void client_unref (Client *client);
static void process_lines (Client *client);

/* An answer worked out after the command returned; CLIENT may have gone. */
static void
finish_async (Client *client, JsonBuilder *builder)
{
  if (client->admin != NULL)
    {
      send_answer (client, builder);
      client->busy = FALSE;
      process_lines (client);   /* those that waited for this answer */
      client_update (client);
    }
  client_unref (client);
}

typedef struct {
  Client *client;          /* a reference */
  MbBackend *backend;      /* a reference */
} Shutdown;

static void
on_sessions_closed (guint closed, gpointer data)
{
  Shutdown *shutdown = data;
  g_autoptr(JsonBuilder) builder = action_begin (shutdown->backend);

  mb_report_add_int (builder, "closed", closed);
  finish_async (shutdown->client, builder);
  mb_backend_unref (shutdown->backend);
  g_free (shutdown);
}

static void
shutdown_sessions (Client *client, const MbAdminCommand *command)
{
  MbBackend *backend = find_backend (client, command);
  Shutdown *shutdown;

  if (backend == NULL)
    return;
  shutdown = g_new0 (Shutdown, 1);
  shutdown->client = client;
  g_atomic_int_inc (&client->ref_count);
  shutdown->backend = mb_backend_ref (backend);
  client->busy = TRUE;
  mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
          "frontend %s: backend %s: shutting its sessions down (control socket)", backend->frontend_title,
          backend->title);
  mb_session_close_backend (backend, on_sessions_closed, shutdown);
}

static void
on_reloaded (gboolean ok, GPtrArray *errors, gpointer data)
{
  Client *client = data;
  g_autoptr(JsonBuilder) builder = answer_begin (ok);

  if (!ok)
    {
      g_autofree gchar *error = g_strdup_printf ("reload failed: %u error%s", errors->len,
                                                 errors->len == 1 ? "" : "s");

      mb_report_add_string (builder, "error", error);
    }
  json_builder_set_member_name (builder, "errors");
  json_builder_begin_array (builder);
  for (guint i = 0; i < errors->len; i++)
    json_builder_add_string_value (builder, errors->pdata[i]);
  json_builder_end_array (builder);
  finish_async (client, builder);
}

static void
reload (Client *client)
{
  g_atomic_int_inc (&client->ref_count);
  client->busy = TRUE;
  mb_daemon_reload (client->admin->daemon, on_reloaded, client);
}

static void
execute (Client *client, const gchar *line)
{
  g_autofree gchar *error = NULL;
  g_autoptr(MbAdminCommand) command = mb_admin_command_parse (line, &error);

  if (command == NULL)
    {
      send_error (client, error);
      return;
    }
  switch (command->verb)
    {
    case MB_ADMIN_HELP:
      help (client);
      break;
    case MB_ADMIN_SHOW_INFO:
      show_info (client);
      break;
    case MB_ADMIN_SHOW_FRONTENDS:
      show_frontends (client);
      break;
    case MB_ADMIN_SHOW_BACKENDS:
      show_backends (client, command);
      break;
    case MB_ADMIN_DISABLE:
      set_admin (client, command, MB_BACKEND_MAINT);
      break;
    case MB_ADMIN_DRAIN:
      set_admin (client, command, MB_BACKEND_DRAIN);
      break;
    case MB_ADMIN_ENABLE:
      set_admin (client, command, MB_BACKEND_ENABLED);
      break;
    case MB_ADMIN_SET_WEIGHT:
      set_weight (client, command);
      break;
    case MB_ADMIN_SHUTDOWN_SESSIONS:
      shutdown_sessions (client, command);
      break;
    case MB_ADMIN_RELOAD:
      reload (client);
      break;
    }
}

/* ---- clients ------------------------------------------------------------ */

static void
client_unref (Client *client)
{
  if (!g_atomic_int_dec_and_test (&client->ref_count))
    return;
  g_string_free (client->in, TRUE);
  g_string_free (client->out, TRUE);
  g_free (client);
}

static void
client_close (Client *client)
{
  MbAdmin *admin = client->admin;

  if (admin == NULL)
    return;
  mb_poller_forget (&client->watch);   /* closed just below */
  close (client->fd);
  client->fd = -1;
  mb_fds_client_give ();
  mb_worker_clear_source (&client->idle);
  g_queue_unlink (&admin->clients, &client->link);
  client->admin = NULL;
  client_unref (client);
}

static gboolean
on_idle (gpointer data)
{
  Client *client = data;

  g_clear_pointer (&client->idle, g_source_unref);
  client_close (client);
  return G_SOURCE_REMOVE;
}

static void
touch (Client *client)
{
  mb_worker_clear_source (&client->idle);
  client->idle = mb_worker_timeout (IDLE_MS, on_idle, client);
}

/* Answers the complete lines read so far, one at a time (one whose answer
 * is being worked out holds the next ones back). */
static void
process_lines (Client *client)
{
  while (!client->busy && !client->closing)
    {
      gchar *newline = memchr (client->in->str, '\n', client->in->len);
      gsize length;
      g_autofree gchar *line = NULL;

      if (newline == NULL && client->eof)
        {
          client->closing = TRUE;   /* every line answered */
          return;
        }
      if (newline == NULL)
        {
          /* Too long already (a line may end in "\r\n"). */
          if (client->in->len > MAX_LINE + 1
              || (client->in->len == MAX_LINE + 1 && client->in->str[MAX_LINE] != '\r'))
            {
              send_error (client, "line longer than 4096 bytes");
              client->closing = TRUE;
            }
          return;
        }
      length = (gsize) (newline - client->in->str);
      line = g_strndup (client->in->str, length);
      g_string_erase (client->in, 0, (gssize) length + 1);
      if (length > 0 && line[length - 1] == '\r')
        line[--length] = '\0';
      if (length > MAX_LINE)
        {
          send_error (client, "line longer than 4096 bytes");
          client->closing = TRUE;
        }
      else if (!g_utf8_validate (line, (gssize) length, NULL))
        {
          send_error (client, "the line is not UTF-8");
          client->closing = TRUE;
        }
      else
        execute (client, line);
    }
}

/* Writes what it can of the answers; FALSE when the client is gone. */
static gboolean
flush (Client *client)
{
  while (client->out->len > 0)
    {
      ssize_t n = send (client->fd, client->out->str, client->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n <= 0)
        {
          client_close (client);
          return FALSE;
        }
      g_string_erase (client->out, 0, n);
    }
  if (client->out->len > MAX_OUTPUT)
    {
      client_close (client);   /* it does not read its answers */
      return FALSE;
    }
  return TRUE;
}

/* Writes, then watches what is needed next, or closes. */
static void
client_update (Client *client)
{
  GIOCondition want = 0;

  if (client->admin == NULL || !flush (client))
    return;
  if (client->closing && client->out->len == 0 && !client->busy)
    {
      client_close (client);
      return;
    }
  if (!client->busy && !client->closing)
    want |= G_IO_IN;
  if (client->out->len > 0)
    want |= G_IO_OUT;
  /* Nothing to wait for until an answer is worked out: out of the set, or
   * a hang-up would be reported again and again meanwhile. */
  if (want == 0)
    mb_poller_unwatch (&client->watch);
  else if (!mb_poller_watch (&client->watch, want, NULL))
    client_close (client);
}

static void
on_client (MbPollerHandle *handle, GIOCondition condition)
{
  Client *client = handle->data;

  if ((condition & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && !client->busy && !client->closing)
    {
      gchar buffer[MAX_LINE + 2];
      ssize_t n;

      do
        n = recv (client->fd, buffer, sizeof buffer, MSG_DONTWAIT);
      while (n < 0 && errno == EINTR);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        {
          client_close (client);   /* reset: nobody to answer */
          return;
        }
      if (n == 0)
        client->eof = TRUE;        /* half-closed: it may still read */
      else if (n > 0)
        {
          g_string_append_len (client->in, buffer, n);
          touch (client);
        }
      process_lines (client);
    }
  client_update (client);
}

/* Whether the peer on FD may use the control socket; *UID says who it is. */
static gboolean
peer_allowed (MbAdmin *admin, int fd, uid_t *uid)
{
  const MbConfig *config = mb_daemon_get_config (admin->daemon);
  struct ucred cred;
  socklen_t len = sizeof cred;
  gid_t groups[256];
  socklen_t groups_len = sizeof groups;

  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    {
      *uid = (uid_t) -1;
      return FALSE;
    }
  *uid = cred.uid;
  if (cred.uid == 0 || cred.uid == geteuid ())
    return TRUE;
  if (config->admin_group == NULL)
    return FALSE;
  if (cred.gid == config->admin_gid)
    return TRUE;
#ifdef SO_PEERGROUPS
  if (getsockopt (fd, SOL_SOCKET, SO_PEERGROUPS, groups, &groups_len) == 0)
    for (guint i = 0; i < groups_len / sizeof *groups; i++)
      if (groups[i] == config->admin_gid)
        return TRUE;
#else
  (void) groups;
  (void) groups_len;
#endif
  return FALSE;
}

/* A last word to a client never taken on, then closed. */
static void
refuse (int fd, const gchar *message)
{
  g_autoptr(JsonBuilder) builder = answer_begin (FALSE);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *line = NULL;

  mb_report_add_string (builder, "error", message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  line = g_strconcat (text, "\n", NULL);
  /* Best effort: a new socket's buffer takes a short line. */
  (void) send (fd, line, strlen (line), MSG_NOSIGNAL | MSG_DONTWAIT);
  close (fd);
}

static void
on_accept (MbPollerHandle *handle, GIOCondition condition)
{
  MbAdmin *admin = handle->data;

  for (guint i = 0; i < 64; i++)
    {
      int fd = accept4 (admin->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      Client *client;
      uid_t uid;

      if (fd < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            mb_log (G_LOG_LEVEL_WARNING, NULL, "admin_socket %s: accept: %s", admin->path, g_strerror (errno));
          return;
        }
      if (!peer_allowed (admin, fd, &uid))
        {
          g_autofree gchar *message = g_strdup_printf ("permission denied: uid %ld may not use the control socket",
                                                       (glong) uid);

          mb_log (G_LOG_LEVEL_WARNING, NULL, "admin_socket %s: %s", admin->path, message);
          refuse (fd, message);
          continue;
        }
      if (admin->clients.length >= MAX_CLIENTS || !mb_fds_client_take ())
        {
          refuse (fd, "too many control clients");
          continue;
        }
      client = g_new0 (Client, 1);
      client->ref_count = 1;
      client->admin = admin;
      client->link.data = client;
      client->fd = fd;
      client->in = g_string_new (NULL);
      client->out = g_string_new (NULL);
      mb_poller_handle_init (&client->watch, fd, on_client, client);
      g_queue_push_tail_link (&admin->clients, &client->link);
      touch (client);
      client_update (client);
    }
}

/* ---- the socket ----------------------------------------------------------- */

static gboolean
fill_address (struct sockaddr_un *address, const gchar *path, GError **error)
{
  memset (address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  if (strlen (path) >= sizeof address->sun_path)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_CONFIG, "admin_socket %s: the path is too long", path);
      return FALSE;
    }
  strcpy (address->sun_path, path);
  return TRUE;
}

/* Makes room at PATH: nothing there, or a stale socket (removed); another
 * process answering there, or anything but a socket, is an error. */
static gboolean
clear_path (const gchar *path, const struct sockaddr_un *address, GError **error)
{
  struct stat st;
  int probe;

  if (lstat (path, &st) < 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "admin_socket %s: exists and is not a socket", path);
      return FALSE;
    }
  probe = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "admin_socket %s: socket: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (connect (probe, (const struct sockaddr *) address, sizeof *address) == 0 || errno == EAGAIN)
    {
      close (probe);
      g_set_error (error, MB_ERROR, MB_ERROR_IO,
                   "admin_socket %s: another process answers on it (another mini-balancer?)", path);
      return FALSE;
    }
  close (probe);
  if (unlink (path) < 0 && errno != ENOENT)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "admin_socket %s: cannot remove the stale socket: %s", path,
                   g_strerror (errno));
      return FALSE;
    }
  mb_log (G_LOG_LEVEL_INFO, NULL, "admin_socket %s: replaced a stale socket", path);
  return TRUE;
}

/* The socket's directory: systemd makes it (RuntimeDirectory=); started
 * otherwise, the daemon makes it if it can. */
static gboolean
make_directory (const gchar *path, GError **error)
{
  g_autofree gchar *directory = g_path_get_dirname (path);

  if (g_mkdir_with_parents (directory, 0755) < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "admin_socket %s: cannot make %s: %s", path, directory,
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

MbAdmin *
mb_admin_new (MbDaemon *daemon, const gchar *path, GError **error)
{
  const MbConfig *config = mb_daemon_get_config (daemon);
  g_autoptr(GError) watch_error = NULL;
  struct sockaddr_un address;
  MbAdmin *admin;
  int fd;

  if (!fill_address (&address, path, error) || !make_directory (path, error)
      || !clear_path (path, &address, error))
    return NULL;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *) &address, sizeof address) < 0
      || chmod (path, 0660) < 0 || listen (fd, MAX_CLIENTS) < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "admin_socket %s: %s", path, g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  /* Its members get in by the file's permissions too. */
  if (config->admin_group != NULL && chown (path, (uid_t) -1, config->admin_gid) < 0)
    mb_log (G_LOG_LEVEL_WARNING, NULL, "admin_socket %s: cannot give it to group %s (%s): its members "
            "can use it only if the directory or the file lets them", path, config->admin_group,
            g_strerror (errno));

  admin = g_new0 (MbAdmin, 1);
  admin->daemon = daemon;
  admin->path = g_strdup (path);
  admin->fd = fd;
  mb_poller_handle_init (&admin->watch, fd, on_accept, admin);
  if (!mb_poller_watch (&admin->watch, G_IO_IN, &watch_error))
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "admin_socket %s: %s", path, watch_error->message);
      mb_admin_free (admin);
      return NULL;
    }
  mb_log (G_LOG_LEVEL_INFO, NULL, "control socket on %s", path);
  return admin;
}

void
mb_admin_free (MbAdmin *admin)
{
  if (admin == NULL)
    return;
  while (admin->clients.head != NULL)
    client_close (admin->clients.head->data);
  mb_poller_forget (&admin->watch);
  close (admin->fd);
  unlink (admin->path);
  g_free (admin->path);
  g_free (admin);
}
