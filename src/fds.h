/* fds.h - the descriptor budget.
 *
 * Every descriptor the daemon opens after start-up is counted here before
 * it is opened, so that a pipe for splice() can never cost a client its
 * connection:
 *  - limit: the soft RLIMIT_NOFILE in force (after
 *    mb_privileges_raise_fd_limit);
 *  - base: what the daemon really holds once it is set up (stdio, each
 *    thread's epoll set and GLib wake-up eventfd, every listener, GLib's
 *    signal thread...), counted in /proc/self/fd;
 *  - reserve: a few descriptors left for transient uses that are not
 *    counted (sd_notify's socket, the resolver, the journal, control and
 *    HTTP clients), clamp (limit / 16, 4, 64);
 *  - counted uses: a session takes 2 (client and backend socket) when its
 *    client is accepted and gives them back when it ends (it closes one
 *    backend socket before it opens the next, so 2 cover every failover);
 *    a health check takes 1 while its socket is open; a control-socket or
 *    HTTP client 1 while connected; a pipe takes 2 while it is open, in use
 *    or pooled.
 *
 * Invariant: base + counted uses <= limit - reserve.  A take that would
 * break it fails and opens nothing: the accept loop then leaves the client
 * in the listen backlog (frontend.c), a health check skips its turn, a pump
 * copies through its buffer instead of a pipe.  A pipe is taken only when,
 * after it, room remains for 2 x min (max_connections - live sessions,
 * MB_FDS_HEADROOM) more descriptors: pipes give way to sessions as the
 * daemon fills up.
 *
 * Pure accounting on atomic counters: takes and gives come from any thread
 * (sessions end on workers, pumps take pipes on workers).  mb_fds_init()
 * and mb_fds_set_base() are called at start-up, on the main thread, before
 * anything is taken.
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

/* Descriptors per session, per pipe. */
#define MB_FDS_SESSION 2
#define MB_FDS_PIPE 2
/* Sessions that pipes always leave room for (a burst of accepts). */
#define MB_FDS_HEADROOM 256

typedef struct {
  guint64 limit;        /* the soft RLIMIT_NOFILE (G_MAXUINT64: none) */
  guint base;           /* held at start */
  guint reserve;        /* kept for uncounted, transient uses */
  guint in_use;         /* base + what is counted now */
  guint sessions;       /* sessions holding their 2 */
  guint checks;         /* health checks with a socket open */
  guint clients;        /* control-socket and HTTP clients */
  guint pipes;          /* pipes open: in use and pooled (mb_pipes_pooled) */
  guint max_sessions;   /* max_connections */
  guint room;           /* sessions that fit besides the base (max 0) */
} MbFdsFigures;

/* Sets the LIMIT and max_connections, and starts the counts from nothing
 * (base 0 until mb_fds_set_base). */
void mb_fds_init (guint64 limit, guint max_sessions);
/* max_connections, at start-up and when a reload changes it. */
void mb_fds_set_max_sessions (guint max_sessions);
/* What the daemon holds once it is set up, before any take. */
void mb_fds_set_base (guint base);

/* Descriptors open in this process below the limit (valgrind keeps its own
 * above it), counted in /proc/self/fd; FALLBACK when that cannot be read. */
guint mb_fds_count_held (guint fallback);
/* An estimate of what the daemon holds once set up with CONFIG and WORKERS
 * threads: the fallback when /proc is absent. */
guint mb_fds_estimate (const MbConfig *config, guint workers);

/* TRUE when taken; FALSE when the budget has no room (nothing changed). */
gboolean mb_fds_session_take (void);
void mb_fds_session_give (void);
gboolean mb_fds_check_take (void);
void mb_fds_check_give (void);
/* A control-socket or HTTP statistics client: 1 while connected. */
gboolean mb_fds_client_take (void);
void mb_fds_client_give (void);
gboolean mb_fds_pipe_take (void);
void mb_fds_pipe_give (void);
/* Whether the pipe rule lets any pipe be made, even with no session live:
 * FALSE when the limit holds no more than the base, the reserve and the
 * headroom sessions. */
gboolean mb_fds_pipes_possible (void);

/* The figures now, for the logs and `show info`. */
void mb_fds_get_figures (MbFdsFigures *figures);
/* "limit 20000, reserve 64, 31 held at start: room for 9952 sessions; 35
 * in use (1 session, 0 health checks, 1 pipe)"; newly allocated. */
gchar *mb_fds_describe (void);

G_END_DECLS
