/* resolve.c - backend host names resolved again; see resolve.h. */
#include "build-config.h"

#include <string.h>

#include "address.h"
#include "backend.h"
#include "error.h"
#include "log.h"
#include "resolve.h"
#include "worker.h"

/* A lookup's bound: cancelled after MB_RESOLVE_TIMEOUT_MS.  GLib then
 * answers at once with G_IO_ERROR_CANCELLED; a stuck getaddrinfo() or
 * res_query() ends on its own in GLib's thread pool. */
typedef struct {
  GCancellable *cancellable;
  GSource *timer;
  gboolean timed_out;
} Deadline;

static gboolean
on_deadline (gpointer data)
{
  Deadline *deadline = data;

  g_clear_pointer (&deadline->timer, g_source_unref);
  deadline->timed_out = TRUE;
  g_cancellable_cancel (deadline->cancellable);
  return G_SOURCE_REMOVE;
}

static void
deadline_start (Deadline *deadline)
{
  deadline->cancellable = g_cancellable_new ();
  deadline->timer = mb_worker_timeout (MB_RESOLVE_TIMEOUT_MS, on_deadline, deadline);
}

/* Why a lookup under DEADLINE gave nothing: the deadline, or ERROR. */
static gchar *
deadline_reason (const Deadline *deadline, const GError *error)
{
  if (deadline->timed_out)
    return g_strdup_printf ("no answer within %u ms", MB_RESOLVE_TIMEOUT_MS);
  return g_strdup (error->message);
}

static void
deadline_clear (Deadline *deadline)
{
  mb_worker_clear_source (&deadline->timer);
  g_clear_object (&deadline->cancellable);
}

typedef struct Discovery Discovery;

struct MbResolve {
  MbFrontend *frontend;      /* not referenced: the frontend stops us before it goes */
  guint round;               /* the interval's timer */
  /* discover: */
  Discovery *discovery;      /* the SRV lookup in flight, or NULL */
  MbLookupState discover;    /* the last one; its result: the records */
};

/* The SRV lookup in flight. */
struct Discovery {
  MbResolve *resolve;        /* NULL once stopped: the answer is dropped */
  Deadline deadline;
};

/* One lookup in flight. */
typedef struct {
  MbBackend *backend;        /* a reference */
  Deadline deadline;         /* its cancellable is backend->lookup while it is the backend's */
  gchar *host;
  guint16 port;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  if (lookup->backend->lookup == lookup->deadline.cancellable)
    lookup->backend->lookup = NULL;
  deadline_clear (&lookup->deadline);
  mb_backend_unref (lookup->backend);
  g_free (lookup->host);
  g_free (lookup);
}

/* "127.0.0.2:8080, [::1]:8080" */
static gchar *
addresses_text (GPtrArray *addresses)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < addresses->len; i++)
    {
      g_autofree gchar *one = mb_address_to_string (addresses->pdata[i]);

      g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", one);
    }
  return g_string_free (text, FALSE);
}

/* A lookup ended: OK, RESULT (taken) into STATE.  TRUE when it is to be
 * said: the first failure, or the first success after failures. */
static gboolean
note (MbLookupState *state, gboolean ok, gchar *result)
{
  gboolean changed = state->failing == ok;

  state->at = g_get_real_time ();
  state->ok = ok;
  g_free (state->result);
  state->result = result;
  state->failing = !ok;
  return changed;
}

static void
failed (MbBackend *backend, const gchar *host, const gchar *reason)
{
  if (!note (&backend->last_lookup, FALSE, g_strdup (reason)))
    return;
  {
    g_autoptr(GPtrArray) current = mb_backend_get_addresses (backend);
    g_autofree gchar *kept = addresses_text (current);

    mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
            "frontend %s: backend %s: lookup of %s failed: %s; %s%s", backend->frontend_title, backend->title,
            host, reason, current->len > 0 ? "keeping " : "still no address", kept);
  }
}

