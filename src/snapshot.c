/* snapshot.c - the daemon's state as plain data; see snapshot.h. */
#include "build-config.h"

#include "address.h"
#include "daemon.h"
#include "frontend.h"
#include "relay.h"
#include "resolve.h"
#include "session.h"
#include "snapshot.h"
#include "worker.h"

static void
lookup_clear (MbLookupSnapshot *lookup)
{
  g_free (lookup->name);
  g_free (lookup->result);
}

/* NAME's last lookup, STATE (NULL: none yet), into TO. */
static void
lookup_copy (MbLookupSnapshot *to, const gchar *name, const MbLookupState *state)
{
  to->name = g_strdup (name);
  if (state == NULL)
    return;
  to->at = state->at;
  to->ok = state->ok;
  to->result = g_strdup (state->result);
}

static void
backend_snapshot_free (gpointer data)
{
  MbBackendSnapshot *b = data;

  g_free (b->frontend);
  g_free (b->title);
  g_free (b->address);
  g_free (b->forward_to);
  g_free (b->why);
  g_free (b->last_check_detail);
  lookup_clear (&b->lookup);
  g_free (b);
}

static void
frontend_snapshot_free (gpointer data)
{
  MbFrontendSnapshot *f = data;

  g_free (f->title);
  g_free (f->bind_on);
  lookup_clear (&f->discover);
  g_array_unref (f->history);
  g_free (f);
}

MbSnapshot *
mb_snapshot_new (void)
{
  MbSnapshot *snapshot = g_new0 (MbSnapshot, 1);

  snapshot->version = PACKAGE_VERSION;
  snapshot->taken_at = g_get_real_time ();
  snapshot->frontends = g_ptr_array_new_with_free_func (frontend_snapshot_free);
  snapshot->backends = g_ptr_array_new_with_free_func (backend_snapshot_free);
  return snapshot;
}

void
mb_snapshot_free (MbSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_ptr_array_unref (snapshot->frontends);
  g_ptr_array_unref (snapshot->backends);
  g_free (snapshot);
}

MbFrontendSnapshot *
mb_snapshot_add_frontend (MbSnapshot *snapshot, const gchar *title)
{
  MbFrontendSnapshot *f = g_new0 (MbFrontendSnapshot, 1);

  f->title = g_strdup (title);
  f->balance = "round-robin";
  f->state = "listening";
  f->history = g_array_new (FALSE, FALSE, sizeof (MbHistorySample));
  g_ptr_array_add (snapshot->frontends, f);
  return f;
}

MbBackendSnapshot *
mb_snapshot_add_backend (MbSnapshot *snapshot, const gchar *frontend, const gchar *title)
{
  MbBackendSnapshot *b = g_new0 (MbBackendSnapshot, 1);

  b->frontend = g_strdup (frontend);
  b->title = g_strdup (title);
  b->state = "up";
  b->weight = 1;
  g_ptr_array_add (snapshot->backends, b);
  return b;
}

static void
copy_histogram (MbConnectHistogram *to, const MbConnectHistogram *from)
{
  for (guint i = 0; i < MB_CONNECT_BUCKETS; i++)
    to->buckets[i] = mb_counter_get (&from->buckets[i]);
  to->sum_us = mb_counter_get (&from->sum_us);
  to->count = mb_counter_get (&from->count);
}

static void
take_backend (MbSnapshot *snapshot, MbBackend *backend)
{
  MbBackendSnapshot *b = mb_snapshot_add_backend (snapshot, backend->frontend_title, backend->title);
  g_autoptr(GPtrArray) addresses = mb_backend_get_addresses (backend);

  if (addresses->len > 0)
    b->address = mb_address_to_string (addresses->pdata[0]);
  b->forward_to = g_strdup (backend->forward_to);
  b->state = mb_backend_state_name (backend);
  if (backend->admin != MB_BACKEND_ENABLED)
    b->why = g_strdup ("set with the control socket");
  else if (mb_backend_is_down (backend))
    b->why = g_strdup (backend->why_down);
  b->weight = backend->weight;
  b->backup = backend->backup;
  b->sessions = (guint) g_atomic_int_get (&backend->live);
  b->connections = mb_counter_get (&backend->connections);
  b->connect_failures = mb_counter_get (&backend->connect_failures);
  b->bytes_sent = mb_counter_get (&backend->bytes_sent);
  b->bytes_received = mb_counter_get (&backend->bytes_received);
  b->check_failures = mb_counter_get (&backend->check_failures);
  b->last_check_at = backend->last_check_at;
  b->last_check_ok = backend->last_check_ok;
  b->last_check_detail = g_strdup (backend->last_check_detail);
  if (backend->host != NULL)
    lookup_copy (&b->lookup, backend->host, &backend->last_lookup);
  copy_histogram (&b->connect_time, &backend->connect_time);
}

MbSnapshot *
mb_snapshot_take (MbDaemon *daemon)
{
  MbSnapshot *snapshot = mb_snapshot_new ();
  GPtrArray *frontends = mb_daemon_get_frontends (daemon);
  gint64 started_monotonic;
  guint succeeded, failed;

  mb_daemon_get_start (daemon, &snapshot->start_time, &started_monotonic);
  snapshot->workers = mb_workers_count ();
  snapshot->sessions = mb_session_count ();
  mb_daemon_reload_count (daemon, &succeeded, &failed);
  snapshot->reloads_ok = succeeded;
  snapshot->reloads_failed = failed;
  snapshot->relay_bytes_spliced = mb_relay_bytes_spliced ();
  snapshot->relay_bytes_copied = mb_relay_bytes_copied ();
  for (guint i = 0; i < frontends->len; i++)
    {
      MbFrontend *frontend = frontends->pdata[i];
      MbFrontendSnapshot *f = mb_snapshot_add_frontend (snapshot, frontend->title);

      f->bind_on = g_strdup (frontend->config->bind_on);
      f->balance = mb_balance_name (frontend->config->balance);
      f->state = mb_frontend_state_name (frontend);
      f->sessions = (guint) g_atomic_int_get (&frontend->live);
      f->connections = mb_counter_get (&frontend->connections);
      f->failed = mb_counter_get (&frontend->failed);
      f->bytes_received = mb_counter_get (&frontend->bytes_received);
      f->bytes_sent = mb_counter_get (&frontend->bytes_sent);
      f->proxy_errors = mb_counter_get (&frontend->proxy_errors);
      if (frontend->config->discover != NULL)
        lookup_copy (&f->discover, frontend->config->discover,
                     frontend->resolve != NULL ? mb_resolve_discover_state (frontend->resolve) : NULL);
      mb_frontend_copy_history (frontend, f->history);
      for (guint j = 0; j < frontend->backends->len; j++)
        take_backend (snapshot, frontend->backends->pdata[j]);
    }
  return snapshot;
}
