/* mini-balancerctl.c - the command-line client of the control socket.
 *
 * Sends one command (its words joined with spaces, one line) to the daemon's
 * control socket, reads the one answer line, prints it (ctl-format.c: tables
 * by default, the line as it came with --json) and exits with what it said:
 *   0 ok:true, 1 ok:false (the error on stderr), 64 a bad command line,
 *   69 the socket cannot be reached, or no valid answer came in time.
 * Everything on the socket is bounded by one deadline (--timeout), and the
 * answer by MB_CTL_ANSWER_MAX bytes: a silent, slow or babbling peer ends in
 * status 69, never in a hang or an unbounded buffer.
 */
#include "build-config.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <sysexits.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "ctl-format.h"
#include "error.h"

#define PROGRAM "mini-balancerctl"
#define DEFAULT_SOCKET RUNSTATEDIR "/mini-balancer/admin.sock"
#define DEFAULT_TIMEOUT_S 60   /* a reload may resolve names */
#define MAX_TIMEOUT_S 86400
#define EXIT_REFUSED 1

static const gchar description[] =
  "Commands (FRONTEND/BACKEND: a frontend title and one of its backend titles):\n"
  "  show info\n"
  "  show frontends\n"
  "  show backends [FRONTEND]\n"
  "  disable FRONTEND/BACKEND          no new session, no health check\n"
  "  drain FRONTEND/BACKEND            no new session, checks go on\n"
  "  enable FRONTEND/BACKEND\n"
  "  set weight FRONTEND/BACKEND WEIGHT   1 to 256\n"
  "  shutdown sessions FRONTEND/BACKEND\n"
  "  reload                            waits for the result\n"
  "  help\n"
  "\n"
  "Exit status: 0 done, 1 the daemon refused, 64 bad command line,\n"
  "69 the socket cannot be reached or gave no answer in time.\n"
  "See mini-balancerctl(8).";

/* The line to send: WORDS joined with spaces.  A word may not hold a line
 * break: it would send a second command, whose answer nobody reads. */
static gchar *
command_line (gchar **words, GError **error)
{
  g_autofree gchar *line = NULL;

  for (gchar **w = words; *w != NULL; w++)
    {
      if (strpbrk (*w, "\r\n") != NULL)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "a command word may not contain a line break");
          return NULL;
        }
      if (!g_utf8_validate (*w, -1, NULL))
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "a command word is not UTF-8");
          return NULL;
        }
    }
  line = g_strjoinv (" ", words);
  if (strspn (line, " ") == strlen (line))
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID, "no command (try 'help')");
      return NULL;
    }
  return g_steal_pointer (&line);
}

/* Waits until SOCKET is ready for CONDITION, at most until DEADLINE (on
 * the monotonic clock). */
static gboolean
wait_until (GSocket *socket, GIOCondition condition, gint64 deadline, GError **error)
{
  gint64 left = deadline - g_get_monotonic_time ();

  return g_socket_condition_timed_wait (socket, condition, MAX (left, 0), NULL, error);
}

static GSocket *
connect_to (const gchar *path, gint64 deadline, GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;

  /* GUnixSocketAddress would silently cut a longer path. */
  if (strlen (path) >= sizeof ((struct sockaddr_un *) NULL)->sun_path)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                   "%s: a socket path has at most %zu bytes", path,
                   sizeof ((struct sockaddr_un *) NULL)->sun_path - 1);
      return NULL;
    }
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, &local_error);
  if (socket == NULL)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "%s: %s", path, local_error->message);
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);
  address = g_unix_socket_address_new (path);
  if (!g_socket_connect (socket, address, NULL, &local_error))
    {
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PENDING))
        {
          g_set_error (error, MB_ERROR, MB_ERROR_IO, "cannot connect to %s: %s", path,
                       local_error->message);
          return NULL;
        }
      g_clear_error (&local_error);
      if (!wait_until (socket, G_IO_OUT, deadline, &local_error)
          || !g_socket_check_connect_result (socket, &local_error))
        {
          g_set_error (error, MB_ERROR, MB_ERROR_IO, "cannot connect to %s: %s", path,
                       local_error->message);
          return NULL;
        }
    }
  return g_steal_pointer (&socket);
}

static gboolean
send_line (GSocket *socket, const gchar *path, const gchar *line, gint64 deadline,
           GError **error)
{
  g_autofree gchar *data = g_strconcat (line, "\n", NULL);
  gsize length = strlen (data), done = 0;

  while (done < length)
    {
      g_autoptr(GError) local_error = NULL;
      /* GLib sends with MSG_NOSIGNAL: a peer gone is an error, not SIGPIPE. */
      gssize n = g_socket_send (socket, data + done, length - done, NULL, &local_error);

      if (n < 0 && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&local_error);
          if (wait_until (socket, G_IO_OUT, deadline, &local_error))
            continue;
        }
      if (n < 0)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_IO, "%s: cannot send the command: %s", path,
                       local_error->message);
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

