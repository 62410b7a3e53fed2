/* ctl-format.c - mini-balancerctl's reading and printing of an answer; see
 * ctl-format.h.
 *
 * Whatever the daemon sends is printed defensively: a member that is missing
 * or null prints "-", one of an unexpected type prints as compact JSON, and
 * control characters in strings print as "?" so that no answer can move the
 * terminal's cursor or break a table's lines.
 */
#include "build-config.h"

#include <math.h>
#include <string.h>

#include "ctl-format.h"
#include "error.h"

/* ---- answers ---- */

JsonObject *
mb_ctl_answer_parse (const gchar *line, gsize length, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonNode *ok;

  g_return_val_if_fail (line != NULL || length == 0, NULL);

  if (length > MB_CTL_ANSWER_MAX)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                   "the answer is longer than %u bytes", (guint) MB_CTL_ANSWER_MAX);
      return NULL;
    }
  /* json-glib would say so too, in words about its own input. */
  if (!g_utf8_validate (line, (gssize) length, NULL))
    {
      g_set_error_literal (error, MB_ERROR, MB_ERROR_INVALID, "the answer is not UTF-8");
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, line, (gssize) length, &local_error))
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID, "the answer is not JSON: %s",
                   local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, MB_ERROR, MB_ERROR_INVALID, "the answer is not a JSON object");
      return NULL;
    }
  ok = json_object_get_member (json_node_get_object (root), "ok");
  if (ok == NULL || !JSON_NODE_HOLDS_VALUE (ok)
      || json_node_get_value_type (ok) != G_TYPE_BOOLEAN)
    {
      g_set_error_literal (error, MB_ERROR, MB_ERROR_INVALID,
                           "the answer has no \"ok\": true or false");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* ---- scalars ---- */

/* TEXT with every control character (newline and escape included) as "?". */
static gchar *
sanitize (const gchar *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        g_string_append_c (out, '?');
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

static gchar *
number_text (gdouble value)
{
  gchar buffer[G_ASCII_DTOSTR_BUF_SIZE];

  /* Counters are integers: never "1.2e+10" for a whole number. */
  if (isfinite (value) && fabs (value) < 1e18 && value == (gdouble) (gint64) value)
    return g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) value);
  return g_strdup (g_ascii_dtostr (buffer, sizeof buffer, value));
}

/* A JSON value as a table cell or a "key: value" value. */
static gchar *
node_text (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("-");
  if (!JSON_NODE_HOLDS_VALUE (node))
    {
      g_autofree gchar *json = json_to_string (node, FALSE);

      return sanitize (json);
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? "yes" : "no");
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE:
      return number_text (json_node_get_double (node));
    case G_TYPE_STRING:
      return sanitize (json_node_get_string (node));
    default:
      return g_strdup ("?");
    }
}

static gboolean
holds_type (JsonNode *node, GType type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
holds_number (JsonNode *node)
{
  return holds_type (node, G_TYPE_INT64) || holds_type (node, G_TYPE_DOUBLE);
}

/* The member NAME of OBJECT if it is a string, else NULL. */
static const gchar *
string_member (JsonObject *object, const gchar *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return holds_type (node, G_TYPE_STRING) ? json_node_get_string (node) : NULL;
}

/* An array member whose elements are all objects, or NULL. */
static JsonArray *
array_of_objects (JsonObject *object, const gchar *name)
{
  JsonNode *node = json_object_get_member (object, name);
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (!JSON_NODE_HOLDS_OBJECT (json_array_get_element (array, i)))
      return NULL;
  return array;
}

static void
pad (GString *out, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_string_append_c (out, ' ');
}

/* ---- "key: value" lines ---- */

typedef struct {
  GPtrArray *keys;     /* "" for the continuation lines of an array */
  GPtrArray *values;
} Pairs;

static void
pairs_add (Pairs *pairs, const gchar *key, JsonNode *node)
{
  if (node != NULL
      && ((JSON_NODE_HOLDS_OBJECT (node) && json_object_get_size (json_node_get_object (node)) == 0)
          || (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == 0)))
    {
      g_ptr_array_add (pairs->keys, sanitize (key));
      g_ptr_array_add (pairs->values, g_strdup ("-"));
      return;
    }
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (object);

      for (GList *l = members; l != NULL; l = l->next)
        {
          g_autofree gchar *child = g_strdup_printf ("%s.%s", key, (const gchar *) l->data);

          pairs_add (pairs, child, json_object_get_member (object, l->data));
        }
      return;
    }
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      /* One element a line: error messages may hold commas. */
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          g_ptr_array_add (pairs->keys, i == 0 ? sanitize (key) : g_strdup (""));
          g_ptr_array_add (pairs->values, node_text (json_array_get_element (array, i)));
        }
      return;
    }
  g_ptr_array_add (pairs->keys, sanitize (key));
  g_ptr_array_add (pairs->values, node_text (node));
}

