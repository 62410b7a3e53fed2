/* Tests for src/relay.c: the pumps between two sockets, without the daemon.
 *
 * The relay runs on this thread's main loop between two socket pairs (unix
 * socketpairs, or loopback TCP pairs where resets matter); "peers" in
 * threads of their own play the client and the backend with blocking I/O.
 * Each test runs on the copy path and on the splice path (MB_RELAY_SPLICE,
 * read once per process: check forks a process per test).  On the splice
 * path a pump copies small reads and splices bulk transfers (relay.c,
 * "Paths"): the process-wide counts of bytes by path show which it took.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "error.h"
#include "poller.h"
#include "relay.h"
#include "testutil.h"

#define GUARD_MS 20000

/* ------------------------------------------------------------------ */
/* Socket pairs */

static void
set_nonblocking (int fd)
{
  ck_assert_int_eq (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK), 0);
}

static void
unix_pair (int *user, int *relay_end)
{
  int fds[2];

  ck_assert_int_eq (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  *user = fds[0];
  *relay_end = fds[1];
  set_nonblocking (*relay_end);
}

static void
tcp_pair (int *user, int *relay_end)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;

  ck_assert_int_ge (listener, 0);
  ck_assert_int_eq (bind (listener, (struct sockaddr *) &addr, sizeof addr), 0);
  ck_assert_int_eq (getsockname (listener, (struct sockaddr *) &addr, &len), 0);
  ck_assert_int_eq (listen (listener, 1), 0);
  *user = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_eq (connect (*user, (struct sockaddr *) &addr, sizeof addr), 0);
  *relay_end = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  ck_assert_int_ge (*relay_end, 0);
  close (listener);
  /* Without it the peer's kernel would hold its last small segment for an
   * acknowledgement (Nagle), and a reset right after would throw it away
   * before the relay ever sees it. */
  ck_assert_int_eq (setsockopt (*user, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  set_nonblocking (*relay_end);
}

/* ------------------------------------------------------------------ */
/* Peers: one thread each, blocking I/O */

typedef enum { END_NONE, END_EOF, END_RESET, END_ERROR } End;

typedef struct {
  int fd;
  gsize send_len;          /* bytes to send: byte k is (k * 7 + seed) & 0xff */
  guint8 seed;
  gboolean send_after_eof; /* wait for the other side's EOF before sending */
  gboolean reset_after;    /* then reset instead of SHUT_WR */
  gboolean wait_acked;     /* before that reset, until all it sent is acknowledged */
  gboolean no_read;        /* never read */
  gsize read_limit;        /* stop reading after this many bytes (0: no limit) */
  gboolean keep_open;      /* no SHUT_WR after sending */
  /* results */
  gsize received;
  gboolean pattern_ok;     /* the received bytes are the other peer's pattern */
  guint8 expect_seed;
  End end;
  GThread *thread;
} Peer;

/* Bytes FD sent that its peer has not acknowledged. */
static int
unacknowledged (int fd)
{
  int queued = 0;

  ck_assert_int_eq (ioctl (fd, SIOCOUTQ, &queued), 0);
  return queued;
}

static void
peer_send (Peer *peer)
{
  guint8 chunk[16384];
  gsize sent = 0;

  while (sent < peer->send_len)
    {
      gsize n = MIN (sizeof chunk, peer->send_len - sent);
      ssize_t w;

      for (gsize k = 0; k < n; k++)
        chunk[k] = (guint8) ((sent + k) * 7 + peer->seed);
      w = send (peer->fd, chunk, n, MSG_NOSIGNAL);
      if (w < 0)
        return;
      sent += (gsize) w;
    }
  if (peer->reset_after && peer->wait_acked)
    {
      /* A reset throws away what the relay has not acknowledged yet. */
      for (gint k = 0; k < GUARD_MS && unacknowledged (peer->fd) > 0; k++)
        g_usleep (1000);
    }
  if (peer->reset_after)
    {
      struct linger linger = { 1, 0 };

      /* close() in peer_main() is then the reset. */
      setsockopt (peer->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    }
  else if (!peer->keep_open)
    shutdown (peer->fd, SHUT_WR);
}

static void
peer_read (Peer *peer)
{
  guint8 buffer[65536];

  if (peer->received == 0)
    peer->pattern_ok = TRUE;
  for (;;)
    {
      gsize want = sizeof buffer;
      ssize_t n;

      if (peer->read_limit > 0)
        {
          if (peer->received >= peer->read_limit)
            return;
          want = MIN (want, peer->read_limit - peer->received);
        }
      n = recv (peer->fd, buffer, want, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          peer->end = errno == ECONNRESET ? END_RESET : END_ERROR;
          return;
        }
      if (n == 0)
        {
          peer->end = END_EOF;
          return;
        }
      for (ssize_t k = 0; k < n; k++)
        if (buffer[k] != (guint8) ((peer->received + (gsize) k) * 7 + peer->expect_seed))
          peer->pattern_ok = FALSE;
      peer->received += (gsize) n;
    }
}

static gpointer
peer_main (gpointer data)
{
  Peer *peer = data;
  GThread *sender = NULL;

  if (!peer->send_after_eof)
    sender = g_thread_new ("send", (GThreadFunc) (void (*) (void)) peer_send, peer);
  if (!peer->no_read)
    peer_read (peer);
  if (peer->send_after_eof)
    peer_send (peer);
  if (sender != NULL)
    g_thread_join (sender);
  if (peer->reset_after)
    {
      close (peer->fd);
      peer->fd = -1;
    }
  return NULL;
}

static void
peer_start (Peer *peer)
{
  peer->thread = g_thread_new ("peer", peer_main, peer);
}

/* Waits for the peer's thread; its socket stays open. */
static void
peer_wait (Peer *peer)
{
  g_thread_join (peer->thread);
}

static void
peer_join (Peer *peer)
{
  peer_wait (peer);
  if (peer->fd >= 0)
    close (peer->fd);
}

/* ------------------------------------------------------------------ */
/* The relay on this thread's loop */

typedef struct {
  GMainLoop *loop;
  int client, backend;     /* the relay's ends */
  gboolean done;
  GError *error;
  guint64 from_client, to_client;
  guint64 counted_from_client[2], counted_to_client[2];   /* the relay's counters */
  guint64 spliced, copied;  /* bytes by path during the run (the process's counts) */
} Run;

static void
on_done (MbRelay *relay, const GError *error, gpointer data)
{
  Run *run = data;

  run->done = TRUE;
  run->error = error ? g_error_copy (error) : NULL;
  run->from_client = mb_relay_bytes_from_client (relay);
  run->to_client = mb_relay_bytes_to_client (relay);
  mb_relay_free (relay);
  /* The owner closes both sockets right away (relay.h). */
  close (run->client);
  close (run->backend);
  g_main_loop_quit (run->loop);
}

static gboolean
on_guard (gpointer data)
{
  ck_abort_msg ("the relay did not end within %d ms", GUARD_MS);
  return G_SOURCE_REMOVE;
}

static void
run_relay (Run *run, guint64 idle_timeout_ms)
{
  guint guard = g_timeout_add (GUARD_MS, on_guard, NULL);
  guint64 spliced = mb_relay_bytes_spliced ();
  guint64 copied = mb_relay_bytes_copied ();

  MbRelayCounters counters = {
    .from_client = { &run->counted_from_client[0], &run->counted_from_client[1] },
    .to_client = { &run->counted_to_client[0], NULL },
  };

  run->loop = g_main_loop_new (NULL, FALSE);
  mb_relay_new (run->client, run->backend, NULL, idle_timeout_ms, &counters, on_done, run);
  g_main_loop_run (run->loop);
  g_source_remove (guard);
  g_main_loop_unref (run->loop);
  ck_assert (run->done);
  run->spliced = mb_relay_bytes_spliced () - spliced;
  run->copied = mb_relay_bytes_copied () - copied;
}

static void
setup (void)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (mb_poller_init (&error), "%s", error ? error->message : "?");
}

static void
teardown (void)
{
  mb_relay_thread_cleanup ();
  mb_poller_free ();
}

/* Loop tests: _i = 0 copies through buffers, _i = 1 splices. */
static void
choose_path (int i)
{
  g_setenv ("MB_RELAY_SPLICE", i == 0 ? "0" : "1", TRUE);
}

/* A run of test I moved bytes through pipes if and only if it splices:
 * the splice path's own handling was tested, not only the buffer's. */
static void
assert_path (int i, guint64 spliced)
{
  if (i == 0)
    ck_assert_uint_eq (spliced, 0);
  else
    ck_assert_uint_gt (spliced, 0);
}

/* ------------------------------------------------------------------ */

/* Bytes pass unmodified both ways at once, larger than every buffer; EOF
 * passes on both ways; the relay ends cleanly. */
START_TEST (test_both_ways)
{
  Peer client = { .send_len = 3 << 20, .seed = 1, .expect_seed = 2 };
  Peer backend = { .send_len = 5 << 20, .seed = 2, .expect_seed = 1 };
  Run run = { 0 };

  choose_path (_i);
  unix_pair (&client.fd, &run.client);
  unix_pair (&backend.fd, &run.backend);
  peer_start (&client);
  peer_start (&backend);
  run_relay (&run, 0);
  peer_join (&client);
  peer_join (&backend);
  ck_assert_msg (run.error == NULL, "%s", run.error ? run.error->message : "");
  ck_assert_uint_eq (backend.received, 3 << 20);
  ck_assert_uint_eq (client.received, 5 << 20);
  ck_assert (backend.pattern_ok && client.pattern_ok);
  ck_assert_int_eq (client.end, END_EOF);
  ck_assert_int_eq (backend.end, END_EOF);
  ck_assert_uint_eq (run.from_client, 3 << 20);
  ck_assert_uint_eq (run.to_client, 5 << 20);
  /* Every byte read was added to every counter given (NULL skipped). */
  ck_assert_uint_eq (run.counted_from_client[0], 3 << 20);
  ck_assert_uint_eq (run.counted_from_client[1], 3 << 20);
  ck_assert_uint_eq (run.counted_to_client[0], 5 << 20);
  /* Each byte read is counted once, by the path that moved it: a bulk
   * transfer mostly through pipes when splice() is on, never otherwise. */
  ck_assert_uint_eq (run.spliced + run.copied, 8 << 20);
  if (_i == 0)
    ck_assert_uint_eq (run.spliced, 0);
  else
    ck_assert_msg (run.spliced >= (8 << 20) / 4 * 3, "%" G_GUINT64_FORMAT " of %d bytes spliced",
                   run.spliced, 8 << 20);
}
END_TEST

/* The client's EOF reaches the backend, which answers only then: the other
 * direction keeps flowing after the first one ended. */
START_TEST (test_half_close)
{
  Peer client = { .send_len = 1000, .seed = 3, .expect_seed = 4 };
  Peer backend = { .send_len = 1 << 20, .seed = 4, .expect_seed = 3, .send_after_eof = TRUE };
  Run run = { 0 };

  choose_path (_i);
  unix_pair (&client.fd, &run.client);
  unix_pair (&backend.fd, &run.backend);
  peer_start (&client);
  peer_start (&backend);
  run_relay (&run, 0);
  peer_join (&client);
  peer_join (&backend);
  ck_assert_msg (run.error == NULL, "%s", run.error ? run.error->message : "");
  ck_assert_uint_eq (backend.received, 1000);
  ck_assert_uint_eq (client.received, 1 << 20);
  ck_assert (backend.pattern_ok && client.pattern_ok);
  ck_assert_int_eq (client.end, END_EOF);
}
END_TEST

/* The backend writes its answer and resets: the client gets all of the
 * answer, then the reset (as over a direct connection).  A short answer
 * (_i 0 and 1), copied whichever the path; a bulk one (_i 2 and 3), which
 * the splice path moves through pipes, acknowledged by the relay before
 * the reset (which would throw away what is not). */
START_TEST (test_backend_reset_after_answer)
{
  gsize len = _i < 2 ? 48 * 1024 : 4 << 20;
  Peer client = { .expect_seed = 5, .keep_open = TRUE };
  Peer backend = { .send_len = len, .seed = 5, .reset_after = TRUE, .wait_acked = TRUE,
                   .no_read = TRUE };
  Run run = { 0 };

  choose_path (_i % 2);
  tcp_pair (&client.fd, &run.client);
  tcp_pair (&backend.fd, &run.backend);
  peer_start (&client);
  peer_start (&backend);
  run_relay (&run, 0);
  peer_join (&client);
  peer_join (&backend);
  ck_assert_msg (client.received == len, "client got %zu bytes; the relay read %" G_GUINT64_FORMAT " (%s)", client.received, run.to_client, run.error ? run.error->message : "");
  ck_assert (client.pattern_ok);
  ck_assert_int_eq (client.end, END_RESET);
  ck_assert (run.error != NULL);
  assert_contains (run.error->message, "backend: ");
  if (_i < 2)
    ck_assert_uint_eq (run.spliced, 0);
  else
    assert_path (_i % 2, run.spliced);
}
END_TEST

/* Same the other way. */
START_TEST (test_client_reset_after_request)
{
  gsize len = _i < 2 ? 48 * 1024 : 4 << 20;
  Peer client = { .send_len = len, .seed = 6, .reset_after = TRUE, .wait_acked = TRUE,
                  .no_read = TRUE };
  Peer backend = { .expect_seed = 6, .keep_open = TRUE };
  Run run = { 0 };

  choose_path (_i % 2);
  tcp_pair (&client.fd, &run.client);
  tcp_pair (&backend.fd, &run.backend);
  peer_start (&client);
  peer_start (&backend);
  run_relay (&run, 0);
  peer_join (&client);
  peer_join (&backend);
  ck_assert_uint_eq (backend.received, len);
  ck_assert (backend.pattern_ok);
  ck_assert_int_eq (backend.end, END_RESET);
  ck_assert (run.error != NULL);
  assert_contains (run.error->message, "client: ");
  if (_i < 2)
    ck_assert_uint_eq (run.spliced, 0);
  else
    assert_path (_i % 2, run.spliced);
}
END_TEST

/* Nothing moves for the idle timeout while bytes wait toward a client that
 * stopped reading: both sides are reset, so the client cannot take the cut
 * stream for a whole one.  It reads 1 MiB first: a bulk transfer, whose
 * bytes wait in a pipe on the splice path. */
START_TEST (test_idle_timeout_with_bytes_waiting)
{
  Peer client = { .expect_seed = 7, .read_limit = 1 << 20, .keep_open = TRUE };
  Peer backend = { .send_len = 64 << 20, .seed = 7, .keep_open = TRUE };
  Run run = { 0 };

  choose_path (_i);
  tcp_pair (&client.fd, &run.client);
  tcp_pair (&backend.fd, &run.backend);
  peer_start (&client);
  peer_start (&backend);
  run_relay (&run, 200);
  ck_assert (g_error_matches (run.error, MB_ERROR, MB_ERROR_TIMED_OUT));
  assert_contains (run.error->message, "undelivered");
  assert_path (_i, run.spliced);
  peer_wait (&client);      /* it read its 1 MiB */
  client.read_limit = 0;
  peer_read (&client);      /* the bytes that had reached it, then the reset */
  ck_assert_uint_gt (client.received, 1 << 20);
  ck_assert (client.pattern_ok);
  ck_assert_int_eq (client.end, END_RESET);
  peer_join (&backend);     /* its send failed: reset */
  close (client.fd);
}
END_TEST

/* Nothing waiting: the idle timeout ends both sides with EOF. */
START_TEST (test_idle_timeout_clean)
{
  Peer client = { .expect_seed = 8, .keep_open = TRUE };
  Peer backend = { .expect_seed = 8, .keep_open = TRUE };
  Run run = { 0 };

  choose_path (_i);
  tcp_pair (&client.fd, &run.client);
  tcp_pair (&backend.fd, &run.backend);
  peer_start (&client);
  peer_start (&backend);
  run_relay (&run, 100);
  ck_assert (g_error_matches (run.error, MB_ERROR, MB_ERROR_TIMED_OUT));
  ck_assert_str_eq (run.error->message, "idle for 100 ms");
  peer_join (&client);
  peer_join (&backend);
  ck_assert_int_eq (client.end, END_EOF);
  ck_assert_int_eq (backend.end, END_EOF);
}
END_TEST

/* mb_relay_free() mid-stream (the owner ends the session: shutdown) with
 * bytes waiting resets; the sockets are left to the owner. */
static gboolean
free_mid_stream (gpointer data)
{
  Run *run = data;

  g_main_loop_quit (run->loop);
  return G_SOURCE_REMOVE;
}

START_TEST (test_free_with_bytes_waiting_resets)
{
  Peer client = { .expect_seed = 9, .read_limit = 1 << 20, .keep_open = TRUE };
  Peer backend = { .send_len = 64 << 20, .seed = 9, .keep_open = TRUE };
  int client_end, backend_end;
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);
  Run run = { .loop = loop };
  MbRelay *relay;
  guint64 spliced = mb_relay_bytes_spliced ();

  choose_path (_i);
  tcp_pair (&client.fd, &client_end);
  tcp_pair (&backend.fd, &backend_end);
  peer_start (&client);
  peer_start (&backend);
  relay = mb_relay_new (client_end, backend_end, NULL, 0, NULL, on_done, &run);
  g_timeout_add (300, free_mid_stream, &run);
  g_main_loop_run (loop);
  ck_assert (!run.done);
  /* With bytes waiting in a pipe on the splice path. */
  assert_path (_i, mb_relay_bytes_spliced () - spliced);
  mb_relay_free (relay);
  close (client_end);
  close (backend_end);
  peer_wait (&client);
  client.read_limit = 0;
  peer_read (&client);
  ck_assert (client.pattern_ok);
  ck_assert_int_eq (client.end, END_RESET);
  peer_join (&backend);
  close (client.fd);
  g_main_loop_unref (loop);
}
END_TEST

/* A conversation: the backend sends BULK bytes, then answers each of the
 * client's ROUNDS requests of MESSAGE bytes with as many bytes; then the
 * client sends EOF and the backend answers with its own. */
typedef struct {
  int client, backend;     /* the peers' ends */
  gsize bulk;
  guint rounds;
  gsize message;
  /* results */
  gboolean client_ok, backend_ok;
  guint64 spliced_after_bulk;   /* mb_relay_bytes_spliced() once the client had the bulk */
  guint64 spliced_halfway;      /* ... and halfway through the rounds */
  GThread *threads[2];
} Chat;

static gboolean
send_exact (int fd, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Reads LEN bytes; with DATA NULL, throws them away. */
static gboolean
recv_exact (int fd, guint8 *data, gsize len)
{
  guint8 sink[65536];

  while (len > 0)
    {
      ssize_t n = recv (fd, data != NULL ? data : sink, data != NULL ? len : MIN (len, sizeof sink), 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      if (data != NULL)
        data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gpointer
chat_client (gpointer data)
{
  Chat *chat = data;
  g_autofree guint8 *request = g_malloc (chat->message);
  g_autofree guint8 *answer = g_malloc (chat->message);
  guint8 end;

  if (!recv_exact (chat->client, NULL, chat->bulk))
    return NULL;
  /* All of the bulk was read by the relay, so counted. */
  chat->spliced_after_bulk = mb_relay_bytes_spliced ();
  for (guint r = 0; r < chat->rounds; r++)
    {
      if (r == chat->rounds / 2)
        chat->spliced_halfway = mb_relay_bytes_spliced ();
      memset (request, 'a' + r % 26, chat->message);
      if (!send_exact (chat->client, request, chat->message)
          || !recv_exact (chat->client, answer, chat->message)
          || memcmp (answer, request, chat->message) != 0)
        return NULL;
    }
  shutdown (chat->client, SHUT_WR);
  chat->client_ok = recv (chat->client, &end, 1, 0) == 0;
  return NULL;
}

static gpointer
chat_backend (gpointer data)
{
  Chat *chat = data;
  g_autofree guint8 *bulk = g_malloc0 (MAX (chat->bulk, 1));
  g_autofree guint8 *request = g_malloc (chat->message);
  guint8 end;

  if (!send_exact (chat->backend, bulk, chat->bulk))
    return NULL;
  for (guint r = 0; r < chat->rounds; r++)
    if (!recv_exact (chat->backend, request, chat->message)
        || !send_exact (chat->backend, request, chat->message))
      return NULL;
  chat->backend_ok = recv (chat->backend, &end, 1, 0) == 0;
  shutdown (chat->backend, SHUT_WR);
  return NULL;
}

static void
chat_run (Chat *chat, Run *run)
{
  tcp_pair (&chat->client, &run->client);
  tcp_pair (&chat->backend, &run->backend);
  chat->threads[0] = g_thread_new ("client", chat_client, chat);
  chat->threads[1] = g_thread_new ("backend", chat_backend, chat);
  run_relay (run, 0);
  g_thread_join (chat->threads[0]);
  g_thread_join (chat->threads[1]);
  close (chat->client);
  close (chat->backend);
  ck_assert_msg (run->error == NULL, "%s", run->error ? run->error->message : "");
  ck_assert_msg (chat->client_ok && chat->backend_ok, "the conversation failed (client %d, backend %d)",
                 chat->client_ok, chat->backend_ok);
}

/* Small requests and answers, many times: every byte is copied, none goes
 * through a pipe, whichever path is on (a pipe would cost more than it
 * saves). */
START_TEST (test_small_exchanges_copy)
{
  Chat chat = { .rounds = 300, .message = 64 };
  Run run = { 0 };

  choose_path (_i);
  chat_run (&chat, &run);
  ck_assert_uint_eq (run.spliced, 0);
  ck_assert_uint_eq (run.copied, 2 * 300 * 64);
  ck_assert_uint_eq (run.from_client, 300 * 64);
  ck_assert_uint_eq (run.to_client, 300 * 64);
}
END_TEST

/* A bulk transfer and then small exchanges in the same direction: the bulk
 * goes mostly through pipes (splice path), and once the answers are small
 * again the pump copies them: the second half of the exchanges moves no
 * byte through a pipe. */
START_TEST (test_copy_again_after_bulk)
{
  Chat chat = { .bulk = 8 << 20, .rounds = 200, .message = 100 };
  Run run = { 0 };
  guint64 before = mb_relay_bytes_spliced ();

  choose_path (_i);
  chat_run (&chat, &run);
  ck_assert_uint_eq (run.spliced + run.copied, (8 << 20) + 2 * 200 * 100);
  if (_i == 0)
    {
      ck_assert_uint_eq (run.spliced, 0);
      return;
    }
  ck_assert_msg (chat.spliced_after_bulk - before >= (8 << 20) / 4 * 3,
                 "%" G_GUINT64_FORMAT " bytes of the bulk spliced", chat.spliced_after_bulk - before);
  ck_assert_msg (mb_relay_bytes_spliced () == chat.spliced_halfway,
                 "%" G_GUINT64_FORMAT " bytes of the second half of the exchanges spliced",
                 mb_relay_bytes_spliced () - chat.spliced_halfway);
}
END_TEST

static Suite *
relay_suite (void)
{
  Suite *s = suite_create ("relay");
  TCase *tc = tcase_create ("relay");

  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_loop_test (tc, test_both_ways, 0, 2);
  tcase_add_loop_test (tc, test_half_close, 0, 2);
  tcase_add_loop_test (tc, test_backend_reset_after_answer, 0, 4);
  tcase_add_loop_test (tc, test_client_reset_after_request, 0, 4);
  tcase_add_loop_test (tc, test_idle_timeout_with_bytes_waiting, 0, 2);
  tcase_add_loop_test (tc, test_idle_timeout_clean, 0, 2);
  tcase_add_loop_test (tc, test_free_with_bytes_waiting_resets, 0, 2);
  tcase_add_loop_test (tc, test_small_exchanges_copy, 0, 2);
  tcase_add_loop_test (tc, test_copy_again_after_bulk, 0, 2);
  suite_add_tcase (s, tc);
  return s;
}

RUN_SUITE (relay_suite)
