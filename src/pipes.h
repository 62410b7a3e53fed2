/* pipes.h - a pool of kernel pipes for the relay's splice() path.
 *
 * splice() moves bytes socket -> pipe -> socket without copying them through
 * user space; each pump needs a pipe only while bytes are in flight, so
 * pipes are taken when a pump reads and given back as soon as it is empty:
 * an idle session holds none.  Given-back pipes are kept for reuse (a pipe
 * costs two descriptors and two system calls to make), up to a bound, and
 * closed once the daemon has been quiet a while (mb_pipes_trim from trim.c)
 * so that an idle daemon holds only its start-up descriptors.
 *
 * The number of pipes in use and pooled is bounded in all (main.c gives them
 * only descriptors that max_connections sessions can never need): past it, mb_pipes_take() says no and the
 * relay uses its buffered pump, so pipes can never starve accept() of
 * descriptors.  One pool and one bound for all threads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bytes a pump may have in its pipe: the default pipe size on Linux. */
#define MB_PIPE_SIZE (64 * 1024)

typedef struct {
  int read_fd, write_fd;
} MbPipe;

/* Whether the splice path is on (Linux, and MB_RELAY_SPLICE is not "0"). */
gboolean mb_pipes_enabled (void);
/* Sets the bound on pipes in use and pooled, for all threads. */
void mb_pipes_set_limit (guint max_pipes);

/* Fills PIPE with an empty pipe; FALSE at the bound or when the system
 * cannot make one (the caller then copies through its buffer). */
gboolean mb_pipes_take (MbPipe *pipe);
/* Gives back an empty pipe. */
void mb_pipes_give (MbPipe *pipe);
/* Closes a pipe that may still hold bytes (a session ended mid-flight). */
void mb_pipes_discard (MbPipe *pipe);
/* Closes the pooled pipes; TRUE when there were any.  Called once the
 * daemon is quiet, and when a descriptor is short: pooled pipes are a
 * cache, sessions come first. */
gboolean mb_pipes_trim (void);

G_END_DECLS
