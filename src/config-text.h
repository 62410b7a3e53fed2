/* config-text.h - the text of a configuration file as libconfuse is given it.
 *
 * libconfuse 3.3 miscounts lines after '#' comments (every comment shifts
 * later line numbers), and its include() resolves paths against the working
 * directory.  So we hand it one buffer of our own making: comments removed
 * (hash and double-slash comments to the end of the line, and C block
 * comments, as libconfuse reads them, outside quoted strings),
 * include("file") expanded in place
 * (relative to the including file's directory), and a map from each line of
 * the buffer back to the file and line it came from.  Pure apart from reading
 * files.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const gchar *file;   /* interned */
  gint line;           /* 1-based */
} MbSourceLine;

typedef struct {
  gchar *text;         /* NUL-terminated, ends with a newline unless empty */
  GArray *lines;       /* MbSourceLine for each line of text */
} MbConfigText;

/* Reads PATH and what it includes.  On failure returns NULL and appends
 * messages to ERRORS (an array of strings). */
MbConfigText *mb_config_text_read (const gchar *path, GPtrArray *errors);
void mb_config_text_free (MbConfigText *text);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbConfigText, mb_config_text_free)

/* Where line LINE (1-based) of the buffer came from; clamped to the buffer. */
MbSourceLine mb_config_text_locate (const MbConfigText *text, gint line);

G_END_DECLS
