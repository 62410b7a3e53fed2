/* fuzz-common.c - sandbox, offline resolver and config checks for the
 * harnesses; see fuzz-common.h. */
#include "build-config.h"

#include "fuzz-common.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "duration.h"
#include "error.h"

/* ---- a resolver without a network -------------------------------------- */

typedef struct {
  GResolver parent_instance;
} FuzzResolver;

typedef struct {
  GResolverClass parent_class;
} FuzzResolverClass;

static GType fuzz_resolver_get_type (void);
G_DEFINE_TYPE (FuzzResolver, fuzz_resolver, G_TYPE_RESOLVER)

static GList *
fuzz_resolver_lookup_by_name (GResolver *resolver, const gchar *hostname,
                              GCancellable *cancellable, GError **error)
{
  if (g_ascii_strcasecmp (hostname, FUZZ_RESOLVABLE_NAME) == 0)
    return g_list_append (NULL, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4));
  g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
               "%s: not resolved while fuzzing", hostname);
  return NULL;
}

static GList *
fuzz_resolver_lookup_by_name_with_flags (GResolver *resolver, const gchar *hostname,
                                         GResolverNameLookupFlags flags,
                                         GCancellable *cancellable, GError **error)
{
  return fuzz_resolver_lookup_by_name (resolver, hostname, cancellable, error);
}

static void
fuzz_resolver_class_init (FuzzResolverClass *klass)
{
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  resolver_class->lookup_by_name = fuzz_resolver_lookup_by_name;
  resolver_class->lookup_by_name_with_flags = fuzz_resolver_lookup_by_name_with_flags;
}

static void
fuzz_resolver_init (FuzzResolver *resolver)
{
}

/* ---- the private directory --------------------------------------------- */

static gchar *private_dir;

/* Files an input can reach with include("NAME"). */
static const struct { const gchar *name; const gchar *text; } fixtures[] = {
  { "backend.conf", "backend included { forward_to = \"127.0.0.1:8080\" }\n" },
  { "frontend.conf", "frontend included {\n  bind_on = \"127.0.0.1:7071\"\n  include(\"backend.conf\")\n}\n" },
  { "loop.conf", "# includes the input, which may include this file\ninclude(\"input.conf\")\n" },
  { "open.conf", "frontend open {\n" },
  { "empty.conf", "" },
};

static void
remove_private_dir (void)
{
  GDir *dir;
  const gchar *name;

  if (private_dir == NULL)
    return;
  dir = g_dir_open (private_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (private_dir, name, NULL);
      g_remove (path);
    }
  if (dir != NULL)
    g_dir_close (dir);
  g_rmdir (private_dir);
  g_clear_pointer (&private_dir, g_free);
}

void
fuzz_setup (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GResolver) resolver = NULL;

  /* A critical or a warning is a bug here like a crash is. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

  resolver = g_object_new (fuzz_resolver_get_type (), NULL);
  g_resolver_set_default (resolver);

  private_dir = g_dir_make_tmp ("mb-fuzz-XXXXXX", &error);
  if (private_dir == NULL)
    g_error ("fuzz: cannot make a temporary directory: %s", error->message);
  atexit (remove_private_dir);
  for (gsize i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      g_autofree gchar *path = g_build_filename (private_dir, fixtures[i].name, NULL);

      if (!g_file_set_contents (path, fixtures[i].text, -1, &error))
        g_error ("fuzz: %s", error->message);
    }
}

gchar *
fuzz_string (const uint8_t *data, size_t size)
{
  if (memchr (data, '\0', size) != NULL)
    return NULL;
  return g_strndup ((const gchar *) data, size);
}

/* ---- checks on a loaded configuration ---------------------------------- */