/* Every member of ANSWER but "ok", "error" and "errors" (those go to
 * stderr), values aligned; "ok" alone when nothing else is left. */
static void
append_pairs (GString *out, JsonObject *answer)
{
  g_autoptr(GList) members = json_object_get_members (answer);
  Pairs pairs = { g_ptr_array_new_with_free_func (g_free),
                  g_ptr_array_new_with_free_func (g_free) };
  glong width = 0;

  for (GList *l = members; l != NULL; l = l->next)
    {
      const gchar *name = l->data;

      if (g_str_equal (name, "ok") || g_str_equal (name, "error") || g_str_equal (name, "errors"))
        continue;
      pairs_add (&pairs, name, json_object_get_member (answer, name));
    }
  for (guint i = 0; i < pairs.keys->len; i++)
    width = MAX (width, g_utf8_strlen (pairs.keys->pdata[i], -1));
  for (guint i = 0; i < pairs.keys->len; i++)
    {
      const gchar *key = pairs.keys->pdata[i];

      g_string_append (out, key);
      g_string_append_c (out, *key != '\0' ? ':' : ' ');
      pad (out, (gsize) (width - g_utf8_strlen (key, -1)) + 1);
      g_string_append_printf (out, "%s\n", (const gchar *) pairs.values->pdata[i]);
    }
  if (pairs.keys->len == 0)
    g_string_append (out, "ok\n");
  g_ptr_array_unref (pairs.keys);
  g_ptr_array_unref (pairs.values);
}

/* ---- tables ---- */

typedef gchar *(*CellFunc) (JsonObject *row, const gchar *member);

typedef struct {
  const gchar *member;
  const gchar *header;
  gboolean right;      /* numbers: right aligned */
  CellFunc cell;       /* NULL: the member's value */
} Column;

static gchar *
address_cell (JsonObject *row, const gchar *member)
{
  g_autofree gchar *address = node_text (json_object_get_member (row, "address"));
  const gchar *forward_to = string_member (row, "forward_to");

  /* A host name in forward_to is worth seeing next to what it resolved to. */
  if (forward_to != NULL && g_strcmp0 (forward_to, string_member (row, "address")) != 0)
    {
      g_autofree gchar *name = sanitize (forward_to);

      return g_strdup_printf ("%s (%s)", address, name);
    }
  return g_steal_pointer (&address);
}

static gchar *
last_check_cell (JsonObject *row, const gchar *member)
{
  JsonNode *node = json_object_get_member (row, member);
  JsonObject *check;
  JsonNode *ok;
  const gchar *detail;
  g_autofree gchar *at = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return node_text (node);
  check = json_node_get_object (node);
  ok = json_object_get_member (check, "ok");
  at = node_text (json_object_get_member (check, "at"));
  detail = string_member (check, "detail");
  if (detail != NULL)
    {
      g_autofree gchar *clean = sanitize (detail);

      return g_strdup_printf ("%s %s: %s", holds_type (ok, G_TYPE_BOOLEAN)
                              && json_node_get_boolean (ok) ? "ok" : "failed", at, clean);
    }
  return g_strdup_printf ("%s %s", holds_type (ok, G_TYPE_BOOLEAN)
                          && json_node_get_boolean (ok) ? "ok" : "failed", at);
}

