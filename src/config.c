/* config.c - configuration files into a validated MbConfig; see config.h.
 *
 * Two stages.  First a loader fills a raw MbConfig with the values as
 * written and where each was written: config_confuse_load() below for
 * libconfuse syntax, mb_toml_load() for the seed's TOML files.  Then
 * mb_config_finish() checks and resolves it, collecting every error it can
 * find.  Every scalar option is read as a "located" string (text plus line)
 * so that errors found after parsing still name the right line.
 */
#include "build-config.h"

#include "config.h"

#include <confuse.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

#include "address.h"
#include "config-text.h"
#include "duration.h"
#include "error.h"
#include "toml.h"

typedef struct {
  gchar *text;
  gint line;             /* line in the MbConfigText buffer */
} Located;

/* libconfuse callbacks have no user data; loads run one at a time. */
typedef struct {
  MbConfigText *text;
  GPtrArray *errors;
  GHashTable *seen;      /* "section/option" -> first line, to refuse repeats */
} ConfuseLoad;

static ConfuseLoad *current_load;

void
mb_config_error (GPtrArray *errors, const gchar *file, gint line, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (line > 0)
    g_ptr_array_add (errors, g_strdup_printf ("%s:%d: %s", file, line, message));
  else
    g_ptr_array_add (errors, g_strdup_printf ("%s: %s", file, message));
}

gboolean
mb_config_report (GPtrArray *errors, GError **error)
{
  g_autoptr(GString) all = NULL;

  if (errors->len == 0)
    return TRUE;
  all = g_string_new (NULL);
  for (guint i = 0; i < errors->len; i++)
    {
      if (i > 0)
        g_string_append_c (all, '\n');
      g_string_append (all, errors->pdata[i]);
    }
  g_set_error_literal (error, MB_ERROR, MB_ERROR_CONFIG, all->str);
  return FALSE;
}

const gchar *
mb_log_level_to_string (MbLogLevel level)
{
  static const gchar *const names[] = { "error", "warning", "message", "info", "debug" };

  g_return_val_if_fail (level <= MB_LOG_LEVEL_DEBUG, "message");
  return names[level];
}

static gboolean
log_level_from_string (const gchar *text, MbLogLevel *out)
{
  for (MbLogLevel level = MB_LOG_LEVEL_ERROR; level <= MB_LOG_LEVEL_DEBUG; level++)
    if (strcmp (text, mb_log_level_to_string (level)) == 0)
      {
        *out = level;
        return TRUE;
      }
  return FALSE;
}

/* ---- raw configuration ------------------------------------------------ */

void
mb_backend_config_free (gpointer data)
{
  MbBackendConfig *backend = data;

  g_free (backend->title);
  g_free (backend->forward_to);
  g_clear_pointer (&backend->addresses, g_ptr_array_unref);
  g_free (backend->host);
  g_free (backend->resolve_error);
  g_free (backend);
}

static void
frontend_config_free (gpointer data)
{
  MbFrontendConfig *frontend = data;

  g_free (frontend->title);
  g_free (frontend->bind_on);
  g_free (frontend->discover);
  if (frontend->health_check != NULL)
    {
      g_clear_pointer (&frontend->health_check->send, g_bytes_unref);
      g_clear_pointer (&frontend->health_check->expect, g_bytes_unref);
      g_free (frontend->health_check);
    }
  g_clear_pointer (&frontend->bind_addresses, g_ptr_array_unref);
  g_ptr_array_unref (frontend->backends);
  g_free (frontend);
}

MbConfig *
mb_config_new (const gchar *path)
{
  MbConfig *config = g_new0 (MbConfig, 1);

  config->ref_count = 1;
  config->path = g_strdup (path);
  config->log_level = MB_LOG_LEVEL_MESSAGE;
  config->shutdown_timeout_ms = MB_DEFAULT_SHUTDOWN_TIMEOUT_MS;
  config->max_connections = MB_DEFAULT_MAX_CONNECTIONS;
  config->frontends = g_ptr_array_new_with_free_func (frontend_config_free);
  return config;
}

MbConfig *
mb_config_ref (MbConfig *config)
{
  g_atomic_int_inc (&config->ref_count);
  return config;
}

