/* admission.h - which worker may take a new client now: the limits, held
 * and woken listeners, pauses, on every worker at once.
 *
 * Every worker accepts (frontend.c): one listening socket per address, in
 * every worker's epoll set with EPOLLEXCLUSIVE, so that the kernel wakes
 * one waiting worker per new connection, and a busy worker leaves it to an
 * idle one.  A client is then accepted, planned and relayed on the worker
 * that woke: nothing is handed between threads.  What must stay exact
 * across workers is gathered here.
 *
 * Counts.  A place under the limits is taken before the accept() and given
 * back when the session ends (or when the accept() found nobody): the
 * global count of sessions and the frontend's (MbFrontend.live) each go up
 * only by compare-and-swap from a value below their limit, so neither ever
 * exceeds it, whatever the workers do at the same moment.  A worker that
 * finds no place leaves the client in the kernel's backlog: never an
 * accept() only to close.
 *
 * Gates.  A gate is one listener on one worker (its epoll registration):
 * open while its frontend is below its limits and not paused.  A worker
 * that finds no place holds its gate (shut, counted in a global count of
 * held gates) and then looks at the counts once more; a session that ends
 * gives its place back and then, if any gate is held, wakes every worker
 * to look at its held gates.  Both steps are sequentially consistent
 * atomics, so one of the two sees the other: a place given back while a
 * gate is being held is never missed (the gate reopens either at once or
 * at the wake-up).  Wake-ups are coalesced per worker (one pending at a
 * time), so a busy frontend at its limit costs one cross-thread call per
 * worker and burst, not per session.
 *
 * Pauses.  A shortage of descriptors or memory pauses a frontend for a
 * moment (mb_frontend_pause): the frontend's paused flag shuts its gates on
 * every worker, and the main thread's timer reopens them.  The worker that
 * met the shortage shuts its own gates at once (before the main thread
 * hears of it), so that a level-triggered listener cannot spin it.
 *
 * Gates are registered and changed on their own worker only (epoll sets
 * are per thread, poller.h); everything else here works from any thread.
 */
#pragma once

#include <glib.h>

#include "frontend.h"

G_BEGIN_DECLS

typedef struct MbGate MbGate;
/* Opens (watches) or shuts (unwatches) GATE; returns whether it is now
 * open (a watch can fail for lack of kernel memory). */
typedef gboolean (*MbGateFunc) (MbGate *gate, gboolean open);

struct MbGate {
  MbFrontend *frontend;   /* borrowed: the gate's owner outlives the gate */
  MbGateFunc func;
  /* Its worker's: */
  gboolean open;          /* as func last left it */
  gboolean held;          /* shut at a limit, counted among the held gates */
};

/* The limit on the sessions of all frontends together (max_connections).
 * Main thread; reopens the gates that a lower limit held. */
void mb_admission_set_global_limit (guint max_connections);
/* FRONTEND's own limit (0: none), from its configuration; main thread. */
void mb_admission_set_frontend_limit (MbFrontend *frontend, guint max_connections);
/* Sessions now, every frontend and worker together. */
guint mb_admission_sessions (void);

/* Takes a place for a new client of FRONTEND under both limits; FALSE when
 * either is reached.  Any thread. */
gboolean mb_admission_take (MbFrontend *frontend);
/* Gives back a place that found no client after all (accept() said
 * EAGAIN). */
void mb_admission_cancel (MbFrontend *frontend);
/* Gives back the place of a session that ended; TRUE when it was the last
 * session of all. */
gboolean mb_admission_give (MbFrontend *frontend);

/* Registers GATE on this worker and opens or shuts it as its frontend's
 * state says; mb_admission_remove() shuts and forgets it.  On the gate's
 * worker. */
void mb_admission_add (MbGate *gate);
void mb_admission_remove (MbGate *gate);
/* mb_admission_take() failed for GATE's frontend: holds GATE (shut) until
 * a place is free again.  On its worker. */
void mb_admission_hold (MbGate *gate);
/* Shuts this worker's gates of FRONTEND now, for a pause that the main
 * thread is being told of (see the top of this file). */
void mb_admission_pause_here (MbFrontend *frontend);
/* Every worker looks at its gates again (a pause began or ended, a limit
 * or the listeners changed).  Any thread; on the others, from their main
 * loops. */
void mb_admission_update_all (void);
/* Forgets the wake-ups of workers that are gone (mb_workers_stop). */
void mb_admission_reset (void);

G_END_DECLS
