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
 * Every pipe, in use or pooled, holds two descriptors of the descriptor
 * budget (fds.h), and one is made only while the budget keeps room for the
 * sessions still to come: otherwise mb_pipes_take() says no and the relay
 * uses its buffered pump (same bytes, more CPU).  The accept loop empties
 * the pool before it lets a client wait for want of descriptors, so a pipe
 * can delay an accept but never cost an accepted client its connection.
 * One pool and one budget for all threads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bytes a pump may have in its pipe: the default pipe size on Linux. */
#define MB_PIPE_SIZE (64 * 1024)

typedef struct {
  int read_fd, write_fd;
} MbPipe;

/* Whether the splice path is on: Linux, MB_RELAY_SPLICE is not "0", and
 * the descriptor budget leaves room for pipes at all (fds.h). */
gboolean mb_pipes_enabled (void);
/* The relay path in use and why, for the start-up line: "splice() through
 * pipes (descriptor limit 20000; 31 held at start, reserve 64; sessions
 * take 2 each)", "copying through buffers (MB_RELAY_SPLICE=0)"...  Call
 * once the budget's base is set.  Newly allocated. */
gchar *mb_pipes_describe (void);
/* Pipes in the pool now (they count among the budget's open pipes). */
guint mb_pipes_pooled (void);

/* Fills PIPE with an empty pipe; FALSE when the budget has no room for one
 * or the system cannot make one (the caller then copies through its
 * buffer). */
gboolean mb_pipes_take (MbPipe *pipe);
/* Gives back an empty pipe. */
void mb_pipes_give (MbPipe *pipe);
/* Closes a pipe that may still hold bytes (a session ended mid-flight). */
void mb_pipes_discard (MbPipe *pipe);
/* Closes the pooled pipes; TRUE when there were any.  Called once the
 * daemon is quiet (trim.h), and when a descriptor is short: pooled pipes are a
 * cache, sessions come first.  From any thread. */
gboolean mb_pipes_trim (void);

G_END_DECLS