void
mb_config_unref (MbConfig *config)
{
  if (config == NULL || !g_atomic_int_dec_and_test (&config->ref_count))
    return;
  g_free (config->path);
  g_free (config->user);
  g_free (config->group);
  g_free (config->admin_socket);
  g_free (config->admin_group);
  g_clear_pointer (&config->stats, frontend_config_free);
  g_ptr_array_unref (config->frontends);
  g_free (config);
}

static MbFrontendConfig *
frontend_config_new (const gchar *title, const gchar *file, gint line)
{
  MbFrontendConfig *frontend = g_new0 (MbFrontendConfig, 1);

  frontend->title = g_strdup (title);
  frontend->file = g_intern_string (file);
  frontend->line = line;
  frontend->balance = MB_BALANCE_ROUND_ROBIN;
  frontend->connect_timeout_ms = MB_DEFAULT_CONNECT_TIMEOUT_MS;
  frontend->idle_timeout_ms = MB_DEFAULT_IDLE_TIMEOUT_MS;
  frontend->backlog = MB_DEFAULT_BACKLOG;
  frontend->fail_timeout_ms = MB_DEFAULT_FAIL_TIMEOUT_MS;
  frontend->backends = g_ptr_array_new_with_free_func (mb_backend_config_free);
  return frontend;
}

MbFrontendConfig *
mb_config_add_frontend (MbConfig *config, const gchar *title, const gchar *file, gint line)
{
  MbFrontendConfig *frontend = frontend_config_new (title, file, line);

  g_ptr_array_add (config->frontends, frontend);
  return frontend;
}

MbBackendConfig *
mb_frontend_config_add_backend (MbFrontendConfig *frontend, const gchar *title,
                                const gchar *file, gint line)
{
  MbBackendConfig *backend = g_new0 (MbBackendConfig, 1);

  backend->title = g_strdup (title);
  backend->file = g_intern_string (file);
  backend->line = line;
  backend->weight = 1;
  g_ptr_array_add (frontend->backends, backend);
  return backend;
}

/* ---- checking and resolving ------------------------------------------- */

/* The one overlap rule: mb_config_finish() refuses two frontends that
 * overlap, and reload.c finds with it the old listeners in a new one's way. */
gboolean
mb_frontend_config_overlaps (const MbFrontendConfig *a, const MbFrontendConfig *b)
{
  g_return_val_if_fail (a != NULL && a->bind_addresses != NULL, FALSE);
  g_return_val_if_fail (b != NULL && b->bind_addresses != NULL, FALSE);

  if (a->bind_port != b->bind_port)
    return FALSE;
  if (a->bind_any || b->bind_any)
    return TRUE;
  for (guint i = 0; i < a->bind_addresses->len; i++)
    for (guint j = 0; j < b->bind_addresses->len; j++)
      {
        GInetAddress *x = g_inet_socket_address_get_address (a->bind_addresses->pdata[i]);
        GInetAddress *y = g_inet_socket_address_get_address (b->bind_addresses->pdata[j]);

        if (g_inet_address_equal (x, y))
          return TRUE;
        /* 0.0.0.0 or [::] takes the port on every address of its family. */
        if (g_inet_address_get_family (x) == g_inet_address_get_family (y)
            && (g_inet_address_get_is_any (x) || g_inet_address_get_is_any (y)))
          return TRUE;
      }
  return FALSE;
}

/* Parses and resolves a listening address (a frontend's bind_on, or
 * stats_listen): WHAT names it in errors ("frontend web: bind_on"). */
static void
finish_listen_address (MbFrontendConfig *frontend, const gchar *what, GPtrArray *errors)
{
  g_autofree gchar *host = NULL;
  g_autoptr(GError) error = NULL;

  if (!mb_address_parse (frontend->bind_on, TRUE, &host, &frontend->bind_port, &error))
    mb_config_error (errors, frontend->file, frontend->line, "%s: %s", what, error->message);
  else if (host == NULL)
    {
      frontend->bind_any = TRUE;
      frontend->bind_addresses = g_ptr_array_new_with_free_func (g_object_unref);
    }
  else if ((frontend->bind_addresses = mb_address_resolve (host, frontend->bind_port, &error)) == NULL)
    mb_config_error (errors, frontend->file, frontend->line, "%s: %s", what, error->message);
}

static void finish_discover (MbFrontendConfig *frontend, GPtrArray *errors);

