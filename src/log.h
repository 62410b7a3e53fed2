/* log.h - where and how much mini-balancer logs.
 *
 * Everything goes through GLib structured logging (domain "mini-balancer").
 * One writer decides: below the configured level, nothing; when stderr is
 * the journal, native journal entries with their structured fields; else one
 * line per event on stderr.  mb_log_enabled() lets the hot path skip building
 * messages nobody will read.
 */
#pragma once

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

void mb_log_init (void);
void mb_log_set_level (MbLogLevel level);
gboolean mb_log_enabled (GLogLevelFlags level);

/* mb_log (G_LOG_LEVEL_INFO, "FRONTEND", name, NULL, "frontend %s: ...", name);
 * KEY/VALUE pairs become journal fields; the message is printf-formatted. */
#define mb_log(level, ...) \
  G_STMT_START { if (mb_log_enabled (level)) mb_log_fields (level, __VA_ARGS__); } G_STMT_END

void mb_log_fields (GLogLevelFlags level, const gchar *key, ...);

G_END_DECLS
