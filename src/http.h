/* http.h - statistics over HTTP (stats_listen): metrics, status page, JSON.
 *
 * A libsoup-3 server on a thread of its own ("mb-http", with its own
 * GMainContext), not on the main loop: an HTTP client, however slow,
 * stuck or numerous, costs no session anything, and the main thread keeps
 * waiting in one epoll_wait() per iteration (poller.h), which a libsoup
 * source in its context would turn into a poll() of every descriptor.
 * (DESIGN.md says "on the main loop"; this is the deviation, for those two
 * reasons.)  What a request needs from the daemon is a snapshot
 * (snapshot.h) taken on the main thread and handed back; metrics text,
 * JSON and the page are made on the HTTP thread.
 *
 * Routes: GET/HEAD /metrics (Prometheus text 0.0.4, metrics.c), / (the
 * status page, a GResource), /status.json; other paths 404, other methods
 * 405.  Bounded: 64 connections at once (more are closed at once), request
 * headers of 16 KiB, no request body (413), 30 s per connection.
 *
 * The listening sockets are bound by mb_http_new() on the main thread
 * (before privileges are dropped, like frontends'); mb_http_start() starts
 * the thread.
 */
#pragma once

#include <glib.h>

#include "config.h"
#include "daemon.h"

G_BEGIN_DECLS

typedef struct MbHttp MbHttp;

/* Binds LISTEN's addresses (stats_listen) for DAEMON; NULL with ERROR set,
 * naming the address, when one cannot be bound. */
MbHttp *mb_http_new (MbDaemon *daemon, const MbFrontendConfig *listen, GError **error);
/* Starts the HTTP thread. */
gboolean mb_http_start (MbHttp *http, GError **error);
/* Stops the thread, closes every connection and the sockets. */
void mb_http_free (MbHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbHttp, mb_http_free)

G_END_DECLS