static void
resolved (MbBackend *backend, const gchar *host, guint16 port, GList *found)
{
  g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) current = mb_backend_get_addresses (backend);
  g_autofree gchar *text = NULL, *before = NULL;

  for (GList *l = found; l != NULL; l = l->next)
    g_ptr_array_add (addresses, g_inet_socket_address_new (l->data, port));
  text = addresses_text (addresses);
  before = addresses_text (current);
  if (note (&backend->last_lookup, TRUE, g_strdup (text)))
    mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
            "frontend %s: backend %s: %s resolves again: %s", backend->frontend_title, backend->title, host,
            text);
  if (strcmp (text, before) == 0 && !backend->down_dns)
    return;
  if (current->len > 0 && strcmp (text, before) != 0)
    mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", backend->frontend_title, "MB_BACKEND", backend->title, NULL,
            "frontend %s: backend %s: %s now resolves to %s (was %s); new sessions go there",
            backend->frontend_title, backend->title, host, text, before);
  {
    g_autofree gchar *why = g_strdup_printf ("%s resolves to %s", host, text);

    mb_backend_set_addresses (backend, addresses, why);
  }
}

static void
on_resolved (GObject *source, GAsyncResult *result, gpointer data)
{
  Lookup *lookup = data;
  MbBackend *backend = lookup->backend;
  g_autoptr(GError) error = NULL;
  GList *found = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

  if (found == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !lookup->deadline.timed_out)
    ;   /* stopped: the frontend goes, or resolves no more */
  else if (backend->frontend == NULL || g_strcmp0 (backend->host, lookup->host) != 0)
    ;   /* a reload removed the backend, or it follows another name now */
  else if (found == NULL)
    {
      g_autofree gchar *reason = deadline_reason (&lookup->deadline, error);

      failed (backend, lookup->host, reason);
    }
  else
    resolved (backend, lookup->host, lookup->port, found);
  g_resolver_free_addresses (found);
  lookup_free (lookup);
}

static void
lookup_start (MbBackend *backend)
{
  Lookup *lookup = g_new0 (Lookup, 1);

  lookup->backend = mb_backend_ref (backend);
  deadline_start (&lookup->deadline);
  lookup->host = g_strdup (backend->host);
  lookup->port = backend->port;
  backend->lookup = lookup->deadline.cancellable;
  g_resolver_lookup_by_name_async (g_resolver_get_default (), lookup->host, lookup->deadline.cancellable,
                                   on_resolved, lookup);
}

/* ---- discover: backends from SRV records --------------------------------- */

typedef struct {
  gchar *target;             /* without its final dot */
  guint16 port, priority, weight;
} Record;

static void
record_free (gpointer data)
{
  Record *record = data;

  g_free (record->target);
  g_free (record);
}

static gint
record_order (gconstpointer a, gconstpointer b)
{
  const Record *x = *(Record *const *) a, *y = *(Record *const *) b;
  gint c = strcmp (x->target, y->target);

  return c != 0 ? c : (gint) x->port - (gint) y->port;
}

/* The backends RECORDS describe (DESIGN.md: title target:port, weight
 * min(max(w, 1), 256), the lowest priority number primary, the others
 * backups), in the order of their titles so that a reshuffled answer
 * changes nothing. */
