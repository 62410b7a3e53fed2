/* pipes.h - kernel pipes for the relay's splice() path: a small cache per
 * thread in front of one shared pool.
 *
 * splice() moves bytes socket -> pipe -> socket without copying them through
 * user space; a pump needs a pipe only while bytes are in flight, so pipes
 * are taken when a pump reads into one and given back as soon as it is
 * empty: an idle session holds none.  Given-back pipes are kept for reuse
 * (a pipe costs two descriptors and two system calls to make): first in
 * the giving thread's cache (MB_PIPES_CACHED), then in the shared pool, up
 * to a bound; both are closed once the daemon has been quiet a while
 * (mb_pipes_trim from trim.c), so that an idle daemon holds only its
 * start-up descriptors.
 *
 * Why a cache per thread: a pump in a bulk transfer takes and gives a pipe
 * each time its pipe empties, many times a second, and the pool's lock and
 * cache line are shared by every worker.  A take or a give that the
 * thread's cache serves touches nothing another thread writes.
 *
 * Every pipe, in use, cached or pooled, holds two descriptors of the
 * descriptor budget (fds.h), and one is made only while the budget keeps
 * room for the sessions still to come: otherwise mb_pipes_take() says no
 * and the relay uses its buffered pump (same bytes, more CPU).  The accept
 * loop, and a session that cannot open its backend socket, empty every
 * idle pipe before they give up for want of descriptors, so a pipe can
 * delay an accept but never cost an accepted client its connection.  That
 * is why the caches, too, can be emptied from any thread, at once: a
 * cache's slots are atomic words that its thread fills and empties with
 * compare-and-swap and exchange, mb_pipes_trim() empties them with an
 * exchange of its own, and whoever exchanges a pipe out of a slot owns
 * it; a registry of the caches, behind the pool's lock (taken to register,
 * unregister and trim, never to take or give), lets it find them.  Not
 * chosen: asking each worker to empty its own cache (mb_workers_run_each)
 * frees the descriptors only after the caller has tried again and failed;
 * bounding the caches to fit the budget's headroom would leave a full
 * daemon short of up to MB_PIPES_CACHED pipes per thread for as long as
 * its workers stay busy.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bytes a pump may have in its pipe: the default pipe size on Linux. */
#define MB_PIPE_SIZE (64 * 1024)
/* Idle pipes each thread keeps for itself before the shared pool. */
#define MB_PIPES_CACHED 8

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
/* Idle pipes now, pooled or in a thread's cache (they count among the
 * budget's open pipes). */
guint mb_pipes_pooled (void);

/* Fills PIPE with an empty pipe; FALSE when the budget has no room for one
 * or the system cannot make one (the caller then copies through its
 * buffer). */
gboolean mb_pipes_take (MbPipe *pipe);
/* Gives back an empty pipe. */
void mb_pipes_give (MbPipe *pipe);
/* Closes a pipe that may still hold bytes (a session ended mid-flight). */
void mb_pipes_discard (MbPipe *pipe);
/* Closes every idle pipe, pooled or cached by any thread; TRUE when there
 * were any.  Called once the daemon is quiet (trim.h), and when a
 * descriptor is short: idle pipes are a cache, sessions come first.  From
 * any thread. */
gboolean mb_pipes_trim (void);
/* Closes this thread's cached pipes and forgets its cache: at the end of
 * each thread that may have taken pipes (mb_relay_thread_cleanup does). */
void mb_pipes_thread_cleanup (void);

G_END_DECLS
