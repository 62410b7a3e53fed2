/* config-text.c - comment stripping and include expansion; see config-text.h. */
#include "build-config.h"

#include <string.h>

#include "config.h"
#include "config-text.h"
#include "error.h"

#define MAX_INCLUDE_DEPTH 16

typedef struct {
  GString *out;
  GArray *lines;
  GPtrArray *errors;
  GPtrArray *stack;       /* canonical paths being read, to refuse include loops */
} Builder;

static void
end_line (Builder *b, const gchar *file, gint line)
{
  MbSourceLine where = { file, line };

  g_string_append_c (b->out, '\n');
  g_array_append_val (b->lines, where);
}

static gboolean
is_word_char (gchar c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '-';
}

/* Matches include ( "path" ) at P; returns the path and sets *END past ')'. */
static gchar *
match_include (const gchar *start, const gchar *p, const gchar **end)
{
  const gchar *q;

  if (strncmp (p, "include", 7) != 0 || (p > start && is_word_char (p[-1])))
    return NULL;
  q = p + 7;
  while (*q == ' ' || *q == '\t')
    q++;
  if (*q++ != '(')
    return NULL;
  while (*q == ' ' || *q == '\t')
    q++;
  if (*q++ != '"')
    return NULL;
  p = q;
  while (*q && *q != '"' && *q != '\\' && *q != '\n')
    q++;
  if (*q != '"' || q == p)
    return NULL;
  {
    g_autofree gchar *path = g_strndup (p, (gsize) (q - p));
    q++;
    while (*q == ' ' || *q == '\t')
      q++;
    if (*q != ')')
      return NULL;
    *end = q + 1;
    return g_steal_pointer (&path);
  }
}

/* libconfuse also takes C and C++ style comments; they must go too, or a
 * quote in one would hide the lines after it from this scanner and their
 * newlines would be miscounted.  Its lexer reads "//" as a comment only at
 * the start of a token and when the unquoted-string rule cannot match a
 * longer word ("//x" is a word), and a block comment likewise opens only at
 * the start of a token. */
static gboolean
is_word_char_confuse (gchar c)
{
  return c != '\0' && strchr (" #\"'\t\n\r={}()+,*", c) == NULL;
}

static gboolean
is_line_comment (const gchar *p)
{
  if (p[0] != '/' || p[1] != '/')
    return FALSE;
  while (*p == '/')
    p++;
  return !is_word_char_confuse (*p);
}

static gboolean read_file (Builder *b, const gchar *path, const gchar *from_file, gint from_line);

static gboolean
scan (Builder *b, const gchar *file, const gchar *data)
{
  enum { NORMAL, DOUBLE_QUOTED, SINGLE_QUOTED } state = NORMAL;
  g_autoptr(GArray) open_braces = g_array_new (FALSE, FALSE, sizeof (gint)); /* their lines */
  gint line = 1;
  gboolean ok = TRUE;
  gboolean in_word = FALSE;   /* the previous character continues an unquoted word */

  for (const gchar *p = data; *p; p++)
    {
      const gchar *end;
      g_autofree gchar *include = NULL;
      gboolean token_start = !in_word;

      in_word = FALSE;
      if (*p == '\n')
        {
          end_line (b, file, line++);
          continue;
        }
      switch (state)
        {
        case DOUBLE_QUOTED:
        case SINGLE_QUOTED:
          if (*p == '\\' && p[1] != '\0' && p[1] != '\n')
            g_string_append_c (b->out, *p++);
          else if (*p == (state == DOUBLE_QUOTED ? '"' : '\''))
            state = NORMAL;
          g_string_append_c (b->out, *p);
          break;
        case NORMAL:
          if (*p == '#' || (token_start && is_line_comment (p)))
            {
              while (p[1] != '\0' && p[1] != '\n')
                p++;
              break;
            }
          if (token_start && p[0] == '/' && p[1] == '*')
            {
              gint opened = line;

              for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
                if (*p == '\n')
                  end_line (b, file, line++);
              if (*p == '\0')
                {
                  /* libconfuse would silently ignore the rest of the file. */
                  mb_config_error (b->errors, file, opened,
                                   "'/*' comment is not closed by '*/' before the end of the file");
                  ok = FALSE;
                  p--;
                  break;
                }
              p++;
              /* Still a token boundary, as it was for libconfuse. */
              g_string_append_c (b->out, ' ');
              break;
            }
          /* libconfuse accepts a section left open at the end of the input:
           * check that every '{' is closed in the file that opened it. */
          if (*p == '{')
            g_array_append_val (open_braces, line);
          else if (*p == '}' && open_braces->len > 0)
            g_array_set_size (open_braces, open_braces->len - 1);
          if (*p == '"')
            state = DOUBLE_QUOTED;
          else if (*p == '\'')
            state = SINGLE_QUOTED;
          else if ((include = match_include (data, p, &end)) != NULL)
            {
              g_autofree gchar *dir = g_path_get_dirname (file);
              g_autofree gchar *target = g_path_is_absolute (include)
                ? g_strdup (include) : g_build_filename (dir, include, NULL);

              /* The rest of this line continues after the included text. */
              end_line (b, file, line);
              if (!read_file (b, target, file, line))
                ok = FALSE;
              p = end - 1;
              break;
            }
          in_word = is_word_char_confuse (*p);
          g_string_append_c (b->out, *p);
          break;
        }
    }
  end_line (b, file, line);
  if (open_braces->len > 0)
    {
      mb_config_error (b->errors, file, g_array_index (open_braces, gint, open_braces->len - 1),
                 "'{' is not closed by '}' before the end of the file");
      ok = FALSE;
    }
  return ok;
}