static void
finish_frontend (MbFrontendConfig *frontend, GPtrArray *errors)
{
  if (frontend->bind_on == NULL)
    mb_config_error (errors, frontend->file, frontend->line,
                     "frontend %s: bind_on is required", frontend->title);
  else
    {
      g_autofree gchar *what = g_strdup_printf ("frontend %s: bind_on", frontend->title);

      finish_listen_address (frontend, what, errors);
    }

  if (frontend->discover != NULL)
    finish_discover (frontend, errors);
  else if (frontend->backends->len == 0)
    mb_config_error (errors, frontend->file, frontend->line,
                     "frontend %s: no backend defined: add backend NAME { forward_to = \"host:port\" }",
                     frontend->title);
  else
    {
      guint backups = 0;

      for (guint i = 0; i < frontend->backends->len; i++)
        backups += ((MbBackendConfig *) frontend->backends->pdata[i])->backup ? 1 : 0;
      if (backups == frontend->backends->len)
        mb_config_error (errors, frontend->file, frontend->line,
                         "frontend %s: every backend is a backup: at least one must not be",
                         frontend->title);
    }

  for (guint i = 0; i < frontend->backends->len; i++)
    {
      MbBackendConfig *backend = frontend->backends->pdata[i];
      g_autofree gchar *backend_host = NULL;
      g_autoptr(GError) error = NULL;
      guint16 port = 0;

      if (backend->forward_to == NULL)
        mb_config_error (errors, backend->file, backend->line,
                         "frontend %s: backend %s: forward_to is required",
                         frontend->title, backend->title);
      else if (!mb_address_parse (backend->forward_to, FALSE, &backend_host, &port, &error))
        mb_config_error (errors, backend->file, backend->line, "frontend %s: backend %s: forward_to: %s",
                         frontend->title, backend->title, error->message);
      else
        {
          backend->port = port;
          if (frontend->resolve_interval_ms > 0 && !g_hostname_is_ip_address (backend_host))
            backend->host = g_strdup (backend_host);
          backend->addresses = mb_address_resolve (backend_host, port, &error);
          /* With resolve_interval, a name may come later: the backend
           * starts down (backend.h). */
          if (backend->addresses == NULL && backend->host != NULL)
            {
              backend->addresses = g_ptr_array_new_with_free_func (g_object_unref);
              backend->resolve_error = g_strdup (error->message);
            }
          else if (backend->addresses == NULL)
            mb_config_error (errors, backend->file, backend->line, "frontend %s: backend %s: forward_to: %s",
                             frontend->title, backend->title, error->message);
        }
    }
}

/* A name a DNS server can hold: dot-separated labels of letters, digits,
 * '-' and '_' (SRV names begin with "_service._tcp"), 1 to 63 characters
 * each, 253 in all, an ending dot allowed. */
static gboolean
is_dns_name (const gchar *name)
{
  gsize label = 0, len = strlen (name);

  if (len == 0 || len > 254 || (len == 254 && name[253] != '.') || name[0] == '.')
    return FALSE;
  for (const gchar *p = name; *p != '\0'; p++)
    {
      if (*p == '.')
        {
          if (label == 0)
            return FALSE;
          label = 0;
        }
      else if ((g_ascii_isalnum (*p) || *p == '-' || *p == '_') && ++label <= 63)
        continue;
      else
        return FALSE;
    }
  return TRUE;
}

static void
finish_discover (MbFrontendConfig *frontend, GPtrArray *errors)
{
  if (!is_dns_name (frontend->discover))
    mb_config_error (errors, frontend->discover_file, frontend->discover_line,
                     "frontend %s: discover: '%s' is not a DNS name such as _app._tcp.example.org",
                     frontend->title, frontend->discover);
  if (frontend->resolve_interval_ms == 0)
    mb_config_error (errors, frontend->discover_file, frontend->discover_line,
                     "frontend %s: discover needs resolve_interval > 0 (the records are looked up that often)",
                     frontend->title);
}