static GPtrArray *
discovered_configs (MbResolve *resolve, GPtrArray *records)
{
  MbFrontend *frontend = resolve->frontend;
  GPtrArray *configs = g_ptr_array_new_with_free_func (mb_backend_config_free);
  guint lowest = G_MAXUINT;

  g_ptr_array_sort (records, record_order);
  for (guint i = 0; i < records->len; i++)
    lowest = MIN (lowest, ((Record *) records->pdata[i])->priority);
  for (guint i = 0; i < records->len; i++)
    {
      const Record *record = records->pdata[i];
      MbBackendConfig *config = g_new0 (MbBackendConfig, 1);
      MbBackend *known = NULL;

      config->title = g_strdup_printf ("%s:%u", record->target, record->port);
      if (configs->len > 0 && strcmp (((MbBackendConfig *) configs->pdata[configs->len - 1])->title,
                                      config->title) == 0)
        {
          mb_backend_config_free (config);   /* the same target and port twice */
          continue;
        }
      config->forward_to = g_strdup (config->title);
      config->file = frontend->config->discover_file;
      config->line = frontend->config->discover_line;
      config->weight = CLAMP (record->weight, 1, MB_MAX_WEIGHT);
      config->backup = record->priority != lowest;
      config->send_proxy = frontend->config->send_proxy;
      config->host = g_strdup (record->target);
      config->port = record->port;
      /* A target seen before keeps its addresses; a new one has none until
       * its own lookup, started at once. */
      for (guint j = 0; j < frontend->backends->len && known == NULL; j++)
        {
          MbBackend *backend = frontend->backends->pdata[j];

          if (backend->discovered && strcmp (backend->title, config->title) == 0)
            known = backend;
        }
      config->addresses = known != NULL ? mb_backend_get_addresses (known)
                                        : g_ptr_array_new_with_free_func (g_object_unref);
      if (config->addresses->len == 0)
        config->resolve_error = g_strdup ("not looked up yet");
      g_ptr_array_add (configs, config);
    }
  return configs;
}

static void
discovery_free (Discovery *discovery)
{
  deadline_clear (&discovery->deadline);
  g_free (discovery);
}

static void
discover_failed (MbResolve *resolve, const gchar *reason)
{
  MbFrontend *frontend = resolve->frontend;

  if (!note (&resolve->discover, FALSE, g_strdup (reason)))
    return;
  mb_log (G_LOG_LEVEL_WARNING, "MB_FRONTEND", frontend->title, NULL,
          "frontend %s: discover: lookup of SRV records %s failed: %s; keeping the backends found before",
          frontend->title, frontend->config->discover, reason);
}

static void
discovered (MbResolve *resolve, GList *answer)
{
  MbFrontend *frontend = resolve->frontend;
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (record_free);
  g_autoptr(GPtrArray) configs = NULL;
  GString *found = g_string_new (NULL);

  for (GList *l = answer; l != NULL; l = l->next)
    {
      guint16 priority, weight, port;
      const gchar *target;
      Record *record;
      gsize len;

      g_variant_get (l->data, "(qqq&s)", &priority, &weight, &port, &target);
      len = strlen (target);
      if (len > 0 && target[len - 1] == '.')
        len--;
      /* "." (RFC 2782): the service is decidedly not available there. */
      if (len == 0 || port == 0)
        continue;
      record = g_new0 (Record, 1);
      record->target = g_strndup (target, len);
      record->port = port;
      record->priority = priority;
      record->weight = weight;
      g_ptr_array_add (records, record);
      g_string_append_printf (found, "%s%s:%u (priority %u, weight %u)", found->len ? ", " : "",
                              record->target, port, priority, weight);
    }
  if (found->len == 0)
    g_string_append (found, "no usable record");
  if (note (&resolve->discover, TRUE, g_string_free (found, FALSE)))
    mb_log (G_LOG_LEVEL_MESSAGE, "MB_FRONTEND", frontend->title, NULL,
            "frontend %s: discover: SRV records of %s found again: %s", frontend->title,
            frontend->config->discover, resolve->discover.result);
  configs = discovered_configs (resolve, records);
  mb_frontend_set_discovered (frontend, configs);
  /* New targets: their addresses now rather than at the next round. */
  for (guint i = 0; i < frontend->backends->len; i++)
    {
      MbBackend *backend = frontend->backends->pdata[i];

      if (backend->discovered && backend->down_dns && backend->lookup == NULL)
        lookup_start (backend);
    }
}

