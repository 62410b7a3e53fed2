/* log.c - the log writer and the log thread; see log.h. */
#include "build-config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define MAX_FIELDS 12
/* What may wait for the log thread: some 5,000 to 10,000 lines. */
#define QUEUE_MAX_BYTES (1024 * 1024)
#define QUEUE_MAX_ENTRIES 16384
/* The log thread writes its lines in chunks of about this much. */
#define LINES_FLUSH_BYTES (16 * 1024)
/* mb_log_shutdown() and a fatal message wait no longer for the queue. */
#define FLUSH_TIMEOUT_US G_USEC_PER_SEC
/* After writing, the log thread looks again this much later before it
 * sleeps until woken: a line may come out this late. */
#define NAP_US (5 * 1000)
/* While the queue never empties, drops are still reported this often. */
#define DROP_REPORT_US (10 * G_USEC_PER_SEC)

/* One event, in one allocation: the fields' keys and values (journal) or
 * the message (stderr) follow it. */
typedef struct {
  GList link;                /* in queue */
  GLogLevelFlags level;
  gint64 time;               /* of the event: real time, microseconds */
  gsize size;                /* the allocation's, counted against QUEUE_MAX_BYTES */
  const gchar *message;
  gsize n_fields;            /* journal only */
  GLogField fields[];
} Entry;

typedef enum {
  SYNCHRONOUS,               /* no log thread: the writer writes */
  QUEUED,                    /* the log thread writes */
  STALLED,                   /* shut down while the output was stalled: drop */
} Mode;

static GLogLevelFlags threshold = G_LOG_LEVEL_MESSAGE;
static gboolean to_journal;

/* Shared with the log thread, under the lock: */
static GMutex lock;
static GCond work_cond;      /* the log thread waits for entries */
static GCond idle_cond;      /* shutdown and fatal messages wait for an idle log thread */
static Mode mode = SYNCHRONOUS;
static GQueue queue = G_QUEUE_INIT;
static gsize queued_bytes;   /* the sizes of the entries queued or being written */
static guint writing;        /* entries taken off the queue, being written */
static guint64 dropped;      /* since the last report */
static gboolean thread_idle; /* asleep until woken, nothing left to do */
static gboolean stopping;
static GThread *thread;

void
mb_log_set_level (MbLogLevel level)
{
  static const GLogLevelFlags flags[] = {
    G_LOG_LEVEL_CRITICAL, G_LOG_LEVEL_WARNING, G_LOG_LEVEL_MESSAGE,
    G_LOG_LEVEL_INFO, G_LOG_LEVEL_DEBUG,
  };

  threshold = flags[MIN (level, MB_LOG_LEVEL_DEBUG)];
}

gboolean
mb_log_enabled (GLogLevelFlags level)
{
  /* GLib's level flags grow as severity falls: ERROR < CRITICAL < ... < DEBUG. */
  return (level & G_LOG_LEVEL_MASK) <= threshold;
}

static const gchar *
level_name (GLogLevelFlags level)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return "error";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "notice";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

static gsize
field_length (const GLogField *field)
{
  return field->length < 0 ? strlen (field->value) : (gsize) field->length;
}

/* Takes what the event's line or journal entry needs, now: the caller's
 * fields are gone once the writer returns. */
static Entry *
entry_new (GLogLevelFlags level, const GLogField *fields, gsize n_fields)
{
  gsize n_copied = to_journal ? n_fields : 0;
  gsize size = sizeof (Entry) + n_copied * sizeof (GLogField);
  const gchar *message = "(no message)";
  gsize message_length = strlen (message);
  Entry *entry;
  gchar *text;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (strcmp (fields[i].key, "MESSAGE") == 0)
        {
          message = fields[i].value;
          message_length = field_length (&fields[i]);
        }
      if (n_copied > 0)
        size += strlen (fields[i].key) + 1 + field_length (&fields[i]) + 1;
    }
  if (n_copied == 0)
    size += message_length + 1;

  entry = g_malloc (size);
  entry->link = (GList) { .data = entry };
  entry->level = level;
  entry->time = g_get_real_time ();
  entry->size = size;
  entry->n_fields = n_copied;
  text = (gchar *) &entry->fields[n_copied];
  if (n_copied == 0)
    {
      entry->message = text;
      memcpy (text, message, message_length);
      text[message_length] = '\0';
      return entry;
    }
  entry->message = "(no message)";
  for (gsize i = 0; i < n_fields; i++)
    {
      gsize key_length = strlen (fields[i].key), value_length = field_length (&fields[i]);

      entry->fields[i].key = memcpy (text, fields[i].key, key_length + 1);
      text += key_length + 1;
      entry->fields[i].value = memcpy (text, fields[i].value, value_length);
      text[value_length] = '\0';
      entry->fields[i].length = fields[i].length;
      if (fields[i].value == message)
        entry->message = text;
      text += value_length + 1;
    }
  return entry;
}

