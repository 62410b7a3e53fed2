/* fds.c - the descriptor budget; see fds.h. */
#include "build-config.h"

#include <dirent.h>

#include "fds.h"

/* Kept for descriptors nobody counts (fds.h): a sixteenth of the limit,
 * at least a few even for tiny limits, at most what such uses need. */
#define RESERVE_MIN 4
#define RESERVE_MAX 64
/* Counts stay in a gint: a larger limit is as good as none. */
#define LIMIT_MAX (G_MAXINT / 2)

/* Set at start-up, before any take; read from any thread afterwards. */
static guint64 limit = G_MAXUINT64;
static gint cap = LIMIT_MAX;    /* what in_use may reach: limit - reserve */
static guint reserve = RESERVE_MAX;
static guint base;

/* Atomic. */
static gint in_use;             /* base + every counted use */
static gint sessions, checks, pipes, clients;
static gint max_sessions = MB_DEFAULT_MAX_CONNECTIONS;

void
mb_fds_init (guint64 new_limit, guint new_max_sessions)
{
  gint64 bounded = (gint64) MIN (new_limit, (guint64) LIMIT_MAX);

  limit = new_limit;
  reserve = (guint) CLAMP (bounded / 16, RESERVE_MIN, RESERVE_MAX);
  cap = (gint) MAX (bounded - (gint64) reserve, 0);
  base = 0;
  g_atomic_int_set (&in_use, 0);
  g_atomic_int_set (&sessions, 0);
  g_atomic_int_set (&checks, 0);
  g_atomic_int_set (&clients, 0);
  g_atomic_int_set (&pipes, 0);
  mb_fds_set_max_sessions (new_max_sessions);
}

void
mb_fds_set_max_sessions (guint new_max_sessions)
{
  g_atomic_int_set (&max_sessions, (gint) MIN (new_max_sessions, (guint) LIMIT_MAX));
}

void
mb_fds_set_base (guint new_base)
{
  guint bounded = MIN (new_base, (guint) LIMIT_MAX);

  g_atomic_int_add (&in_use, (gint) bounded - (gint) base);
  base = bounded;
}

guint
mb_fds_count_held (guint fallback)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  guint n = 0;

  if (dir == NULL)
    return fallback;
  while ((entry = readdir (dir)) != NULL)
    {
      gchar *end;
      guint64 fd = g_ascii_strtoull (entry->d_name, &end, 10);

      /* Not ".", "..", nor the directory's own descriptor; nor valgrind's,
       * which it keeps above the limit it shows us. */
      if (end != entry->d_name && *end == '\0' && (int) fd != dirfd (dir) && fd < limit)
        n++;
    }
  closedir (dir);
  return n;
}

guint
mb_fds_estimate (const MbConfig *config, guint workers)
{
  /* stdin, stdout, stderr; GLib's signal thread's wake-up eventfd; an
   * epoll set and a GLib wake-up eventfd per thread (the main one is
   * worker 0); then the listeners. */
  guint n = 3 + 1 + 2 * MAX (workers, 1);

  for (guint i = 0; i < config->frontends->len; i++)
    {
      const MbFrontendConfig *frontend = config->frontends->pdata[i];

      n += frontend->bind_any ? 1 : frontend->bind_addresses->len;
    }
  return n;
}

/* Takes N descriptors if, after them, KEEP more still fit. */
static gboolean
take (gint n, gint64 keep)
{
  for (;;)
    {
      gint now = g_atomic_int_get (&in_use);

      if ((gint64) now + n + keep > cap)
        return FALSE;
      if (g_atomic_int_compare_and_exchange (&in_use, now, now + n))
        return TRUE;
    }
}

static void
give (gint n)
{
  g_atomic_int_add (&in_use, -n);
}

gboolean
mb_fds_session_take (void)
{
  if (!take (MB_FDS_SESSION, 0))
    return FALSE;
  g_atomic_int_inc (&sessions);
  return TRUE;
}

void
mb_fds_session_give (void)
{
  g_atomic_int_add (&sessions, -1);
  give (MB_FDS_SESSION);
}

gboolean
mb_fds_check_take (void)
{
  if (!take (1, 0))
    return FALSE;
  g_atomic_int_inc (&checks);
  return TRUE;
}

void
mb_fds_check_give (void)
{
  g_atomic_int_add (&checks, -1);
  give (1);
}

gboolean
mb_fds_client_take (void)
{
  if (!take (1, 0))
    return FALSE;
  g_atomic_int_inc (&clients);
  return TRUE;
}

void
mb_fds_client_give (void)
{
  g_atomic_int_add (&clients, -1);
  give (1);
}

/* Descriptors a new pipe must leave free: room for the sessions still to
 * come, up to a burst of MB_FDS_HEADROOM. */
static gint64
headroom (gint live)
{
  gint64 coming = MAX ((gint64) g_atomic_int_get (&max_sessions) - live, 0);

  return MB_FDS_SESSION * MIN (coming, MB_FDS_HEADROOM);
}

gboolean
mb_fds_pipe_take (void)
{
  /* A session counted a moment late only makes this stricter or looser by
   * its two descriptors for one decision: the invariant is take()'s. */
  if (!take (MB_FDS_PIPE, headroom (g_atomic_int_get (&sessions))))
    return FALSE;
  g_atomic_int_inc (&pipes);
  return TRUE;
}

void
mb_fds_pipe_give (void)
{
  g_atomic_int_add (&pipes, -1);
  give (MB_FDS_PIPE);
}

gboolean
mb_fds_pipes_possible (void)
{
  /* With no session live the rule is at its loosest: each session adds
   * its own two to in_use at least as fast as it lowers the headroom. */
  return (gint64) base + MB_FDS_PIPE + headroom (0) <= cap;
}

void
mb_fds_get_figures (MbFdsFigures *figures)
{
  gint64 room = ((gint64) cap - base) / MB_FDS_SESSION;

  figures->limit = limit;
  figures->base = base;
  figures->reserve = reserve;
  figures->in_use = (guint) MAX (g_atomic_int_get (&in_use), 0);
  figures->sessions = (guint) MAX (g_atomic_int_get (&sessions), 0);
  figures->checks = (guint) MAX (g_atomic_int_get (&checks), 0);
  figures->clients = (guint) MAX (g_atomic_int_get (&clients), 0);
  figures->pipes = (guint) MAX (g_atomic_int_get (&pipes), 0);
  figures->max_sessions = (guint) g_atomic_int_get (&max_sessions);
  figures->room = (guint) MAX (room, 0);
}

gchar *
mb_fds_describe (void)
{
  MbFdsFigures f;
  g_autofree gchar *limit_text = NULL;

  mb_fds_get_figures (&f);
  limit_text = f.limit == G_MAXUINT64 ? g_strdup ("none") : g_strdup_printf ("%" G_GUINT64_FORMAT, f.limit);
  return g_strdup_printf ("limit %s, reserve %u, %u held at start: room for %u sessions; %u in use "
                          "(%u session%s, %u health check%s, %u pipe%s)",
                          limit_text, f.reserve, f.base, f.room, f.in_use, f.sessions, f.sessions == 1 ? "" : "s",
                          f.checks, f.checks == 1 ? "" : "s", f.pipes, f.pipes == 1 ? "" : "s");
}
