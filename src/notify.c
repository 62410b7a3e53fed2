/* notify.c - sd_notify wrappers; see notify.h. */
#include "build-config.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

static void
notify (const gchar *state, const gchar *status)
{
#ifdef HAVE_SYSTEMD
  g_autofree gchar *message = NULL;

  if (status != NULL)
    message = g_strdup_printf ("%s%sSTATUS=%s", state ? state : "", state ? "\n" : "", status);
  else
    message = g_strdup (state);
  /* Failure to notify is not fatal: systemd then times the start out itself. */
  (void) sd_notify (0, message);
#else
  (void) state;
  (void) status;
#endif
}

void
mb_notify_ready (const gchar *status)
{
  notify ("READY=1", status);
}

void
mb_notify_stopping (const gchar *status)
{
  notify ("STOPPING=1", status);
}

void
mb_notify_status (const gchar *status)
{
  notify (NULL, status);
}