/* write() until all is written: a pipe may take part of a line, a signal
 * may interrupt.  EAGAIN only when someone else made the descriptor
 * non-blocking: wait for room, as a blocking write would. */
static void
write_all (int fd, const gchar *text, gsize length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, text, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          struct pollfd pfd = { .fd = fd, .events = POLLOUT };

          if (poll (&pfd, 1, -1) < 0 && errno != EINTR)
            return;
          continue;
        }
      if (n <= 0)
        return;      /* EPIPE, EBADF...: nowhere to log to */
      text += n;
      length -= (gsize) n;
    }
}

/* "2026-11-25 12:00:00" for SECONDS; kept per thread, since consecutive
 * lines mostly share their second. */
static const gchar *
stamp (gint64 seconds)
{
  static __thread gint64 cached_seconds = -1;
  static __thread gchar cached[32];

  if (seconds != cached_seconds)
    {
      g_autoptr(GDateTime) date = g_date_time_new_from_unix_local (seconds);
      g_autofree gchar *text = date ? g_date_time_format (date, "%Y-%m-%d %H:%M:%S") : NULL;

      g_strlcpy (cached, text ? text : "(no time)", sizeof cached);
      cached_seconds = seconds;
    }
  return cached;
}

static void
flush_lines (GString *lines)
{
  write_all (STDERR_FILENO, lines->str, lines->len);
  g_string_truncate (lines, 0);
}

/* To the journal, else as a line into LINES, written out when it is full. */
static void
entry_write (const Entry *entry, GString *lines)
{
  if (entry->n_fields > 0)
    {
      if (lines->len > 0)
        flush_lines (lines);
      if (g_log_writer_journald (entry->level, entry->fields, entry->n_fields, NULL) == G_LOG_WRITER_HANDLED)
        return;
    }
  g_string_append_printf (lines, "%s.%03d %s: %s\n", stamp (entry->time / G_USEC_PER_SEC),
                          (gint) (entry->time % G_USEC_PER_SEC / 1000), level_name (entry->level),
                          entry->message);
  if (lines->len >= LINES_FLUSH_BYTES)
    flush_lines (lines);
}

static void
entry_write_now (const Entry *entry)
{
  g_autoptr(GString) lines = g_string_new (NULL);

  entry_write (entry, lines);
  flush_lines (lines);
}

static void
write_dropped (guint64 count)
{
  g_autofree gchar *message = g_strdup_printf ("%" G_GUINT64_FORMAT " log message%s dropped: "
                                               "the log output was not keeping up",
                                               count, count == 1 ? "" : "s");
  const GLogField fields[] = {
    { "MESSAGE", message, -1 },
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "4", -1 },
  };
  g_autofree Entry *entry = entry_new (G_LOG_LEVEL_WARNING, fields, G_N_ELEMENTS (fields));

  entry_write_now (entry);
}

static gpointer
log_thread (gpointer data)
{
  g_autoptr(GString) lines = g_string_sized_new (LINES_FLUSH_BYTES + 1024);
  gint64 last_report = g_get_monotonic_time ();
  gboolean napped = TRUE;

  g_mutex_lock (&lock);
  for (;;)
    {
      GQueue batch;
      gsize batch_bytes = 0;

      if (dropped > 0
          && (queue.length == 0 || g_get_monotonic_time () - last_report >= DROP_REPORT_US))
        {
          guint64 count = dropped;

          dropped = 0;
          g_mutex_unlock (&lock);
          write_dropped (count);
          last_report = g_get_monotonic_time ();
          g_mutex_lock (&lock);
          continue;
        }
      if (queue.length == 0 && stopping)
        break;
      if (queue.length == 0 && !napped)
        {
          /* Lines logged during the nap wait for its end: under a steady
           * flow the loops then never pay for waking us (a futex wake and
           * a context switch cost a caller several microseconds). */
          napped = TRUE;
          g_cond_wait_until (&work_cond, &lock, g_get_monotonic_time () + NAP_US);
          continue;
        }
      if (queue.length == 0)
        {
          /* Nothing came: sleep until a writer wakes us. */
          thread_idle = TRUE;
          g_cond_broadcast (&idle_cond);
          g_cond_wait (&work_cond, &lock);
          thread_idle = FALSE;
          continue;
        }
      napped = FALSE;
      /* All of it at once: one lock for many entries, and few write()s.
       * Still counted while written: the bound is on all the memory that
       * waits for the output, the batch's included. */
      batch = queue;
      g_queue_init (&queue);
      writing = batch.length;
      g_mutex_unlock (&lock);
      for (GList *link = batch.head, *next; link != NULL; link = next)
        {
          Entry *entry = link->data;

          next = link->next;
          entry_write (entry, lines);
          batch_bytes += entry->size;
          g_free (entry);
        }
      flush_lines (lines);
      g_mutex_lock (&lock);
      queued_bytes -= batch_bytes;
      writing = 0;
    }
  g_mutex_unlock (&lock);
  return NULL;
}