/* Looks up user and group once, at load: the names must exist here and now. */
static void
finish_identity (MbConfig *config, GPtrArray *errors)
{
  if (config->user != NULL)
    {
      struct passwd *pw = getpwnam (config->user);

      if (pw == NULL)
        mb_config_error (errors, config->user_file, config->user_line,
                         "user: unknown user '%s'", config->user);
      else
        {
          config->uid = pw->pw_uid;
          config->gid = pw->pw_gid;
        }
    }
  if (config->group != NULL)
    {
      struct group *gr = getgrnam (config->group);

      if (gr == NULL)
        mb_config_error (errors, config->group_file, config->group_line,
                         "group: unknown group '%s'", config->group);
      else
        config->gid = gr->gr_gid;
    }
  if (config->admin_group != NULL)
    {
      struct group *gr = getgrnam (config->admin_group);

      if (gr == NULL)
        mb_config_error (errors, config->admin_group_file, config->admin_group_line,
                         "admin_group: unknown group '%s'", config->admin_group);
      else
        config->admin_gid = gr->gr_gid;
    }
}

/* The control socket's path: relative to the directory of the file that
 * sets it (as include() paths are), and short enough for a unix socket
 * address (sun_path holds 107 bytes and a NUL). */
static void
finish_admin_socket (MbConfig *config, GPtrArray *errors)
{
  const gchar *path = config->admin_socket;

  if (path == NULL)
    return;
  if (path[0] == '\0')
    {
      mb_config_error (errors, config->admin_socket_file, config->admin_socket_line,
                       "admin_socket: must not be empty");
      return;
    }
  if (!g_path_is_absolute (path))
    {
      g_autofree gchar *directory = g_path_get_dirname (config->admin_socket_file);
      g_autofree gchar *joined = g_build_filename (directory, path, NULL);

      g_free (config->admin_socket);
      config->admin_socket = g_canonicalize_filename (joined, NULL);
      path = config->admin_socket;
    }
  if (strlen (path) > 107)
    mb_config_error (errors, config->admin_socket_file, config->admin_socket_line,
                     "admin_socket: the path is %zu bytes long; a unix socket's may be 107 at most",
                     strlen (path));
  else if (g_str_has_suffix (path, "/"))
    mb_config_error (errors, config->admin_socket_file, config->admin_socket_line,
                     "admin_socket: '%s' names a directory, not a socket", path);
}

gboolean
mb_config_finish (MbConfig *config, GPtrArray *errors)
{
  guint before = errors->len;

  finish_identity (config, errors);
  finish_admin_socket (config, errors);

  if (config->frontends->len == 0)
    mb_config_error (errors, config->path, 0,
                     "no frontend defined: add frontend NAME { bind_on = \"host:port\" ... }");

  for (guint i = 0; i < config->frontends->len; i++)
    finish_frontend (config->frontends->pdata[i], errors);
  if (config->stats != NULL)
    {
      finish_listen_address (config->stats, "stats_listen", errors);
      for (guint i = 0; config->stats->bind_addresses != NULL && i < config->frontends->len; i++)
        {
          MbFrontendConfig *f = config->frontends->pdata[i];

          if (f->bind_addresses != NULL && mb_frontend_config_overlaps (config->stats, f))
            mb_config_error (errors, config->stats->file, config->stats->line,
                             "stats_listen: %s overlaps frontend %s (%s:%d, %s)",
                             config->stats->bind_on, f->title, f->file, f->line, f->bind_on);
        }
    }

  for (guint i = 0; i < config->frontends->len; i++)
    {
      MbFrontendConfig *a = config->frontends->pdata[i];

      if (a->bind_addresses == NULL)
        continue;
      for (guint j = 0; j < i; j++)
        {
          MbFrontendConfig *b = config->frontends->pdata[j];

          if (b->bind_addresses != NULL && mb_frontend_config_overlaps (a, b))
            mb_config_error (errors, a->file, a->line,
                             "frontend %s: bind_on: %s overlaps frontend %s (%s:%d, %s)",
                             a->title, a->bind_on, b->title, b->file, b->line, b->bind_on);
        }
    }
  return errors->len == before;
}

/* ---- libconfuse syntax ------------------------------------------------ */

static void
located_free (void *data)
{
  Located *value = data;

  g_free (value->text);
  g_free (value);
}

static MbSourceLine
locate (gint line)
{
  return mb_config_text_locate (current_load->text, line);
}

