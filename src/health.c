/* health.c - active health checks; see health.h. */
#include "build-config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "address.h"
#include "backend.h"
#include "fds.h"
#include "frontend.h"
#include "health.h"
#include "poller.h"
#include "proxy-protocol.h"
#include "worker.h"

/* The most bytes of an answer searched for expect. */
#define EXPECT_WINDOW 4096

typedef struct {
  MbHealth *health;
  MbBackend *backend;        /* a reference */
  GSource *timer;            /* the next check, or this one's timeout */
  int fd;                    /* -1 between checks */
  MbPollerHandle watch;
  guint8 proxy[MB_PROXY_WRITE_MAX]; /* send_proxy: a v1 UNKNOWN or v2 LOCAL header */
  gsize proxy_len, proxy_sent;
  gsize sent;                /* of the send bytes */
  GByteArray *answer;        /* what came back so far (expect only) */
} Check;

struct MbHealth {
  MbFrontend *frontend;
  const MbHealthCheckConfig *config;
  GPtrArray *checks;         /* Check, one per backend of the frontend */
};

static void schedule (Check *check, guint64 delay_ms);

static void
end_attempt (Check *check)
{
  mb_poller_forget (&check->watch);   /* closed just below */
  if (check->fd >= 0)
    {
      close (check->fd);
      mb_fds_check_give ();
    }
  check->fd = -1;
  check->sent = 0;
  check->proxy_len = check->proxy_sent = 0;
  if (check->answer != NULL)
    g_byte_array_set_size (check->answer, 0);
  mb_worker_clear_source (&check->timer);
}

static void
verdict (Check *check, gboolean ok, const gchar *reason)
{
  const MbHealthCheckConfig *config = check->health->config;
  MbBackend *backend = check->backend;

  end_attempt (check);
  mb_backend_note_check (backend, ok, reason);
  /* The consecutive results live in the backend: a reload that keeps it
   * keeps them. */
  if (ok)
    {
      backend->checks_failed = 0;
      if (++backend->checks_passed >= config->rise && backend->down_active)
        {
          g_autofree gchar *why = g_strdup_printf ("%u successful check%s", backend->checks_passed,
                                                   backend->checks_passed == 1 ? "" : "s");
          mb_backend_set_checked (backend, FALSE, why);
        }
    }
  else
    {
      backend->checks_passed = 0;
      if (++backend->checks_failed >= config->fall && !backend->down_active)
        {
          g_autofree gchar *why = g_strdup_printf ("%u failed check%s: %s", backend->checks_failed,
                                                   backend->checks_failed == 1 ? "" : "s", reason);
          mb_backend_set_checked (backend, TRUE, why);
        }
    }
  schedule (check, config->interval_ms);
}

/* The answer so far holds expect, or (without expect) nothing is needed. */
static gboolean
answered (const Check *check)
{
  GBytes *expect = check->health->config->expect;
  gsize len;
  const guint8 *want;

  if (expect == NULL)
    return TRUE;
  want = g_bytes_get_data (expect, &len);
  return check->answer->len >= len && memmem (check->answer->data, check->answer->len, want, len) != NULL;
}

/* Sends what is left of DATA (SIZE bytes, *SENT of them sent); TRUE when
 * all of it is.  FALSE: wait for G_IO_OUT again, or the verdict is given. */
static gboolean
send_some (Check *check, const guint8 *data, gsize size, gsize *sent)
{
  ssize_t n;

  if (*sent >= size)
    return TRUE;
  n = send (check->fd, data + *sent, size - *sent, MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EINTR)
    {
      verdict (check, FALSE, g_strerror (errno));
      return FALSE;
    }
  if (n > 0)
    *sent += (gsize) n;
  return *sent >= size;
}

static void
on_io (MbPollerHandle *handle, GIOCondition condition)
{
  Check *check = handle->data;
  const MbHealthCheckConfig *config = check->health->config;
  gint errnum = mb_address_take_error (check->fd);

  if (errnum != 0)
    {
      verdict (check, FALSE, g_strerror (errnum));
      return;
    }
  /* Connected: send what there is to send, the backend's PROXY header
   * first. */
  if (!send_some (check, check->proxy, check->proxy_len, &check->proxy_sent))
    return;
  if (config->send != NULL)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (config->send, &size);

      if (!send_some (check, data, size, &check->sent))
        return;
    }
  if (config->expect == NULL)
    {
      verdict (check, TRUE, NULL);
      return;
    }
  if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    {
      guint8 buffer[1024];
      ssize_t n = recv (check->fd, buffer, MIN (sizeof buffer, EXPECT_WINDOW - check->answer->len), 0);

      if (n < 0 && errno != EAGAIN && errno != EINTR)
        {
          verdict (check, FALSE, g_strerror (errno));
          return;
        }
      if (n > 0)
        g_byte_array_append (check->answer, buffer, (guint) n);
      if (answered (check))
        {
          verdict (check, TRUE, NULL);
          return;
        }
      if (n == 0 || check->answer->len >= EXPECT_WINDOW)
        {
          verdict (check, FALSE, "the answer did not contain the expected bytes");
          return;
        }
    }
  /* Wait for (more of) the answer. */
  mb_poller_watch (&check->watch, G_IO_IN, NULL);
}

