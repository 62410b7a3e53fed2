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

G_END_DECLS