/* Every scalar option is kept as text plus the line it was written on. */
static int
located_parse (cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
  /* libconfuse lets a repeated option silently replace the first one. */
  g_autofree gchar *key = g_strdup_printf ("%p/%s", (void *) cfg, opt->name);
  gpointer first_line = g_hash_table_lookup (current_load->seen, key);
  Located *located;

  if (first_line != NULL)
    {
      MbSourceLine here = locate (cfg->line), there = locate (GPOINTER_TO_INT (first_line));

      mb_config_error (current_load->errors, here.file, here.line,
                       "%s is set twice (first at %s:%d)", opt->name, there.file, there.line);
    }
  else
    g_hash_table_insert (current_load->seen, g_steal_pointer (&key), GINT_TO_POINTER (cfg->line));
  located = g_new0 (Located, 1);
  located->text = g_strdup (value);
  located->line = cfg->line;
  *(void **) result = located;
  return 0;
}

static void
confuse_error (cfg_t *cfg, const char *format, va_list args)
{
  MbSourceLine where = locate (cfg->line);
  g_autofree gchar *message = g_strdup_vprintf (format, args);

  /* libconfuse does not say which kind of section the title belongs to. */
  if (g_str_has_prefix (message, "found duplicate title "))
    {
      const gchar *title = message + strlen ("found duplicate title ");

      if (g_strcmp0 (cfg->name, "frontend") == 0)
        mb_config_error (current_load->errors, where.file, where.line,
                         "frontend %s: duplicate backend title %s", cfg_title (cfg), title);
      else
        mb_config_error (current_load->errors, where.file, where.line, "duplicate frontend title %s", title);
      return;
    }
  mb_config_error (current_load->errors, where.file, where.line, "%s", message);
}

static Located *
get_located (cfg_t *section, const gchar *name)
{
  return cfg_size (section, name) > 0 ? cfg_getptr (section, name) : NULL;
}

/* Reads an optional duration option into *OUT; leaves the default when unset. */
static void
get_duration (cfg_t *section, const gchar *name, const gchar *prefix, guint64 *out, GPtrArray *errors)
{
  Located *value = get_located (section, name);
  g_autoptr(GError) error = NULL;

  if (value == NULL)
    return;
  if (!mb_duration_parse (value->text, out, &error))
    {
      MbSourceLine where = locate (value->line);
      mb_config_error (errors, where.file, where.line, "%s%s: %s", prefix, name, error->message);
    }
}

/* Reads an optional whole-number option from MIN to MAX into *OUT. */
static void
get_number (cfg_t *section, const gchar *name, const gchar *prefix, guint min, guint max,
            guint *out, GPtrArray *errors)
{
  Located *value = get_located (section, name);
  guint64 number = 0;

  if (value == NULL)
    return;
  if (!g_ascii_string_to_unsigned (value->text, 10, min, max, &number, NULL))
    {
      MbSourceLine at = locate (value->line);
      mb_config_error (errors, at.file, at.line, "%s%s: '%s' is not a number from %u to %u",
                       prefix, name, value->text, min, max);
      return;
    }
  *out = (guint) number;
}

/* A duration that must be more than 0. */
static void
get_positive_duration (cfg_t *section, const gchar *name, const gchar *prefix, guint64 *out,
                       GPtrArray *errors)
{
  Located *value = get_located (section, name);
  guint64 before = *out;

  get_duration (section, name, prefix, out, errors);
  if (value != NULL && *out == 0 && before != 0)
    {
      MbSourceLine at = locate (value->line);
      mb_config_error (errors, at.file, at.line, "%s%s: must be more than 0", prefix, name);
      *out = before;
    }
}

/* true/false (also yes/no, on/off) */
static void
get_bool (cfg_t *section, const gchar *name, const gchar *prefix, gboolean *out, GPtrArray *errors)
{
  static const gchar *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
  Located *value = get_located (section, name);

  if (value == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (value->text, yes[i]) == 0)
        {
          *out = TRUE;
          return;
        }
      if (g_ascii_strcasecmp (value->text, no[i]) == 0)
        {
          *out = FALSE;
          return;
        }
    }
  {
    MbSourceLine at = locate (value->line);
    mb_config_error (errors, at.file, at.line, "%s%s: '%s' is neither true nor false", prefix, name,
                     value->text);
  }
}

