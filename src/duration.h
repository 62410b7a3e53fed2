/* duration.h - parsing of configuration durations ("500ms", "30s", "5m", "1h").
 *
 * A duration is a non-negative integer with at most one unit: ms, s, m or h.
 * A bare integer means seconds.  No fractions, no combined forms ("1h30m"),
 * no signs, no white space; at most MB_DURATION_MAX_MS.  Pure: no I/O.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_DURATION_MAX_MS (30ULL * 24 * 3600 * 1000) /* 30 days */

gboolean mb_duration_parse (const gchar *text, guint64 *out_ms, GError **error);

G_END_DECLS
