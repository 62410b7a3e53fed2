/* metrics.h - the Prometheus text exposition (format 0.0.4) of a snapshot.
 *
 * GET /metrics answers with this text, rendered on the HTTP thread from a
 * snapshot taken on the main thread (snapshot.h).  Pure: no I/O, no clock,
 * no locale, so check tests it byte for byte and promtool lints it.
 *
 * Invariants (DESIGN.md "Statistics over HTTP" names the families; the
 * working spec's "/metrics" fixes the rest):
 *  - Every family has its # HELP and # TYPE, in the spec's fixed order,
 *    even with no sample (no frontend, no backend yet): a dashboard never
 *    sees a family come and go.  Families added since the spec
 *    (mini_balancer_relay_bytes_total) come after its own, so that its
 *    order stays a prefix.  A family's samples follow its TYPE line as one
 *    group; frontends and backends in the snapshot's order.
 *  - Label values are escaped (\\ \" \n) and valid UTF-8: an invalid byte
 *    in a title becomes U+FFFD rather than void the whole scrape.
 *  - Counters are written in full as unsigned 64-bit integers.  Seconds
 *    (the histogram's `le` and `_sum`) are written exactly from integer
 *    microseconds ("0.0025", "1", "2.5"), never through the C library's
 *    locale-dependent printf; start_time through g_ascii_formatd.
 *  - The connect histogram's buckets are cumulative and its `_count` is
 *    its +Inf bucket: the snapshot reads each counter on its own without a
 *    lock, so its count may be a connect ahead of or behind its buckets,
 *    and Prometheus takes +Inf and _count to be the same number.
 */
#pragma once

#include <glib.h>

#include "snapshot.h"

G_BEGIN_DECLS

/* The whole exposition of SNAPSHOT, ending in a newline; newly allocated
 * (g_free). */
gchar *mb_metrics_render (const MbSnapshot *snapshot);

G_END_DECLS