/* workers = auto | N: 0 for auto. */
static void
get_workers (cfg_t *section, guint *out, GPtrArray *errors)
{
  Located *value = get_located (section, "workers");
  guint64 number = 0;

  if (value == NULL)
    return;
  if (strcmp (value->text, "auto") == 0)
    *out = 0;
  else if (g_ascii_string_to_unsigned (value->text, 10, 1, MB_MAX_WORKERS, &number, NULL))
    *out = (guint) number;
  else
    {
      MbSourceLine at = locate (value->line);
      mb_config_error (errors, at.file, at.line, "workers: '%s' is neither auto nor a number from 1 to %u",
                       value->text, MB_MAX_WORKERS);
    }
}

/* Reads an optional string option into *OUT (newly allocated). */
static void
get_string (cfg_t *section, const gchar *name, gchar **out, const gchar **file, gint *line)
{
  Located *value = get_located (section, name);
  MbSourceLine at;

  if (value == NULL)
    return;
  at = locate (value->line);
  *out = g_strdup (value->text);
  *file = at.file;
  *line = at.line;
}

static const struct {
  const gchar *name;
  MbBalance balance;
} balance_names[] = {
  { "round-robin", MB_BALANCE_ROUND_ROBIN },
  { "least-connections", MB_BALANCE_LEAST_CONNECTIONS },
  { "random-two", MB_BALANCE_RANDOM_TWO },
  { "source-hash", MB_BALANCE_SOURCE_HASH },
};

static gboolean
balance_from_string (const gchar *text, MbBalance *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (balance_names); i++)
    if (strcmp (text, balance_names[i].name) == 0)
      {
        *out = balance_names[i].balance;
        return TRUE;
      }
  return FALSE;
}

const gchar *
mb_balance_name (MbBalance balance)
{
  for (guint i = 0; i < G_N_ELEMENTS (balance_names); i++)
    if (balance_names[i].balance == balance)
      return balance_names[i].name;
  return "?";
}

/* send_proxy = none | v1 | v2 into *OUT; leaves it when unset. */
static void
get_proxy_version (cfg_t *section, const gchar *prefix, MbProxyVersion *out, GPtrArray *errors)
{
  Located *value = get_located (section, "send_proxy");

  if (value == NULL)
    return;
  if (!mb_proxy_version_parse (value->text, out))
    {
      MbSourceLine at = locate (value->line);
      mb_config_error (errors, at.file, at.line, "%ssend_proxy: '%s' is not none, v1 or v2", prefix,
                       value->text);
    }
}

/* An optional string option as bytes; an empty one is an error. */
static void
get_bytes (cfg_t *section, const gchar *name, const gchar *prefix, GBytes **out, GPtrArray *errors)
{
  Located *value = get_located (section, name);

  if (value == NULL)
    return;
  if (value->text[0] == '\0')
    {
      MbSourceLine at = locate (value->line);
      mb_config_error (errors, at.file, at.line, "%s%s: must not be empty", prefix, name);
      return;
    }
  *out = g_bytes_new (value->text, strlen (value->text));
}

static void
read_health_check (MbFrontendConfig *frontend, cfg_t *section, const gchar *frontend_prefix,
                   GPtrArray *errors)
{
  MbHealthCheckConfig *check = g_new0 (MbHealthCheckConfig, 1);
  g_autofree gchar *prefix = g_strdup_printf ("%shealth_check: ", frontend_prefix);
  MbSourceLine at = locate (section->line);

  check->file = at.file;
  check->line = at.line;
  check->interval_ms = MB_DEFAULT_CHECK_INTERVAL_MS;
  check->timeout_ms = MB_DEFAULT_CHECK_TIMEOUT_MS;
  check->rise = MB_DEFAULT_CHECK_RISE;
  check->fall = MB_DEFAULT_CHECK_FALL;
  get_positive_duration (section, "interval", prefix, &check->interval_ms, errors);
  get_positive_duration (section, "timeout", prefix, &check->timeout_ms, errors);
  get_number (section, "rise", prefix, 1, 100, &check->rise, errors);
  get_number (section, "fall", prefix, 1, 100, &check->fall, errors);
  get_bytes (section, "send", prefix, &check->send, errors);
  get_bytes (section, "expect", prefix, &check->expect, errors);
  frontend->health_check = check;
}

