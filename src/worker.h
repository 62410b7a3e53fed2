/* worker.h - the threads that run sessions (workers = auto | N).
 *
 * The main thread accepts (frontend.c) and picks each client's backend
 * (balancer.c), so round-robin stays exact and the connection limits are
 * plain counters; then it hands the session to the worker with the fewest
 * live sessions.  Each worker is a thread with its own GMainContext and its
 * own epoll set (poller.c), idle clocks and spare buffers (relay.c) and
 * session list (session.c), all thread-local: a session lives and ends on
 * one worker.  Workers share atomic counters, the pipes (pipes.h: caches
 * and a pool that any thread short of descriptors can empty) and
 * posted callbacks to the main thread (mb_worker_run_on_main).  The main
 * thread is worker 0, so with workers = 1 nothing crosses threads.
 *
 * Why not one SO_REUSEPORT listener per worker: with SO_REUSEPORT any other
 * process of the same user may bind the same port and silently take a share
 * of the connections (a second daemon would not fail with "Address already
 * in use"), systemd passes one socket per address, and the limits and the
 * round-robin counter would need cross-thread coordination on every accept.
 * The price here is one hand-over per connection (a GLib idle source).
 *
 * Sources a worker's code creates go to the thread's own context: attach
 * them with mb_worker_attach() (never g_timeout_add(), g_idle_add() or
 * g_source_remove(), which use the main thread's context).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct MbWorker MbWorker;

/* Starts N workers (the calling thread being the first); N = 0: one per
 * CPU.  Call from the main thread, with the main context's loop about to
 * run. */
gboolean mb_workers_start (guint n, GError **error);
/* Ends every worker's sessions (mb_session_close_all in each thread) and
 * joins the threads.  The main thread's own sessions are its caller's. */
void mb_workers_stop (void);
guint mb_workers_count (void);

/* This thread's worker number: 0 for the main thread, else 1 .. count-1. */
guint mb_worker_index (void);
/* Runs FUNC (DATA) on WORKER's thread: now if that is this thread, else
 * from its main loop. */
void mb_worker_run (MbWorker *worker, GSourceFunc func, gpointer data);
/* Runs FUNC (DATA) on the main thread: now if this is the main thread,
 * else from the main loop (whose context is the global default). */
void mb_worker_run_on_main (GSourceFunc func, gpointer data);
gboolean mb_worker_is_main (void);
/* Runs FUNC (DATA) on every worker's thread (the main thread's now), as
 * mb_worker_run() does: mb_workers_count() times, once when none runs. */
void mb_workers_run_each (GSourceFunc func, gpointer data);
/* Runs FUNC (DATA) on the worker numbered INDEX, as mb_worker_run(). */
void mb_worker_run_at (guint index, GSourceFunc func, gpointer data);
/* Runs FUNC (DATA) on every worker's thread and returns once each has run
 * it: from the main thread only (which runs it first, itself).  For what
 * must be done everywhere before the caller goes on: a listener leaves
 * every epoll set before it is closed.  Workers never wait for the main
 * thread, so this cannot deadlock. */
void mb_workers_run_each_wait (GSourceFunc func, gpointer data);

/* Attaches SOURCE to this thread's context and returns it (the caller
 * keeps the reference). */
GSource *mb_worker_attach (GSource *source, GSourceFunc func, gpointer data);
GSource *mb_worker_timeout (guint interval_ms, GSourceFunc func, gpointer data);
/* Destroys and unrefs *SOURCE, if any, and sets it to NULL. */
void mb_worker_clear_source (GSource **source);

G_END_DECLS
