/* trim.h - giving memory and pooled pipes back once the daemon is quiet.
 *
 * Relay buffers freed by the relay go back to malloc's free lists, and
 * pipes given back go to the pool (pipes.h): both are reused while clients
 * keep coming.  Once no session has started for MB_TRIM_QUIET_MS, the main
 * thread closes the pooled pipes and asks malloc to return its free pages
 * (malloc_trim), so that a daemon past a busy spell goes back to its resting
 * size, whether its sessions have ended or only gone idle.
 *
 * Not per session: trimming whenever the last session ended locked every
 * malloc arena and rebuilt the pipe pool for each client of a daemon whose
 * clients come one at a time.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_TRIM_QUIET_MS 2000

/* Something was freed that could be given back: trim once the daemon is
 * quiet.  From any thread; while a trim is pending, one atomic read. */
void mb_trim_request (void);
/* A session started (main thread): the daemon is not quiet. */
void mb_trim_note_activity (gint64 now_us);
/* Cancels a pending trim (main thread, at exit). */
void mb_trim_stop (void);

G_END_DECLS
