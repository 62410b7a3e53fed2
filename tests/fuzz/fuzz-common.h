/* fuzz-common.h - what the libFuzzer harnesses share.
 *
 * The config loader reads files and resolves host names.  Fuzz inputs must do
 * neither outside the sandbox: every harness calls fuzz_setup() once, which
 * installs a resolver that never touches the network and makes a private
 * temporary directory (removed at exit) where the inputs are written, next
 * to a few files that include("...") in an input may reach: include paths
 * are relative to the including file, and libconfuse's own include() is not
 * enabled, so the working directory plays no part.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* The one host name the fuzz resolver knows: it resolves to 127.0.0.1.  Any
 * other name fails at once with G_RESOLVER_ERROR_NOT_FOUND. */
#define FUZZ_RESOLVABLE_NAME "resolves.test"

void fuzz_setup (void);

/* DATA as a NUL-terminated string, or NULL when it holds a NUL byte. */
gchar *fuzz_string (const uint8_t *data, size_t size);

/* Writes DATA to NAME in the private directory, loads it with
 * mb_config_load(), checks the result's invariants (aborting when one does
 * not hold) and removes the file again. */
void fuzz_load_config (const uint8_t *data, size_t size, const gchar *name);

G_END_DECLS
