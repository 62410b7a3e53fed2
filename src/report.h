/* report.h - frontends and backends as JSON: one writer for every reader.
 *
 * The control socket's `show frontends` and `show backends` and the HTTP
 * statistics' status.json describe frontends and backends with the same
 * members (DESIGN.md: add, never rename), written here once from a
 * snapshot (snapshot.h) with json-glib.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "snapshot.h"

G_BEGIN_DECLS

/* A member NAME of the object BUILDER is in: a string (null when VALUE is
 * NULL), an integer, a boolean. */
void mb_report_add_string (JsonBuilder *builder, const gchar *name, const gchar *value);
void mb_report_add_int (JsonBuilder *builder, const gchar *name, gint64 value);
void mb_report_add_bool (JsonBuilder *builder, const gchar *name, gboolean value);

/* "2026-11-28T06:45:17Z" for a real time in microseconds; newly allocated. */
gchar *mb_report_time (gint64 real_us);

/* Adds the member "frontends": [{title, bind_on, balance, state, sessions,
 * connections, failed, bytes_received, bytes_sent}, ...] to the object
 * BUILDER is in. */
void mb_report_frontends (JsonBuilder *builder, const MbSnapshot *snapshot);
/* Adds the member "backends": [{frontend, title, address, forward_to, state,
 * why, weight, backup, sessions, connections, connect_failures, bytes_sent,
 * bytes_received, last_check}, ...], only FRONTEND's when not NULL. */
void mb_report_backends (JsonBuilder *builder, const MbSnapshot *snapshot, const gchar *frontend);

G_END_DECLS