static gboolean
on_timeout (gpointer data)
{
  Check *check = data;
  g_autofree gchar *reason = g_strdup_printf ("no %s within %" G_GUINT64_FORMAT " ms",
                                              check->fd >= 0 && check->sent > 0 ? "expected answer" : "answer",
                                              check->health->config->timeout_ms);

  g_clear_pointer (&check->timer, g_source_unref);
  verdict (check, FALSE, reason);
  return G_SOURCE_REMOVE;
}

static gboolean
on_due (gpointer data)
{
  Check *check = data;
  g_autoptr(GPtrArray) addresses = mb_backend_get_addresses (check->backend);
  GSocketAddress *address = addresses->len > 0 ? addresses->pdata[0] : NULL;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&check->timer, g_source_unref);
  /* In maintenance: no check (an operator works on it); without an
   * address (its name resolves to none yet: down already, resolve.h),
   * nothing to check.  Look again at the next interval. */
  if (check->backend->admin == MB_BACKEND_MAINT || address == NULL)
    {
      schedule (check, check->health->config->interval_ms);
      return G_SOURCE_REMOVE;
    }
  check->timer = mb_worker_timeout ((guint) check->health->config->timeout_ms, on_timeout, check);
  /* Its descriptor from the budget (fds.h) first: a check never takes
   * one that an accepted session counts on. */
  if (mb_fds_check_take ())
    {
      check->fd = mb_address_socket (address);
      if (check->fd < 0)
        mb_fds_check_give ();
    }
  if (check->fd < 0)
    {
      /* Out of descriptors or memory ourselves: says nothing of the
       * backend.  No verdict; try again next interval. */
      end_attempt (check);
      schedule (check, check->health->config->interval_ms);
      return G_SOURCE_REMOVE;
    }
  if (mb_address_connect (check->fd, address) < 0 && errno != EINPROGRESS)
    {
      verdict (check, FALSE, g_strerror (errno));
      return G_SOURCE_REMOVE;
    }
  {
    MbProxyVersion version = (MbProxyVersion) g_atomic_int_get (&check->backend->send_proxy);

    if (version != MB_PROXY_NONE)
      check->proxy_len = mb_proxy_write (version, NULL, NULL, check->proxy);
  }
  mb_poller_handle_init (&check->watch, check->fd, on_io, check);
  if (!mb_poller_watch (&check->watch, G_IO_OUT, &error))
    verdict (check, FALSE, error->message);
  return G_SOURCE_REMOVE;
}

static void
schedule (Check *check, guint64 delay_ms)
{
  mb_worker_clear_source (&check->timer);
  check->timer = mb_worker_timeout ((guint) delay_ms, on_due, check);
}

static Check *
check_new (MbHealth *health, MbBackend *backend)
{
  Check *check = g_new0 (Check, 1);

  check->health = health;
  check->backend = mb_backend_ref (backend);
  check->fd = -1;
  if (health->config->expect != NULL)
    check->answer = g_byte_array_new ();
  return check;
}

static void
check_free (gpointer data)
{
  Check *check = data;

  end_attempt (check);
  if (check->answer != NULL)
    g_byte_array_unref (check->answer);
  mb_backend_unref (check->backend);
  g_free (check);
}

MbHealth *
mb_health_start (MbFrontend *frontend)
{
  MbHealth *health = g_new0 (MbHealth, 1);
  guint n = frontend->backends->len;

  health->frontend = frontend;
  health->config = frontend->config->health_check;
  health->checks = g_ptr_array_new_with_free_func (check_free);
  for (guint i = 0; i < n; i++)
    {
      Check *check = check_new (health, frontend->backends->pdata[i]);

      g_ptr_array_add (health->checks, check);
      /* The first round at once, spread over a tenth of the interval. */
      schedule (check, health->config->interval_ms * i / (10 * n));
    }
  return health;
}

void
mb_health_update (MbHealth *health, const MbHealthCheckConfig *config)
{
  GPtrArray *backends = health->frontend->backends;
  g_autoptr(GPtrArray) old = g_steal_pointer (&health->checks);

  health->config = config;
  health->checks = g_ptr_array_new_with_free_func (check_free);
  for (guint i = 0; i < backends->len; i++)
    {
      MbBackend *backend = backends->pdata[i];
      Check *check = NULL;

      /* A kept backend keeps its check, timer and all. */
      for (guint j = 0; j < old->len && check == NULL; j++)
        if (((Check *) old->pdata[j])->backend == backend)
          check = g_ptr_array_steal_index_fast (old, j);
      if (check == NULL)
        {
          check = check_new (health, backend);
          schedule (check, config->interval_ms * i / (10 * backends->len));
        }
      g_ptr_array_add (health->checks, check);
    }
  /* What is left in OLD: checks of removed backends, stopped as it goes. */
}

void
mb_health_stop (MbHealth *health)
{
  if (health == NULL)
    return;
  g_ptr_array_unref (health->checks);
  g_free (health);
}
