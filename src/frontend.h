/* frontend.h - a listening frontend: its sockets, its accept loop, its balancer.
 *
 * Each frontend binds every address its bind_on resolved to ("*" binds [::]
 * dual-stack, or 0.0.0.0 where the host has no IPv6) and accepts on each with
 * its own loop.  We own the accept instead of using GSocketService, which on
 * an accept error (EMFILE, ENFILE) logs and retries at once in a tight loop:
 * here such an error pauses that listener briefly, logging once per pause.
 */
#pragma once

#include <gio/gio.h>

#include "activation.h"
#include "balancer.h"
#include "config.h"

G_BEGIN_DECLS

typedef struct MbFrontend MbFrontend;

struct MbFrontend {
  const MbFrontendConfig *config;  /* borrowed: the MbConfig outlives us */
  MbBalancer balancer;
  GPtrArray *listeners;            /* private */
};

MbFrontend *mb_frontend_new (const MbFrontendConfig *config);
/* Listens on every address: on a socket claimed from INHERITED (may be
 * NULL) when one matches, else on one it binds.  On failure nothing stays
 * bound. */
gboolean mb_frontend_bind (MbFrontend *frontend, MbInherited *inherited, GError **error);
/* Starts accepting connections from the main loop. */
void mb_frontend_start (MbFrontend *frontend);
/* Closes the listening sockets at once: new connections are refused. */
void mb_frontend_close (MbFrontend *frontend);
void mb_frontend_free (MbFrontend *frontend);

G_END_DECLS
