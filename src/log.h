/* log.h - where and how much mini-balancer logs, without ever blocking a loop.
 *
 * Everything goes through GLib structured logging (domain "mini-balancer").
 * One writer decides: below the configured level, nothing; when stderr is
 * the journal, native journal entries with their structured fields; else one
 * line per event on stderr.  mb_log_enabled() lets the hot path skip building
 * messages nobody will read.
 *
 * The loops never wait for the log's reader.  Between mb_log_init() and
 * mb_log_shutdown() the writer, on whatever thread logs, only takes what it
 * needs at the time of the event (level, real time, message; in the journal
 * a copy of the fields) into a queue; a dedicated thread, "mb-log", writes
 * the queue out in order, in batches, and is the only one that may block
 * (on a stderr pipe nobody reads, on a slow journald).  The queue is
 * bounded (1 MiB of entries, 16,384 entries, those being written included):
 * when it is full a message is dropped and counted, and once the queue has
 * drained (or every 10 s while it never does) the log thread writes one
 * warning "N log messages dropped: the log output was not keeping up".
 * Dropped messages are the only ones lost; those written keep their order.
 * After a batch the log thread naps 5 ms before it sleeps until woken, so
 * that under a steady flow no caller pays for waking it: a line may come
 * out that late.  Timestamps on stderr are the event's; the journal stamps
 * an entry when the log thread hands it over.
 *
 * Why a thread and not non-blocking writes: O_NONBLOCK belongs to the open
 * file description, which stderr shares with the shell or service manager
 * that started us (they would see EAGAIN too), and it does nothing for a
 * regular file on a slow disk; GLib's journal socket is GLib's own.  A
 * non-blocking write may also take half a line, and the rest would need a
 * queue and a poll source on every thread that logs.  The queue and one
 * thread do it once, for every sink.
 *
 * Before mb_log_init(), after mb_log_shutdown(), and for fatal messages
 * (g_error(), G_DEBUG=fatal-*), output is synchronous.  What main.c prints
 * itself (usage, -t, configuration errors) does not go through here.
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

/* Installs the writer and starts the log thread (synchronous output if the
 * thread cannot start). */
void mb_log_init (void);
/* Writes what is queued, waiting at most about a second (a stalled stderr
 * must not hang the exit: the rest is then lost), and stops the log thread.
 * Later messages are written synchronously, or dropped if the output was
 * stalled.  At the end of main(). */
void mb_log_shutdown (void);
void mb_log_set_level (MbLogLevel level);
gboolean mb_log_enabled (GLogLevelFlags level);

/* mb_log (G_LOG_LEVEL_INFO, "FRONTEND", name, NULL, "frontend %s: ...", name);
 * KEY/VALUE pairs become journal fields; the message is printf-formatted. */
#define mb_log(level, ...) \
  G_STMT_START { if (mb_log_enabled (level)) mb_log_fields (level, __VA_ARGS__); } G_STMT_END

void mb_log_fields (GLogLevelFlags level, const gchar *key, ...);

G_END_DECLS
