/* Tests for src/duration.c */
#include "build-config.h"

#include "duration.h"
#include "error.h"
#include "testutil.h"

static const struct { const gchar *text; guint64 ms; } valid[] = {
  { "0", 0 }, { "30", 30000 }, { "500ms", 500 }, { "1s", 1000 }, { "5m", 300000 },
  { "1h", 3600000 }, { "720h", 30ULL * 24 * 3600 * 1000 }, { "2592000000ms", 2592000000ULL },
  { "007s", 7000 },
};

static const gchar *const invalid[] = {
  "", "s", "-1", "+1", "1.5s", "1h30m", " 5s", "5s ", "5S", "5 s", "5d", "5sec",
  "721h", "2592000001ms", "2592001", "99999999999999999999999999s", "0x10", "1e3",
};

START_TEST (test_valid)
{
  guint64 ms = G_MAXUINT64;
  g_autoptr(GError) error = NULL;

  ck_assert_msg (mb_duration_parse (valid[_i].text, &ms, &error), "'%s' rejected: %s",
                 valid[_i].text, error ? error->message : "");
  ck_assert_uint_eq (ms, valid[_i].ms);
}
END_TEST

START_TEST (test_invalid)
{
  guint64 ms = 42;
  g_autoptr(GError) error = NULL;

  ck_assert_msg (!mb_duration_parse (invalid[_i], &ms, &error), "'%s' accepted", invalid[_i]);
  ck_assert (g_error_matches (error, MB_ERROR, MB_ERROR_INVALID));
  assert_contains (error->message, "'%s'", invalid[_i]);
  ck_assert_uint_eq (ms, 42);
}
END_TEST

static Suite *
duration_suite (void)
{
  Suite *suite = suite_create ("duration");
  TCase *tc = tcase_create ("parse");

  tcase_add_loop_test (tc, test_valid, 0, G_N_ELEMENTS (valid));
  tcase_add_loop_test (tc, test_invalid, 0, G_N_ELEMENTS (invalid));
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (duration_suite)
