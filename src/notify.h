/* notify.h - readiness and status for the service manager (sd_notify).
 *
 * No-ops when mini-balancer is built without libsystemd or when the service
 * manager did not ask (no NOTIFY_SOCKET in the environment).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void mb_notify_ready (const gchar *status);
void mb_notify_stopping (const gchar *status);
void mb_notify_status (const gchar *status);
/* A reload starts: RELOADING=1 with MONOTONIC_USEC= (systemd's reload
 * protocol); mb_notify_ready() says when it is over. */
void mb_notify_reloading (void);
/* SUFFIX ("last reload ok") ends every STATUS= from now on; NULL: none. */
void mb_notify_set_status_suffix (const gchar *suffix);

G_END_DECLS
