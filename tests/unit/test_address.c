/* Tests for src/address.c */
#include "build-config.h"

#include "address.h"
#include "error.h"
#include "testutil.h"

static const struct { const gchar *text; gboolean wildcard; const gchar *host; guint16 port; } valid[] = {
  { "127.0.0.1:7070", FALSE, "127.0.0.1", 7070 },
  { "[::1]:80", FALSE, "::1", 80 },
  { "[2001:db8::17]:65535", FALSE, "2001:db8::17", 65535 },
  { "localhost:1", FALSE, "localhost", 1 },
  { "backend-1.example.org:8080", FALSE, "backend-1.example.org", 8080 },
  { "*:7070", TRUE, NULL, 7070 },
};

static const struct { const gchar *text; gboolean wildcard; const gchar *why; } invalid[] = {
  { "127.0.0.1", FALSE, "expected host:port" },
  { "127.0.0.1:", FALSE, "missing port" },
  { "127.0.0.1:0", FALSE, "1 to 65535" },
  { "127.0.0.1:65536", FALSE, "1 to 65535" },
  { "127.0.0.1:99999999999999999999", FALSE, "1 to 65535" },
  { "127.0.0.1:-1", FALSE, "1 to 65535" },
  { "127.0.0.1:80x", FALSE, "1 to 65535" },
  { "::1:80", FALSE, "in brackets" },
  { "[::1:80", FALSE, "[IPv6 address]:port" },
  { "[::1]80", FALSE, "[IPv6 address]:port" },
  { "[127.0.0.1]:80", FALSE, "not an IPv6 address" },
  { "[]:80", FALSE, "not an IPv6 address" },
  { ":80", FALSE, "not a host name" },
  { "bad host:80", FALSE, "not a host name" },
  { "-x:80", FALSE, "not a host name" },
  { "*:80", FALSE, "only allowed in bind_on" },
  { "", FALSE, "expected host:port" },
};

START_TEST (test_parse_valid)
{
  g_autofree gchar *host = NULL;
  guint16 port = 0;
  g_autoptr(GError) error = NULL;

  ck_assert_msg (mb_address_parse (valid[_i].text, valid[_i].wildcard, &host, &port, &error),
                 "'%s' rejected: %s", valid[_i].text, error ? error->message : "");
  ck_assert_str_eq (host ? host : "(any)", valid[_i].host ? valid[_i].host : "(any)");
  ck_assert_uint_eq (port, valid[_i].port);
}
END_TEST

START_TEST (test_parse_invalid)
{
  g_autofree gchar *host = NULL;
  guint16 port = 0;
  g_autoptr(GError) error = NULL;

  ck_assert_msg (!mb_address_parse (invalid[_i].text, invalid[_i].wildcard, &host, &port, &error),
                 "'%s' accepted", invalid[_i].text);
  ck_assert (g_error_matches (error, MB_ERROR, MB_ERROR_INVALID));
  assert_contains (error->message, "'%s'", invalid[_i].text);
  assert_contains (error->message, "%s", invalid[_i].why);
  ck_assert_ptr_null (host);
}
END_TEST

START_TEST (test_resolve_literals)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) v4 = mb_address_resolve ("127.0.0.1", 80, &error);
  g_autoptr(GPtrArray) v6 = mb_address_resolve ("::1", 443, &error);
  g_autofree gchar *s4 = NULL, *s6 = NULL;

  ck_assert_ptr_nonnull (v4);
  ck_assert_ptr_nonnull (v6);
  ck_assert_uint_eq (v4->len, 1);
  ck_assert_uint_eq (v6->len, 1);
  s4 = mb_address_to_string (v4->pdata[0]);
  s6 = mb_address_to_string (v6->pdata[0]);
  ck_assert_str_eq (s4, "127.0.0.1:80");
  ck_assert_str_eq (s6, "[::1]:443");
}
END_TEST

START_TEST (test_mapped_ipv4_shown_as_ipv4)
{
  g_autoptr(GInetAddress) mapped = g_inet_address_new_from_string ("::ffff:192.0.2.7");
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (mapped, 5555);
  g_autofree gchar *text = mb_address_to_string (address);

  ck_assert_str_eq (text, "192.0.2.7:5555");
}
END_TEST

START_TEST (test_resolve_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = mb_address_resolve ("localhost", 8080, &error);

  ck_assert_msg (found != NULL, "localhost: %s", error ? error->message : "");
  ck_assert_uint_ge (found->len, 1);
  for (guint i = 0; i < found->len; i++)
    {
      GInetAddress *inet = g_inet_socket_address_get_address (found->pdata[i]);
      ck_assert (g_inet_address_get_is_loopback (inet));
      ck_assert_uint_eq (g_inet_socket_address_get_port (found->pdata[i]), 8080);
    }
}
END_TEST

START_TEST (test_resolve_failure)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = mb_address_resolve ("no-such-host.invalid", 80, &error);

  ck_assert_ptr_null (found);
  ck_assert (g_error_matches (error, MB_ERROR, MB_ERROR_RESOLVE));
  assert_contains (error->message, "cannot resolve 'no-such-host.invalid'");
}
END_TEST

static Suite *
address_suite (void)
{
  Suite *suite = suite_create ("address");
  TCase *parse = tcase_create ("parse");
  TCase *resolve = tcase_create ("resolve");

  tcase_add_loop_test (parse, test_parse_valid, 0, G_N_ELEMENTS (valid));
  tcase_add_loop_test (parse, test_parse_invalid, 0, G_N_ELEMENTS (invalid));
  tcase_add_test (resolve, test_resolve_literals);
  tcase_add_test (resolve, test_mapped_ipv4_shown_as_ipv4);
  tcase_add_test (resolve, test_resolve_name);
  tcase_add_test (resolve, test_resolve_failure);
  tcase_set_timeout (resolve, 30);
  suite_add_tcase (suite, parse);
  suite_add_tcase (suite, resolve);
  return suite;
}

RUN_SUITE (address_suite)