static void
read_frontend (MbConfig *config, cfg_t *section, GPtrArray *errors)
{
  Located *bind_on = get_located (section, "bind_on");
  Located *balance = get_located (section, "balance");
  MbSourceLine where = locate (bind_on ? bind_on->line : section->line);
  MbFrontendConfig *frontend = mb_config_add_frontend (config, cfg_title (section), where.file, where.line);
  g_autofree gchar *prefix = g_strdup_printf ("frontend %s: ", frontend->title);

  if (bind_on != NULL)
    frontend->bind_on = g_strdup (bind_on->text);

  if (balance != NULL && !balance_from_string (balance->text, &frontend->balance))
    {
      MbSourceLine at = locate (balance->line);
      mb_config_error (errors, at.file, at.line,
                       "%sbalance: unknown algorithm '%s' (known: round-robin, least-connections, "
                       "random-two, source-hash)", prefix, balance->text);
    }

  get_duration (section, "connect_timeout", prefix, &frontend->connect_timeout_ms, errors);
  if (frontend->connect_timeout_ms == 0)
    {
      MbSourceLine at = locate (((Located *) get_located (section, "connect_timeout"))->line);
      mb_config_error (errors, at.file, at.line, "%sconnect_timeout: must be more than 0", prefix);
    }
  get_duration (section, "idle_timeout", prefix, &frontend->idle_timeout_ms, errors);
  get_duration (section, "resolve_interval", prefix, &frontend->resolve_interval_ms, errors);
  get_string (section, "discover", &frontend->discover, &frontend->discover_file, &frontend->discover_line);

  get_number (section, "backlog", prefix, 1, MB_MAX_BACKLOG, &frontend->backlog, errors);
  get_number (section, "max_connections", prefix, 0, MB_MAX_MAX_CONNECTIONS, &frontend->max_connections, errors);
  get_number (section, "max_fails", prefix, 0, 1000, &frontend->max_fails, errors);
  get_positive_duration (section, "fail_timeout", prefix, &frontend->fail_timeout_ms, errors);
  get_bool (section, "accept_proxy", prefix, &frontend->accept_proxy, errors);
  get_bool (section, "freebind", prefix, &frontend->freebind, errors);
  get_proxy_version (section, prefix, &frontend->send_proxy, errors);
  if (cfg_size (section, "health_check") > 0)
    read_health_check (frontend, cfg_getnsec (section, "health_check", 0), prefix, errors);
  if (cfg_size (section, "health_check") > 1)
    {
      MbSourceLine at = locate (cfg_getnsec (section, "health_check", 1)->line);
      mb_config_error (errors, at.file, at.line, "%shealth_check is given twice", prefix);
    }

  for (guint i = 0; i < cfg_size (section, "backend"); i++)
    {
      cfg_t *backend_section = cfg_getnsec (section, "backend", i);
      Located *forward_to = get_located (backend_section, "forward_to");
      MbSourceLine at = locate (forward_to ? forward_to->line : backend_section->line);
      MbBackendConfig *backend = mb_frontend_config_add_backend (frontend, cfg_title (backend_section),
                                                                 at.file, at.line);

      if (forward_to != NULL)
        backend->forward_to = g_strdup (forward_to->text);
      {
        g_autofree gchar *backend_prefix = g_strdup_printf ("%sbackend %s: ", prefix, backend->title);

        get_number (backend_section, "weight", backend_prefix, 1, MB_MAX_WEIGHT, &backend->weight, errors);
        get_bool (backend_section, "backup", backend_prefix, &backend->backup, errors);
        backend->send_proxy = frontend->send_proxy;
        get_proxy_version (backend_section, backend_prefix, &backend->send_proxy, errors);
      }
    }
}

/* Every scalar option: text plus line, see located_parse(). */
#define LOCATED(name) CFG_PTR_CB (name, NULL, CFGF_NODEFAULT, located_parse, located_free)