static void
on_discovered (GObject *source, GAsyncResult *result, gpointer data)
{
  Discovery *discovery = data;
  MbResolve *resolve = discovery->resolve;
  g_autoptr(GError) error = NULL;
  GList *answer = g_resolver_lookup_records_finish (G_RESOLVER (source), result, &error);

  if (resolve == NULL)
    ;   /* stopped meanwhile */
  else
    {
      resolve->discovery = NULL;
      if (answer != NULL)
        discovered (resolve, answer);
      else
        {
          g_autofree gchar *reason = deadline_reason (&discovery->deadline, error);

          discover_failed (resolve, reason);
        }
    }
  g_list_free_full (answer, (GDestroyNotify) g_variant_unref);
  discovery_free (discovery);
}

static void
discover (MbResolve *resolve)
{
  Discovery *discovery;

  if (resolve->frontend->config->discover == NULL || resolve->discovery != NULL)
    return;
  discovery = g_new0 (Discovery, 1);
  discovery->resolve = resolve;
  deadline_start (&discovery->deadline);
  resolve->discovery = discovery;
  g_resolver_lookup_records_async (g_resolver_get_default (), resolve->frontend->config->discover,
                                   G_RESOLVER_RECORD_SRV, discovery->deadline.cancellable, on_discovered,
                                   discovery);
}

const MbLookupState *
mb_resolve_discover_state (const MbResolve *resolve)
{
  return &resolve->discover;
}

/* ---- rounds ------------------------------------------------------------- */

static gboolean
on_round (gpointer data)
{
  MbResolve *resolve = data;
  GPtrArray *backends = resolve->frontend->backends;

  discover (resolve);
  for (guint i = 0; i < backends->len; i++)
    {
      MbBackend *backend = backends->pdata[i];

      /* One lookup per name at a time: a slow one is not doubled. */
      if (backend->host != NULL && backend->lookup == NULL)
        lookup_start (backend);
    }
  return G_SOURCE_CONTINUE;
}

MbResolve *
mb_resolve_start (MbFrontend *frontend)
{
  guint64 interval = frontend->config->resolve_interval_ms;
  MbResolve *resolve;

  if (interval == 0)
    return NULL;
  resolve = g_new0 (MbResolve, 1);
  resolve->frontend = frontend;
  /* The lookup at load is the first: its outcome is the one to show, and
   * a name that gave nothing is said once now. */
  for (guint i = 0; i < frontend->backends->len; i++)
    {
      MbBackend *backend = frontend->backends->pdata[i];
      g_autoptr(GPtrArray) addresses = NULL;

      if (backend->host == NULL || backend->last_lookup.at != 0)
        continue;
      addresses = mb_backend_get_addresses (backend);
      if (addresses->len > 0)
        note (&backend->last_lookup, TRUE, addresses_text (addresses));
      else
        {
          /* A copy: failed() replaces the result. */
          g_autofree gchar *why = g_strdup (backend->last_lookup.result ? backend->last_lookup.result
                                                                        : "no address");

          failed (backend, backend->host, why);
        }
    }
  resolve->round = g_timeout_add ((guint) MIN (interval, G_MAXUINT), on_round, resolve);
  /* Discovered backends at once: nothing else gives them. */
  discover (resolve);
  return resolve;
}

void
mb_resolve_stop (MbResolve *resolve)
{
  GPtrArray *backends;

  if (resolve == NULL)
    return;
  g_source_remove (resolve->round);
  if (resolve->discovery != NULL)
    {
      resolve->discovery->resolve = NULL;
      g_cancellable_cancel (resolve->discovery->deadline.cancellable);
    }
  g_free (resolve->discover.result);
  backends = resolve->frontend->backends;
  for (guint i = 0; i < backends->len; i++)
    {
      MbBackend *backend = backends->pdata[i];

      if (backend->lookup != NULL)
        g_cancellable_cancel (backend->lookup);
    }
  g_free (resolve);
}
