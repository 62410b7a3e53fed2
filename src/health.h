/* health.h - active health checks of a frontend's backends.
 *
 * With a health_check section, every backend of the frontend is checked
 * every interval, on the main thread: a connect to its first address, then
 * the send bytes if any, then, if expect is set, reading until those bytes
 * appear in what the backend answers (at most 4 KiB, until EOF or the
 * timeout).  The whole check must finish within timeout.  fall consecutive
 * failures mark the backend down, rise consecutive successes mark it up
 * again (backend.h); backends start up.  Checks of one frontend are spread
 * over the interval rather than all at once.  A check's socket counts in
 * the descriptor budget (fds.h); without room there, or without a
 * descriptor at all, the check skips its turn with no verdict.
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

typedef struct MbFrontend MbFrontend;
typedef struct MbHealth MbHealth;

/* Starts checking FRONTEND's backends (its config has a health_check). */
MbHealth *mb_health_start (MbFrontend *frontend);
/* A reload kept FRONTEND's health_check section as it checks (CONFIG, in
 * the new configuration, is the one to read from now) and maybe changed
 * its backends: kept backends keep their checks as they are (no extra
 * round), added ones get one, removed ones' stop. */
void mb_health_update (MbHealth *health, const MbHealthCheckConfig *config);
/* Stops every check at once (closing their sockets). */
void mb_health_stop (MbHealth *health);

G_END_DECLS