static MbConfig *
config_confuse_load (const gchar *path, GPtrArray *errors)
{
  cfg_opt_t backend_opts[] = {
    LOCATED ("forward_to"),
    LOCATED ("weight"),
    LOCATED ("backup"),
    LOCATED ("send_proxy"),
    CFG_END ()
  };
  cfg_opt_t health_check_opts[] = {
    LOCATED ("interval"),
    LOCATED ("timeout"),
    LOCATED ("rise"),
    LOCATED ("fall"),
    LOCATED ("send"),
    LOCATED ("expect"),
    CFG_END ()
  };
  cfg_opt_t frontend_opts[] = {
    LOCATED ("bind_on"),
    LOCATED ("balance"),
    LOCATED ("connect_timeout"),
    LOCATED ("idle_timeout"),
    LOCATED ("backlog"),
    LOCATED ("max_connections"),
    LOCATED ("max_fails"),
    LOCATED ("fail_timeout"),
    LOCATED ("accept_proxy"),
    LOCATED ("send_proxy"),
    LOCATED ("resolve_interval"),
    LOCATED ("freebind"),
    LOCATED ("discover"),
    CFG_SEC ("health_check", health_check_opts, CFGF_MULTI),
    CFG_SEC ("backend", backend_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END ()
  };
  cfg_opt_t opts[] = {
    LOCATED ("log_level"),
    LOCATED ("shutdown_timeout"),
    LOCATED ("max_connections"),
    LOCATED ("workers"),
    LOCATED ("user"),
    LOCATED ("group"),
    LOCATED ("admin_socket"),
    LOCATED ("admin_group"),
    LOCATED ("stats_listen"),
    CFG_SEC ("frontend", frontend_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END ()
  };
  g_autoptr(MbConfigText) text = NULL;
  g_autoptr(MbConfig) config = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ConfuseLoad load = { NULL, errors, seen };
  Located *log_level;
  cfg_t *cfg;
  int status;

  text = mb_config_text_read (path, errors);
  if (text == NULL)
    return NULL;
  if (strspn (text->text, " \t\r\n") == strlen (text->text))
    {
      mb_config_error (errors, path, 0, "the file is empty: nothing to do");
      return NULL;
    }

  g_return_val_if_fail (current_load == NULL, NULL);
  load.text = text;
  current_load = &load;

  cfg = cfg_init (opts, CFGF_NONE);
  cfg_set_error_function (cfg, confuse_error);
  status = cfg_parse_buf (cfg, text->text);
  if (status == CFG_SUCCESS)
    {
      config = mb_config_new (path);
      log_level = get_located (cfg, "log_level");
      if (log_level != NULL && !log_level_from_string (log_level->text, &config->log_level))
        {
          MbSourceLine at = locate (log_level->line);
          mb_config_error (errors, at.file, at.line,
                           "log_level: unknown level '%s' (known: error, warning, message, info, debug)",
                           log_level->text);
        }
      get_duration (cfg, "shutdown_timeout", "", &config->shutdown_timeout_ms, errors);
      get_number (cfg, "max_connections", "", 1, MB_MAX_MAX_CONNECTIONS, &config->max_connections, errors);
      get_workers (cfg, &config->workers, errors);
      get_string (cfg, "user", &config->user, &config->user_file, &config->user_line);
      get_string (cfg, "group", &config->group, &config->group_file, &config->group_line);
      get_string (cfg, "admin_socket", &config->admin_socket, &config->admin_socket_file,
                  &config->admin_socket_line);
      get_string (cfg, "admin_group", &config->admin_group, &config->admin_group_file,
                  &config->admin_group_line);
      {
        Located *stats = get_located (cfg, "stats_listen");

        if (stats != NULL)
          {
            MbSourceLine at = locate (stats->line);

            config->stats = frontend_config_new ("stats_listen", at.file, at.line);
            config->stats->bind_on = g_strdup (stats->text);
          }
      }
      for (guint i = 0; i < cfg_size (cfg, "frontend"); i++)
        read_frontend (config, cfg_getnsec (cfg, "frontend", i), errors);
    }
  else if (errors->len == 0)
    mb_config_error (errors, path, 0, "cannot parse the file");

  cfg_free (cfg);
  current_load = NULL;
  return g_steal_pointer (&config);
}

static gboolean
is_toml_path (const gchar *path)
{
  gsize len = strlen (path);

  return len >= 5 && g_ascii_strcasecmp (path + len - 5, ".toml") == 0;
}

MbConfig *
mb_config_load (const gchar *path, GError **error)
{
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfig) config = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  config = is_toml_path (path) ? mb_toml_load (path, errors) : config_confuse_load (path, errors);
  if (config != NULL)
    mb_config_finish (config, errors);
  if (!mb_config_report (errors, error))
    return NULL;
  return g_steal_pointer (&config);
}
