/* error.c - the GError domain of mini-balancer. */
#include "build-config.h"

#include "error.h"

G_DEFINE_QUARK (mb-error-quark, mb_error)

#include <string.h>

const gchar *
mb_error_reason (const GError *error)
{
  const gchar *colon = g_strrstr (error->message, ": ");

  return colon != NULL && colon[2] != '\0' ? colon + 2 : error->message;
}