/* Waits, until DEADLINE at most, for the log thread to have written what
 * is queued; with the lock held.  FALSE if it did not. */
static gboolean
wait_idle_locked (gint64 deadline)
{
  g_cond_signal (&work_cond);      /* no need to finish a nap */
  while (!(thread_idle && queue.length == 0 && dropped == 0))
    if (!g_cond_wait_until (&idle_cond, &lock, deadline))
      return thread_idle && queue.length == 0 && dropped == 0;
  return TRUE;
}

/* A fatal message: the process aborts right after it, so it is written
 * here, after what was queued before it.  Not when the output is stalled:
 * the process must abort (and be restarted), not hang. */
static void
write_fatal (const Entry *entry)
{
  gboolean stalled = FALSE;

  if (g_thread_self () != thread)
    {
      g_mutex_lock (&lock);
      if (mode == QUEUED)
        stalled = !wait_idle_locked (g_get_monotonic_time () + FLUSH_TIMEOUT_US);
      else
        stalled = mode == STALLED;
      g_mutex_unlock (&lock);
    }
  if (!stalled)
    entry_write_now (entry);
}

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  Entry *entry;
  Mode now;
  gboolean wake = FALSE;

  if (!mb_log_enabled (level))
    return G_LOG_WRITER_HANDLED;
  entry = entry_new (level, fields, n_fields);
  if (level & (G_LOG_FLAG_FATAL | G_LOG_LEVEL_ERROR))
    {
      write_fatal (entry);
      g_free (entry);
      return G_LOG_WRITER_HANDLED;
    }

  g_mutex_lock (&lock);
  now = mode;
  if (now == QUEUED && queued_bytes + entry->size <= QUEUE_MAX_BYTES
      && queue.length + writing < QUEUE_MAX_ENTRIES)
    {
      g_queue_push_tail_link (&queue, &entry->link);
      queued_bytes += entry->size;
      wake = thread_idle;
      entry = NULL;
    }
  else if (now == QUEUED)
    dropped++;
  g_mutex_unlock (&lock);

  /* Woken only from idle: while it writes, it looks at the queue anyway. */
  if (wake)
    g_cond_signal (&work_cond);
  if (entry != NULL && now == SYNCHRONOUS)
    entry_write_now (entry);
  g_free (entry);
  return G_LOG_WRITER_HANDLED;
}

void
mb_log_init (void)
{
  g_autoptr(GError) error = NULL;

  to_journal = g_log_writer_is_journald (fileno (stderr));
  g_log_set_writer_func (writer, NULL, NULL);
  thread = g_thread_try_new ("mb-log", log_thread, NULL, &error);
  if (thread == NULL)
    {
      g_warning ("cannot start the log thread (%s): logging synchronously", error->message);
      return;
    }
  g_mutex_lock (&lock);
  mode = QUEUED;
  g_mutex_unlock (&lock);
}

void
mb_log_shutdown (void)
{
  gboolean drained;

  if (thread == NULL)
    return;
  g_mutex_lock (&lock);
  drained = wait_idle_locked (g_get_monotonic_time () + FLUSH_TIMEOUT_US);
  mode = drained ? SYNCHRONOUS : STALLED;
  stopping = TRUE;
  g_cond_signal (&work_cond);
  g_mutex_unlock (&lock);
  if (drained)
    g_thread_join (thread);
  else
    g_thread_unref (thread);   /* blocked in write(): exit() ends it */
  thread = NULL;
}

void
mb_log_fields (GLogLevelFlags level, const gchar *key, ...)
{
  GLogField fields[MAX_FIELDS + 3];
  gsize n = 0;
  const gchar *format;
  g_autofree gchar *message = NULL;
  va_list args;

  va_start (args, key);
  for (; key != NULL && n < MAX_FIELDS; key = va_arg (args, const gchar *))
    {
      fields[n].key = key;
      fields[n].value = va_arg (args, const gchar *);
      fields[n].length = -1;
      n++;
    }
  format = va_arg (args, const gchar *);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fields[n++] = (GLogField) { "MESSAGE", message, -1 };
  fields[n++] = (GLogField) { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 };
  fields[n++] = (GLogField) { "PRIORITY", "6", -1 };
  /* g_log_structured_array() derives nothing itself: set the priority to
   * match the level so that journal filtering works. */
  fields[n - 1].value = level & G_LOG_LEVEL_CRITICAL ? "2"
                        : level & G_LOG_LEVEL_WARNING ? "4"
                        : level & G_LOG_LEVEL_MESSAGE ? "5"
                        : level & G_LOG_LEVEL_INFO ? "6" : "7";
  g_log_structured_array (level, fields, n);
}
