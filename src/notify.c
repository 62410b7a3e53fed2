/* notify.c - sd_notify wrappers; see notify.h. */
#include "build-config.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

/* Appended to every STATUS=: what the last reload gave (main thread). */
static gchar *status_suffix;

static void
notify (const gchar *state, const gchar *status)
{
#ifdef HAVE_SYSTEMD
  g_autofree gchar *message = NULL;

  if (status != NULL)
    message = g_strdup_printf ("%s%sSTATUS=%s%s%s", state ? state : "", state ? "\n" : "", status,
                               status_suffix ? "; " : "", status_suffix ? status_suffix : "");
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

void
mb_notify_reloading (void)
{
  g_autofree gchar *state = g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
                                             g_get_monotonic_time ());

  notify (state, NULL);
}

void
mb_notify_set_status_suffix (const gchar *suffix)
{
  g_free (status_suffix);
  status_suffix = g_strdup (suffix);
}