/* Reads up to the first newline: the answer without it, or NULL. */
static GBytes *
receive_line (GSocket *socket, const gchar *path, gint timeout_s, gint64 deadline,
              GError **error)
{
  g_autoptr(GByteArray) answer = g_byte_array_new ();
  gchar chunk[65536];

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      const gchar *newline;
      gssize n;

      if (!wait_until (socket, G_IO_IN, deadline, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            g_set_error (error, MB_ERROR, MB_ERROR_TIMED_OUT, "%s: no answer within %d s",
                         path, timeout_s);
          else
            g_set_error (error, MB_ERROR, MB_ERROR_IO, "%s: %s", path, local_error->message);
          return NULL;
        }
      n = g_socket_receive (socket, chunk, sizeof chunk, NULL, &local_error);
      if (n < 0 && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        continue;
      if (n < 0)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_IO, "%s: cannot read the answer: %s", path,
                       local_error->message);
          return NULL;
        }
      if (n == 0)
        {
          if (answer->len == 0)
            g_set_error (error, MB_ERROR, MB_ERROR_IO,
                         "%s: the daemon closed the connection without answering", path);
          else
            g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                         "%s: the answer ends without a newline (%u bytes)", path, answer->len);
          return NULL;
        }
      newline = memchr (chunk, '\n', (gsize) n);
      g_byte_array_append (answer, (const guint8 *) chunk,
                           (guint) (newline != NULL ? newline - chunk : n));
      if (answer->len > MB_CTL_ANSWER_MAX)
        {
          g_set_error (error, MB_ERROR, MB_ERROR_INVALID,
                       "%s: the answer is longer than %u bytes", path, (guint) MB_CTL_ANSWER_MAX);
          return NULL;
        }
      if (newline != NULL)
        return g_byte_array_free_to_bytes (g_steal_pointer (&answer));
    }
}

static int
usage_error (const gchar *message)
{
  fprintf (stderr, PROGRAM ": %s\nTry '" PROGRAM " --help' for more information.\n", message);
  return EX_USAGE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *socket_path = NULL;
  g_auto(GStrv) words = NULL;
  gboolean json = FALSE, show_version = FALSE;
  gint timeout_s = DEFAULT_TIMEOUT_S;
  GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
      "The daemon's control socket (default " DEFAULT_SOCKET ")", "SOCKET" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the daemon's answer as it came (JSON)", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
      "Give up after this many seconds: connect and answer (default 60)", "SECONDS" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &show_version, "Print the version and exit", NULL },
    /* Bytes as they are (no locale conversion); checked to be UTF-8 below. */
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &words, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("COMMAND...");
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) send_error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GBytes) line = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree gchar *command = NULL;
  g_autofree gchar *complaints = NULL;
  const gchar *path;
  gint64 deadline;
  gsize length;
  const gchar *data;
  gboolean ok;

  g_option_context_set_summary (context,
                                "Sends COMMAND to the control socket of mini-balancer and "
                                "prints the answer.");
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (error->message);
  if (show_version)
    {
      printf (PROGRAM " %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (timeout_s < 1 || timeout_s > MAX_TIMEOUT_S)
    {
      g_autofree gchar *message =
        g_strdup_printf ("--timeout: %d is not a number of seconds from 1 to %d",
                         timeout_s, MAX_TIMEOUT_S);

      return usage_error (message);
    }
  if (socket_path != NULL && *socket_path == '\0')
    return usage_error ("--socket: an empty path");
  if (words == NULL || words[0] == NULL)
    return usage_error ("no command (try 'help')");
  command = command_line (words, &error);
  if (command == NULL)
    return usage_error (error->message);

  path = socket_path != NULL ? socket_path : DEFAULT_SOCKET;
  deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  socket = connect_to (path, deadline, &error);
  if (socket == NULL)
    {
      fprintf (stderr, PROGRAM ": %s\n", error->message);
      return EX_UNAVAILABLE;
    }
  /* A daemon that refuses us (a peer check, too many clients) answers and
   * closes before reading: its answer may be waiting although the send
   * failed, and says more than the send's error. */
  send_line (socket, path, command, deadline, &send_error);
  line = receive_line (socket, path, timeout_s, deadline, &error);
  g_socket_close (socket, NULL);
  if (line == NULL)
    {
      fprintf (stderr, PROGRAM ": %s\n", send_error != NULL ? send_error->message : error->message);
      return EX_UNAVAILABLE;
    }

  data = g_bytes_get_data (line, &length);
  answer = mb_ctl_answer_parse (data != NULL ? data : "", length, &error);
  if (answer == NULL)
    {
      fprintf (stderr, PROGRAM ": %s: %s\n", path, error->message);
      return EX_UNAVAILABLE;
    }
  ok = json_object_get_boolean_member (answer, "ok");
  if (json)
    {
      fwrite (data, 1, length, stdout);
      putchar ('\n');
    }
  else if (ok)
    {
      g_autofree gchar *text = mb_ctl_format_answer (command, answer);

      /* Not g_print(): it would turn UTF-8 into '?' in the C locale. */
      fputs (text, stdout);
    }
  complaints = mb_ctl_format_errors (PROGRAM, answer);
  fputs (complaints, stderr);
  return ok ? 0 : EXIT_REFUSED;
}
