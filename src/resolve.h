/* resolve.h - backend host names resolved again while the daemon runs.
 *
 * With resolve_interval > 0 a frontend has an MbResolve: every interval,
 * each of its backends whose forward_to is a host name is looked up again
 * with GResolver's asynchronous call (getaddrinfo on GLib's thread pool:
 * no loop ever waits for DNS).  At most one lookup per backend is in
 * flight; one that has not answered within MB_RESOLVE_TIMEOUT_MS is
 * cancelled and counts as failed.  New addresses go to the backend for new
 * sessions (mb_backend_set_addresses); live sessions keep the address they
 * connected to.  A failed lookup keeps the last addresses and is logged
 * once, until the name resolves again (then once more).  A name that gave
 * no address at all leaves the backend down ("no address") until it does.
 *
 * discover = "_service._tcp.name": the frontend's SRV records are looked up
 * at start and every interval (one lookup in flight, bounded the same
 * way); each target:port becomes a backend after the written ones
 * (mb_frontend_set_discovered), titled "target:port", weight
 * min(max(w, 1), 256), the lowest priority number primary and the others
 * backups.  A target seen before keeps its backend and state; a new one is
 * down ("no address") until its own lookup, started at once, answers; one
 * no longer in the records takes no new session and keeps its live ones.
 * A failed SRV lookup keeps the backends found before, logged once.
 *
 * Main thread only.  The frontend's current backend list is read at each
 * round, so backends a reload adds or removes are followed without a word.
 */
#pragma once

#include "frontend.h"

G_BEGIN_DECLS

#define MB_RESOLVE_TIMEOUT_MS (10 * 1000)

typedef struct MbResolve MbResolve;

/* Starts FRONTEND's rounds (the first one after one interval: start-up has
 * just resolved every name); NULL when its resolve_interval is 0. */
MbResolve *mb_resolve_start (MbFrontend *frontend);
/* Stops the rounds and cancels the lookups in flight.  NULL is fine. */
void mb_resolve_stop (MbResolve *resolve);
/* discover: the last SRV lookup. */
const MbLookupState *mb_resolve_discover_state (const MbResolve *resolve);

G_END_DECLS