static const Column frontend_columns[] = {
  { "title", "FRONTEND", FALSE, NULL },
  { "bind_on", "BIND_ON", FALSE, NULL },
  { "balance", "BALANCE", FALSE, NULL },
  { "state", "STATE", FALSE, NULL },
  { "sessions", "SESSIONS", TRUE, NULL },
  { "connections", "CONNECTIONS", TRUE, NULL },
  { "failed", "FAILED", TRUE, NULL },
  { "bytes_received", "BYTES_RECEIVED", TRUE, NULL },
  { "bytes_sent", "BYTES_SENT", TRUE, NULL },
};

/* Free text last, so that its spaces do not blur the columns. */
static const Column backend_columns[] = {
  { "frontend", "FRONTEND", FALSE, NULL },
  { "title", "BACKEND", FALSE, NULL },
  { "address", "ADDRESS", FALSE, address_cell },
  { "state", "STATE", FALSE, NULL },
  { "weight", "WEIGHT", TRUE, NULL },
  { "backup", "BACKUP", FALSE, NULL },
  { "sessions", "SESSIONS", TRUE, NULL },
  { "connections", "CONNECTIONS", TRUE, NULL },
  { "connect_failures", "CONNECT_FAILURES", TRUE, NULL },
  { "bytes_sent", "BYTES_SENT", TRUE, NULL },
  { "bytes_received", "BYTES_RECEIVED", TRUE, NULL },
  { "last_check", "LAST_CHECK", FALSE, last_check_cell },
  { "why", "WHY", FALSE, NULL },
};

static void
append_table (GString *out, const Column *columns, gsize n_columns, JsonArray *rows)
{
  guint n_rows = json_array_get_length (rows) + 1;
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  g_autofree glong *widths = g_new0 (glong, n_columns);

  for (gsize c = 0; c < n_columns; c++)
    g_ptr_array_add (cells, g_strdup (columns[c].header));
  for (guint r = 1; r < n_rows; r++)
    {
      JsonObject *row = json_array_get_object_element (rows, r - 1);

      for (gsize c = 0; c < n_columns; c++)
        g_ptr_array_add (cells, columns[c].cell != NULL
                         ? columns[c].cell (row, columns[c].member)
                         : node_text (json_object_get_member (row, columns[c].member)));
    }
  for (guint r = 0; r < n_rows; r++)
    for (gsize c = 0; c < n_columns; c++)
      widths[c] = MAX (widths[c], g_utf8_strlen (cells->pdata[r * n_columns + c], -1));

  for (guint r = 0; r < n_rows; r++)
    {
      for (gsize c = 0; c < n_columns; c++)
        {
          const gchar *cell = cells->pdata[r * n_columns + c];
          gsize room = (gsize) (widths[c] - g_utf8_strlen (cell, -1));

          if (c > 0)
            g_string_append (out, "  ");
          if (columns[c].right)
            pad (out, room);
          g_string_append (out, cell);
          /* No trailing blanks after the last column. */
          if (!columns[c].right && c + 1 < n_columns)
            pad (out, room);
        }
      g_string_append_c (out, '\n');
    }
}

/* ---- one form per command ---- */

/* "FE/BE" from the answer, else the target as it was sent. */
static gchar *
target_text (JsonObject *answer, const gchar *sent)
{
  const gchar *frontend = string_member (answer, "frontend");
  const gchar *backend = string_member (answer, "backend");
  g_autofree gchar *target = NULL;

  if (frontend != NULL && backend != NULL)
    target = g_strdup_printf ("%s/%s", frontend, backend);
  else
    target = g_strdup (sent);
  return sanitize (target);
}

