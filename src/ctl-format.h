/* ctl-format.h - mini-balancerctl's reading and printing of an answer.
 *
 * Pure: an answer line in, a JsonObject out; a JsonObject in, the text for a
 * terminal out.  No sockets and no printing, so that `check` tests every form
 * (tests/unit/test_ctl_format.c).
 *
 * The human forms, per command (the line that was sent decides; an answer
 * that lacks the members a form needs falls back to the generic form):
 *   show info            "key: value" lines, values aligned; nested objects
 *                        as "parent.key"
 *   show frontends       a table, one row per frontend
 *   show backends [FE]   a table, one row per backend
 *   disable/drain/enable "FE/BE: STATE"
 *   set weight           "FE/BE: weight N"
 *   shutdown sessions    "FE/BE: N sessions closed"
 *   reload               "reloaded"
 *   help                 one command per line
 *   anything else        the generic "key: value" lines ("ok" if none)
 * Tables have a header (the JSON member names in capitals, "title" named
 * FRONTEND or BACKEND), columns as wide as their widest cell, numbers right
 * aligned and in full, "-" for null.  The bash completion reads the first
 * column of `show frontends` and the first two of `show backends`: keep them
 * FRONTEND, and FRONTEND and BACKEND.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The largest answer mini-balancerctl reads, newline excluded. */
#define MB_CTL_ANSWER_MAX (16 * 1024 * 1024)

/* Parses one answer line (LENGTH bytes, its newline excluded): a JSON object
 * with a boolean member "ok".  Returns a new reference, or NULL with *ERROR
 * set (MB_ERROR_INVALID) saying what is wrong with it. */
JsonObject *mb_ctl_answer_parse (const gchar *line, gsize length, GError **error);

/* The human text (UTF-8, each line ending in "\n") for ANSWER, an ok:true
 * answer to COMMAND, the line that was sent.  Free with g_free(). */
gchar *mb_ctl_format_answer (const gchar *command, JsonObject *answer);

/* The text for stderr that goes with ANSWER: "PROGRAM: ERROR\n" for its
 * "error" member (ok:false answers always get such a line), then each string
 * of its "errors" member on a line of its own, as it came.  An ok:true answer
 * without errors gives "".  Free with g_free(). */
gchar *mb_ctl_format_errors (const gchar *program, JsonObject *answer);

G_END_DECLS
