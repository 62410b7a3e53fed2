/* log.c - the log writer; see log.h. */
#include "build-config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define MAX_FIELDS 12

static GLogLevelFlags threshold = G_LOG_LEVEL_MESSAGE;
static gboolean to_journal;

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

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const gchar *message = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autofree gchar *stamp = NULL;

  if (!mb_log_enabled (level))
    return G_LOG_WRITER_HANDLED;
  if (to_journal && g_log_writer_journald (level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;

  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  now = g_date_time_new_now_local ();
  stamp = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  fprintf (stderr, "%s.%03d %s: %s\n", stamp, g_date_time_get_microsecond (now) / 1000,
           level_name (level), message ? message : "(no message)");
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

void
mb_log_init (void)
{
  to_journal = g_log_writer_is_journald (fileno (stderr));
  g_log_set_writer_func (writer, NULL, NULL);
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