static gboolean
read_file (Builder *b, const gchar *path, const gchar *from_file, gint from_line)
{
  const gchar *file = g_intern_string (path);
  g_autofree gchar *canonical = g_canonicalize_filename (path, NULL);
  g_autofree gchar *data = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = 0;
  gboolean ok;

  if (b->stack->len >= MAX_INCLUDE_DEPTH)
    {
      mb_config_error (b->errors, from_file, from_line,
                 "include: '%s': includes nested more than %d deep", path, MAX_INCLUDE_DEPTH);
      return FALSE;
    }
  for (guint i = 0; i < b->stack->len; i++)
    if (strcmp (b->stack->pdata[i], canonical) == 0)
      {
        mb_config_error (b->errors, from_file, from_line, "include: '%s' includes itself", path);
        return FALSE;
      }
  if (!g_file_get_contents (path, &data, &length, &error))
    {
      if (from_file != NULL)
        mb_config_error (b->errors, from_file, from_line, "include: cannot read '%s': %s",
                   path, mb_error_reason (error));
      else
        mb_config_error (b->errors, path, 0, "cannot read the file: %s", mb_error_reason (error));
      return FALSE;
    }
  if (memchr (data, '\0', length) != NULL)
    {
      mb_config_error (b->errors, file, 0, "contains a NUL byte: not a text file");
      return FALSE;
    }

  g_ptr_array_add (b->stack, g_steal_pointer (&canonical));
  ok = scan (b, file, data);
  g_ptr_array_remove_index (b->stack, b->stack->len - 1);
  return ok;
}

MbConfigText *
mb_config_text_read (const gchar *path, GPtrArray *errors)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GArray) lines = g_array_new (FALSE, FALSE, sizeof (MbSourceLine));
  g_autoptr(GPtrArray) stack = g_ptr_array_new_with_free_func (g_free);
  Builder b = { out, lines, errors, stack };
  MbConfigText *text;

  if (!read_file (&b, path, NULL, 0))
    return NULL;

  text = g_new0 (MbConfigText, 1);
  text->text = g_string_free (g_steal_pointer (&out), FALSE);
  text->lines = g_steal_pointer (&lines);
  return text;
}

void
mb_config_text_free (MbConfigText *text)
{
  if (text == NULL)
    return;
  g_free (text->text);
  g_array_unref (text->lines);
  g_free (text);
}

MbSourceLine
mb_config_text_locate (const MbConfigText *text, gint line)
{
  MbSourceLine none = { "", 0 };

  if (text->lines->len == 0)
    return none;
  line = CLAMP (line, 1, (gint) text->lines->len);
  return g_array_index (text->lines, MbSourceLine, line - 1);
}