static void
check_frontend (const MbFrontendConfig *frontend)
{
  g_assert_nonnull (frontend->title);
  g_assert_nonnull (frontend->file);
  g_assert_cmpint (frontend->line, >, 0);
  g_assert_nonnull (frontend->bind_on);
  g_assert_cmpuint (frontend->bind_port, >, 0);
  g_assert_nonnull (frontend->bind_addresses);
  /* "*:port" and nothing else binds every address. */
  g_assert_true (frontend->bind_any == (frontend->bind_addresses->len == 0));
  g_assert_cmpint (frontend->balance, <=, MB_BALANCE_SOURCE_HASH);
  g_assert_cmpuint (frontend->fail_timeout_ms, >, 0);
  if (frontend->health_check != NULL)
    {
      const MbHealthCheckConfig *check = frontend->health_check;

      g_assert_cmpuint (check->interval_ms, >, 0);
      g_assert_cmpuint (check->timeout_ms, >, 0);
      g_assert_cmpuint (check->rise, >=, 1);
      g_assert_cmpuint (check->fall, >=, 1);
      g_assert_true (check->send == NULL || g_bytes_get_size (check->send) > 0);
      g_assert_true (check->expect == NULL || g_bytes_get_size (check->expect) > 0);
    }
  g_assert_cmpuint (frontend->connect_timeout_ms, >, 0);
  g_assert_cmpuint (frontend->connect_timeout_ms, <=, MB_DURATION_MAX_MS);
  g_assert_cmpuint (frontend->idle_timeout_ms, <=, MB_DURATION_MAX_MS);
  g_assert_cmpuint (frontend->backlog, >=, 1);
  g_assert_cmpuint (frontend->backlog, <=, MB_MAX_BACKLOG);
  g_assert_cmpuint (frontend->max_connections, <=, MB_MAX_MAX_CONNECTIONS);
  g_assert_cmpuint (frontend->backends->len, >, 0);

  for (guint i = 0; i < frontend->backends->len; i++)
    {
      const MbBackendConfig *backend = frontend->backends->pdata[i];

      g_assert_nonnull (backend->title);
      g_assert_nonnull (backend->file);
      g_assert_cmpint (backend->line, >, 0);
      g_assert_nonnull (backend->forward_to);
      g_assert_nonnull (backend->addresses);
      g_assert_cmpuint (backend->addresses->len, >, 0);
      g_assert_cmpuint (backend->weight, >=, 1);
      g_assert_cmpuint (backend->weight, <=, MB_MAX_WEIGHT);
      for (guint j = 0; j < i; j++)
        g_assert_cmpstr (backend->title, !=, ((MbBackendConfig *) frontend->backends->pdata[j])->title);
    }
}

static void
check_config (const MbConfig *config)
{
  g_assert_nonnull (config->path);
  g_assert_cmpint (config->log_level, <=, MB_LOG_LEVEL_DEBUG);
  g_assert_cmpuint (config->shutdown_timeout_ms, <=, MB_DURATION_MAX_MS);
  g_assert_cmpuint (config->max_connections, >=, 1);
  g_assert_cmpuint (config->max_connections, <=, MB_MAX_MAX_CONNECTIONS);
  /* A user or group that is set was found, and says where it was set. */
  if (config->user != NULL)
    {
      g_assert_nonnull (config->user_file);
      g_assert_cmpint (config->user_line, >, 0);
    }
  if (config->group != NULL)
    {
      g_assert_nonnull (config->group_file);
      g_assert_cmpint (config->group_line, >, 0);
    }
  g_assert_cmpuint (config->frontends->len, >, 0);
  for (guint i = 0; i < config->frontends->len; i++)
    {
      const MbFrontendConfig *frontend = config->frontends->pdata[i];

      check_frontend (frontend);
      for (guint j = 0; j < i; j++)
        g_assert_cmpstr (frontend->title, !=, ((MbFrontendConfig *) config->frontends->pdata[j])->title);
    }
}

void
fuzz_load_config (const uint8_t *data, size_t size, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (private_dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MbConfig) config = NULL;
  FILE *file = fopen (path, "wb");

  if (file == NULL || fwrite (data, 1, size, file) != size || fclose (file) != 0)
    g_error ("fuzz: cannot write %s", path);

  config = mb_config_load (path, &error);
  if (config != NULL)
    {
      g_assert_null (error);
      check_config (config);
    }
  else
    {
      /* Every failure is explained, in the config domain. */
      g_assert_nonnull (error);
      g_assert_true (error->domain == MB_ERROR);
      g_assert_cmpint (error->code, ==, MB_ERROR_CONFIG);
      g_assert_cmpstr (error->message, !=, "");
    }
  g_unlink (path);
}
