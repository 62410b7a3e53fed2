/* Tests for the status page compiled into the library as a GResource
 * (src/status.gresource.xml): the HTTP server finds it by its path. */
#include "build-config.h"

#include <gio/gio.h>

#include "status-resource.h"
#include "testutil.h"

#define PAGE_PATH "/org/mini-balancer/status.html"

START_TEST (test_page_is_the_source_file)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) page = NULL;
  g_autofree gchar *source = NULL;
  gsize length = 0;

  /* From a static library the resource is linked, and so registers itself,
   * only when something refers to it: what http.c must do too. */
  ck_assert_ptr_nonnull (mb_status_get_resource ());
  page = g_resources_lookup_data (PAGE_PATH, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  ck_assert_msg (page != NULL, "%s: %s", PAGE_PATH, error ? error->message : "?");
  ck_assert_msg (g_file_get_contents (STATUS_HTML, &source, &length, &error), "%s: %s",
                 STATUS_HTML, error ? error->message : "?");
  ck_assert_uint_eq (g_bytes_get_size (page), length);
  ck_assert (memcmp (g_bytes_get_data (page, NULL), source, length) == 0);
}
END_TEST

START_TEST (test_nothing_else)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  ck_assert_ptr_nonnull (mb_status_get_resource ());
  names = g_resources_enumerate_children ("/org/mini-balancer/", G_RESOURCE_LOOKUP_FLAGS_NONE,
                                          &error);
  ck_assert_msg (names != NULL, "%s", error ? error->message : "?");
  ck_assert_uint_eq (g_strv_length (names), 1);
  ck_assert_str_eq (names[0], "status.html");
}
END_TEST

static Suite *
status_resource_suite (void)
{
  Suite *suite = suite_create ("status_resource");
  TCase *tc = tcase_create ("lookup");

  tcase_add_test (tc, test_page_is_the_source_file);
  tcase_add_test (tc, test_nothing_else);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (status_resource_suite)
