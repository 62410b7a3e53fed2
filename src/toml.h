/* toml.h - the original mini-balancer's TOML configuration files.
 *
 * Debian has no C TOML library, so this is a strict reader of one fixed
 * schema, not of TOML in general:
 *
 *     [frontend]
 *     bind_on = "127.0.0.1:7070"
 *     [[frontend.backend]]
 *     forward_to = "127.0.0.1:8080"
 *
 * plus '#' comments and blank lines.  Values are TOML basic strings.  Any
 * other table, key or value is an error naming FILE:LINE, never a guess.  The
 * result is one frontend titled "frontend" with backends "backend1",
 * "backend2", ... and every other option at its default.
 */
#pragma once

#include "config.h"

G_BEGIN_DECLS

/* Returns a raw configuration for mb_config_finish(), or NULL; appends every
 * problem found to ERRORS (strings). */
MbConfig *mb_toml_load (const gchar *path, GPtrArray *errors);

G_END_DECLS
