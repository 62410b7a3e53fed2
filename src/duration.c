/* duration.c - parsing of configuration durations; see duration.h. */
#include "build-config.h"

#include <string.h>

#include "duration.h"
#include "error.h"

gboolean
mb_duration_parse (const gchar *text, guint64 *out_ms, GError **error)
{
  static const struct { const gchar *suffix; guint64 factor; } units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 }, { "", 1000 },
  };
  const gchar *p = text;
  guint64 value = 0;

  g_return_val_if_fail (text != NULL, FALSE);

  if (!g_ascii_isdigit (*p))
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                   "invalid duration '%s': expected a whole number with a unit ms, s, m or h", text);
      return FALSE;
    }
  for (; g_ascii_isdigit (*p); p++)
    {
      /* Saturate instead of wrapping: anything this large is rejected below. */
      if (value > MB_DURATION_MAX_MS)
        continue;
      value = value * 10 + (guint64) (*p - '0');
    }

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    {
      if (strcmp (p, units[i].suffix) != 0)
        continue;
      if (value > MB_DURATION_MAX_MS / units[i].factor)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "invalid duration '%s': more than 30 days", text);
          return FALSE;
        }
      *out_ms = value * units[i].factor;
      return TRUE;
    }

  g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
               "invalid duration '%s': expected a whole number with a unit ms, s, m or h", text);
  return FALSE;
}
