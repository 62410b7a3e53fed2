/* worker.h - the threads that run sessions (workers = auto | N).
 *
 * Every worker accepts, plans and relays its own clients: each listening
 * socket is in every worker's epoll set with EPOLLEXCLUSIVE (the kernel
 * wakes one waiting worker per connection), the limits are kept exact by
 * the admission module (admission.h) and the plan by a lock per frontend
 * (frontend.h).  Each worker is a thread with its own GMainContext and its
 * own epoll set (poller.c), idle clocks and spare buffers (relay.c) and
 * session list (session.c), all thread-local: a session lives and ends on
 * the worker that accepted it, or on a lighter one when the workers'
 * counts drift apart (MB_WORKER_SPREAD below).  Workers share atomic
 * counters, the pipes (pipes.h: caches and a pool that any thread short of
 * descriptors can empty) and posted callbacks to the main thread
 * (mb_worker_run_on_main).  The main thread is worker 0, so with
 * workers = 1 nothing crosses threads.
 *
 * Why not one SO_REUSEPORT listener per worker: with SO_REUSEPORT any other
 * process of the same user may bind the same port and silently take a share
 * of the connections (a second daemon would not fail with "Address already
 * in use"), systemd passes one socket per address, and closing one of the
 * listeners (a reload, a drain) resets the clients in its queue.  One
 * shared socket has one queue, which any worker drains.
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

/* A worker keeps the session it accepted unless it has more than
 * MB_WORKER_SPREAD sessions more than the worker with the fewest: then
 * that one takes it.  The kernel wakes whichever worker waits first, so a
 * burst of connections (a client pool opening, idle connections parked)
 * can land on one worker; short connections end before the counts drift
 * apart, so they stay where they were accepted (no hand-over), and
 * long-lived ones are spread within MB_WORKER_SPREAD + 1 of each other. */
#define MB_WORKER_SPREAD 2
/* The worker that runs a session this worker accepted (this one, or a
 * lighter one; NULL before mb_workers_start): counts the session in.
 * mb_worker_session_ended() counts it out. */
MbWorker *mb_worker_take_session (void);
void mb_worker_session_ended (MbWorker *worker);
/* WORKER is this thread's (or NULL). */
gboolean mb_worker_is_here (MbWorker *worker);
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
