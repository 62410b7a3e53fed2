/* toml.c - strict reader of the seed's TOML schema; see toml.h. */
#include "build-config.h"

#include <string.h>

#include "error.h"
#include "toml.h"

typedef enum { IN_NOTHING, IN_FRONTEND, IN_BACKEND } Table;

static const gchar *
skip_blanks (const gchar *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* After a value or header: only blanks and an optional comment may follow. */
static gboolean
is_line_end (const gchar *p)
{
  p = skip_blanks (p);
  return *p == '\0' || *p == '#';
}

static gboolean
append_unicode (GString *out, const gchar *p, gint digits)
{
  gunichar c = 0;

  for (gint i = 0; i < digits; i++)
    {
      gint v = g_ascii_xdigit_value (p[i]);
      if (v < 0)
        return FALSE;
      c = c * 16 + (gunichar) v;
    }
  if (!g_unichar_validate (c))
    return FALSE;
  g_string_append_unichar (out, c);
  return TRUE;
}

/* Parses a TOML basic string at P ("..."); returns it and sets *END past it. */
static gchar *
parse_basic_string (const gchar *p, const gchar **end, const gchar **problem)
{
  g_autoptr(GString) out = g_string_new (NULL);

  if (*p != '"')
    {
      *problem = "expected a string in double quotes";
      return NULL;
    }
  for (p++; *p != '"'; p++)
    {
      if (*p == '\0')
        {
          *problem = "unterminated string";
          return NULL;
        }
      if ((guchar) *p < 0x20 && *p != '\t')
        {
          *problem = "control character in string";
          return NULL;
        }
      if (*p != '\\')
        {
          g_string_append_c (out, *p);
          continue;
        }
      switch (*++p)
        {
        case '"': g_string_append_c (out, '"'); break;
        case '\\': g_string_append_c (out, '\\'); break;
        case 'b': g_string_append_c (out, '\b'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 'u':
        case 'U':
          {
            gint digits = *p == 'u' ? 4 : 8;
            if (strnlen (p + 1, (gsize) digits) < (gsize) digits || !append_unicode (out, p + 1, digits))
              {
                *problem = "invalid unicode escape in string";
                return NULL;
              }
            p += digits;
            break;
          }
        default:
          *problem = "invalid escape in string";
          return NULL;
        }
    }
  if (!g_utf8_validate (out->str, (gssize) out->len, NULL) || memchr (out->str, '\0', out->len))
    {
      *problem = "string is not valid UTF-8 text";
      return NULL;
    }
  *end = p + 1;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Reads "[ name ]" or "[[ a . b ]]": bare keys joined by dots, blanks
 * allowed around keys and dots only.  NULL if malformed. */
static gchar *
parse_header (const gchar *p, const gchar **end)
{
  g_autoptr(GString) header = g_string_new (NULL);
  gint depth = (p[0] == '[' && p[1] == '[') ? 2 : 1;

  g_string_append_len (header, "[[", depth);
  p += depth;
  for (;;)
    {
      const gchar *key = p = skip_blanks (p);

      while (g_ascii_isalnum (*p) || *p == '_' || *p == '-')
        p++;
      if (p == key)
        return NULL;
      g_string_append_len (header, key, p - key);
      p = skip_blanks (p);
      if (*p != '.')
        break;
      g_string_append_c (header, '.');
      p++;
    }
  for (gint i = 0; i < depth; i++, p++)
    {
      if (*p != ']')
        return NULL;
      g_string_append_c (header, ']');
    }
  *end = p;
  return g_string_free (g_steal_pointer (&header), FALSE);
}

MbConfig *
mb_toml_load (const gchar *path, GPtrArray *errors)
{
  g_autoptr(MbConfig) config = mb_config_new (path);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *data = NULL;
  g_auto(GStrv) lines = NULL;
  MbFrontendConfig *frontend = NULL;
  MbBackendConfig *backend = NULL;
  guint n_backends = 0, before = errors->len;
  gint frontend_line = 0;
  Table table = IN_NOTHING;
  gsize length = 0;

  if (!g_file_get_contents (path, &data, &length, &error))
    {
      mb_config_error (errors, path, 0, "cannot read the file: %s", mb_error_reason (error));
      return NULL;
    }
  if (memchr (data, '\0', length) != NULL)
    {
      mb_config_error (errors, path, 0, "contains a NUL byte: not a text file");
      return NULL;
    }

  /* The schema has exactly one frontend; [[frontend.backend]] may come
   * before [frontend], so it exists from the start. */
  frontend = mb_config_add_frontend (config, "frontend", path, 0);

  lines = g_strsplit (data, "\n", -1);
  for (gint n = 0; lines[n] != NULL; n++)
    {
      gint line = n + 1;
      gchar *text = lines[n];
      gsize len = strlen (text);
      const gchar *p, *end = NULL;

      if (len > 0 && text[len - 1] == '\r')
        text[len - 1] = '\0';
      p = skip_blanks (text);
      if (*p == '\0' || *p == '#')
        continue;

      if (*p == '[')
        {
          g_autofree gchar *header = parse_header (p, &end);

          if (header == NULL || !is_line_end (end))
            mb_config_error (errors, path, line, "malformed table header '%s'", p);
          else if (strcmp (header, "[frontend]") == 0)
            {
              if (frontend_line > 0)
                mb_config_error (errors, path, line, "table [frontend] defined twice (first at line %d)",
                                 frontend_line);
              frontend_line = line;
              table = IN_FRONTEND;
            }
          else if (strcmp (header, "[[frontend.backend]]") == 0)
            {
              g_autofree gchar *title = g_strdup_printf ("backend%u", ++n_backends);

              backend = mb_frontend_config_add_backend (frontend, title, path, line);
              table = IN_BACKEND;
            }
          else
            {
              mb_config_error (errors, path, line,
                               "unknown table %s (known: [frontend], [[frontend.backend]])", header);
              table = IN_NOTHING;
              backend = NULL;
            }
          continue;
        }

      {
        const gchar *key_start = p, *problem = NULL;
        g_autofree gchar *key = NULL;
        g_autofree gchar *value = NULL;

        while (g_ascii_isalnum (*p) || *p == '_' || *p == '-')
          p++;
        key = g_strndup (key_start, (gsize) (p - key_start));
        p = skip_blanks (p);
        if (*key == '\0' || *p != '=')
          {
            mb_config_error (errors, path, line, "expected key = \"value\", found '%s'", key_start);
            continue;
          }
        value = parse_basic_string (skip_blanks (p + 1), &end, &problem);
        if (value == NULL)
          {
            mb_config_error (errors, path, line, "%s: %s", key, problem);
            continue;
          }
        if (!is_line_end (end))
          {
            mb_config_error (errors, path, line, "%s: unexpected text after the value: '%s'",
                             key, skip_blanks (end));
            continue;
          }

        if (table == IN_FRONTEND && strcmp (key, "bind_on") == 0)
          {
            if (frontend->bind_on != NULL)
              mb_config_error (errors, path, line, "bind_on is set twice (first at line %d)", frontend->line);
            g_free (frontend->bind_on);
            frontend->bind_on = g_steal_pointer (&value);
            frontend->file = g_intern_string (path);
            frontend->line = line;
          }
        else if (table == IN_BACKEND && backend != NULL && strcmp (key, "forward_to") == 0)
          {
            if (backend->forward_to != NULL)
              mb_config_error (errors, path, line, "forward_to is set twice (first at line %d)", backend->line);
            g_free (backend->forward_to);
            backend->forward_to = g_steal_pointer (&value);
            backend->line = line;
          }
        else if (table == IN_NOTHING)
          mb_config_error (errors, path, line, "unknown key '%s' outside [frontend]", key);
        else
          mb_config_error (errors, path, line, "unknown key '%s' in %s (known: %s)", key,
                           table == IN_FRONTEND ? "[frontend]" : "[[frontend.backend]]",
                           table == IN_FRONTEND ? "bind_on" : "forward_to");
      }
    }

  if (frontend_line == 0)
    mb_config_error (errors, path, 0, "no [frontend] table: expected [frontend] with bind_on = \"host:port\"");
  else if (frontend->line == 0)
    frontend->line = frontend_line;

  if (errors->len != before)
    return NULL;
  return g_steal_pointer (&config);
}