/* The specific form of the answer, or FALSE to use the generic one. */
static gboolean
append_specific (GString *out, gchar **words, guint n_words, JsonObject *answer)
{
  const gchar *verb = n_words > 0 ? words[0] : "";
  const gchar *noun = n_words > 1 ? words[1] : "";

  if (g_str_equal (verb, "show") && g_str_equal (noun, "info") && n_words == 2)
    {
      append_pairs (out, answer);
      return TRUE;
    }
  if (g_str_equal (verb, "show") && g_str_equal (noun, "frontends") && n_words == 2)
    {
      JsonArray *rows = array_of_objects (answer, "frontends");

      if (rows == NULL)
        return FALSE;
      append_table (out, frontend_columns, G_N_ELEMENTS (frontend_columns), rows);
      return TRUE;
    }
  if (g_str_equal (verb, "show") && g_str_equal (noun, "backends") && n_words <= 3)
    {
      JsonArray *rows = array_of_objects (answer, "backends");

      if (rows == NULL)
        return FALSE;
      append_table (out, backend_columns, G_N_ELEMENTS (backend_columns), rows);
      return TRUE;
    }
  if ((g_str_equal (verb, "disable") || g_str_equal (verb, "drain") || g_str_equal (verb, "enable"))
      && n_words == 2)
    {
      const gchar *state = string_member (answer, "state");
      g_autofree gchar *target = NULL;
      g_autofree gchar *clean = NULL;

      if (state == NULL)
        return FALSE;
      target = target_text (answer, words[1]);
      clean = sanitize (state);
      g_string_append_printf (out, "%s: %s\n", target, clean);
      return TRUE;
    }
  if (g_str_equal (verb, "set") && g_str_equal (noun, "weight") && n_words == 4)
    {
      JsonNode *weight = json_object_get_member (answer, "weight");
      g_autofree gchar *target = NULL;
      g_autofree gchar *number = NULL;

      if (!holds_number (weight))
        return FALSE;
      target = target_text (answer, words[2]);
      number = node_text (weight);
      g_string_append_printf (out, "%s: weight %s\n", target, number);
      return TRUE;
    }
  if (g_str_equal (verb, "shutdown") && g_str_equal (noun, "sessions") && n_words == 3)
    {
      JsonNode *closed = json_object_get_member (answer, "closed");
      g_autofree gchar *target = NULL;
      g_autofree gchar *number = NULL;

      if (!holds_number (closed))
        return FALSE;
      target = target_text (answer, words[2]);
      number = node_text (closed);
      g_string_append_printf (out, "%s: %s %s closed\n", target, number,
                              g_str_equal (number, "1") ? "session" : "sessions");
      return TRUE;
    }
  if (g_str_equal (verb, "reload") && n_words == 1)
    {
      g_string_append (out, "reloaded\n");
      return TRUE;
    }
  if (g_str_equal (verb, "help") && n_words == 1)
    {
      JsonNode *node = json_object_get_member (answer, "commands");
      JsonArray *commands;

      if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
        return FALSE;
      commands = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (commands); i++)
        {
          g_autofree gchar *command = node_text (json_array_get_element (commands, i));

          g_string_append_printf (out, "%s\n", command);
        }
      return TRUE;
    }
  return FALSE;
}

gchar *
mb_ctl_format_answer (const gchar *command, JsonObject *answer)
{
  g_auto(GStrv) split = NULL;
  g_autoptr(GPtrArray) words = g_ptr_array_new ();
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (command != NULL, NULL);
  g_return_val_if_fail (answer != NULL, NULL);

  /* The daemon's own reading: words separated by spaces. */
  split = g_strsplit (command, " ", -1);
  for (gchar **w = split; *w != NULL; w++)
    if (**w != '\0')
      g_ptr_array_add (words, *w);
  g_ptr_array_add (words, NULL);

  if (!append_specific (out, (gchar **) words->pdata, words->len - 1, answer))
    append_pairs (out, answer);
  return g_string_free (out, FALSE);
}

gchar *
mb_ctl_format_errors (const gchar *program, JsonObject *answer)
{
  GString *out = g_string_new (NULL);
  JsonNode *ok = json_object_get_member (answer, "ok");
  JsonNode *error = json_object_get_member (answer, "error");
  JsonNode *errors = json_object_get_member (answer, "errors");
  gboolean refused = !holds_type (ok, G_TYPE_BOOLEAN) || !json_node_get_boolean (ok);

  if (error != NULL && !JSON_NODE_HOLDS_NULL (error))
    {
      g_autofree gchar *text = node_text (error);

      g_string_append_printf (out, "%s: %s\n", program, text);
    }
  else if (refused)
    g_string_append_printf (out, "%s: the daemon refused the command and gave no reason\n",
                            program);
  if (errors != NULL && JSON_NODE_HOLDS_ARRAY (errors))
    {
      JsonArray *array = json_node_get_array (errors);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          g_autofree gchar *text = node_text (json_array_get_element (array, i));

          g_string_append_printf (out, "%s\n", text);
        }
    }
  return g_string_free (out, FALSE);
}
