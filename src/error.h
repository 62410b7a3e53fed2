/* error.h - the GError domain of mini-balancer.
 *
 * One domain for everything the daemon reports as a recoverable error: a bad
 * value in a config file, a name that does not resolve, a socket that cannot
 * be bound.  The message is what the user reads; the code tells callers (and
 * tests) which kind of failure it was.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_ERROR (mb_error_quark ())

typedef enum {
  MB_ERROR_INVALID,   /* a value that does not parse: address, duration, ... */
  MB_ERROR_RESOLVE,   /* a host name that does not resolve */
  MB_ERROR_CONFIG,    /* a configuration that is wrong as a whole */
  MB_ERROR_IO,        /* a file or socket operation that failed */
  MB_ERROR_TIMED_OUT, /* nothing happened for too long */
  MB_ERROR_PROXY,     /* a PROXY protocol header that is not valid */
} MbError;

GQuark mb_error_quark (void);

G_END_DECLS

G_BEGIN_DECLS

/* The reason at the end of a GLib message such as "Failed to open file
 * “x”: No such file or directory" -> "No such file or directory", so that
 * our own messages can name the object once, in our own words. */
const gchar *mb_error_reason (const GError *error);

G_END_DECLS
