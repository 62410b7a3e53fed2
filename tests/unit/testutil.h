/* testutil.h - small helpers shared by the unit tests. */
#pragma once

#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

/* A fresh temporary directory; removed (with its files) by tmpdir_free(). */
static inline gchar *
tmpdir_new (void)
{
  g_autoptr(GError) error = NULL;
  gchar *path = g_dir_make_tmp ("mb-unit-XXXXXX", &error);

  ck_assert_msg (path != NULL, "g_dir_make_tmp: %s", error ? error->message : "?");
  return path;
}

static inline void
tmpdir_free (gchar *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *file = g_build_filename (path, name, NULL);
      g_remove (file);
    }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (path);
  g_free (path);
}

/* A checked fixture giving each test a fresh directory in `dir`. */
static gchar *dir;

static inline void
dir_setup (void)
{
  dir = tmpdir_new ();
}

static inline void
dir_teardown (void)
{
  tmpdir_free (dir);
}

/* Writes CONTENT to DIRECTORY/NAME and returns the path. */
static inline gchar *
write_file (const gchar *directory, const gchar *name, const gchar *content)
{
  gchar *path = g_build_filename (directory, name, NULL);

  ck_assert_msg (g_file_set_contents (path, content, -1, NULL), "cannot write %s", path);
  return path;
}

/* Asserts that HAYSTACK contains the printf-formatted NEEDLE. */
#define assert_contains(haystack, ...)                                              \
  G_STMT_START {                                                                    \
    const gchar *haystack_ = (const gchar *) (haystack);                            \
    g_autofree gchar *needle_ = g_strdup_printf (__VA_ARGS__);                      \
    ck_assert_msg (haystack_ != NULL && strstr (haystack_, needle_) != NULL,        \
                   "expected \"%s\" in:\n%s", needle_, haystack_ ? haystack_ : "(null)"); \
  } G_STMT_END

#define RUN_SUITE(suite_fn)                                   \
  int main (void)                                             \
  {                                                           \
    SRunner *runner = srunner_create (suite_fn ());           \
    int failed;                                               \
    srunner_run_all (runner, CK_NORMAL);                      \
    failed = srunner_ntests_failed (runner);                  \
    srunner_free (runner);                                    \
    return failed == 0 ? 0 : 1;                               \
  }
