/* Tests for src/config-text.c */
#include "build-config.h"

#include "config-text.h"
#include "testutil.h"

START_TEST (test_comments_stripped_outside_quotes)
{
  g_autofree gchar *path = write_file (dir, "a.conf",
                                       "# heading\n"
                                       "a = \"x#y\" # trailing\n"
                                       "b = 'p#q'\n"
                                       "c = \"esc\\\"#still\" #gone\n");
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfigText) text = mb_config_text_read (path, errors);

  ck_assert_ptr_nonnull (text);
  ck_assert_uint_eq (errors->len, 0);
  ck_assert_ptr_null (strstr (text->text, "heading"));
  ck_assert_ptr_null (strstr (text->text, "trailing"));
  ck_assert_ptr_null (strstr (text->text, "gone"));
  assert_contains (text->text, "a = \"x#y\"");
  assert_contains (text->text, "b = 'p#q'");
  assert_contains (text->text, "c = \"esc\\\"#still\"");
  /* Line numbers survive: line 3 of the buffer is line 3 of the file. */
  ck_assert_int_eq (mb_config_text_locate (text, 3).line, 3);
  ck_assert_str_eq (mb_config_text_locate (text, 3).file, path);
}
END_TEST

START_TEST (test_include_relative_with_line_map)
{
  g_autofree gchar *sub = g_build_filename (dir, "sub.conf", NULL);
  g_autofree gchar *inc = write_file (dir, "inc.conf", "x = 1\n\ny = 2\n");
  g_autofree gchar *path = write_file (dir, "main.conf", "a = 1\ninclude(\"inc.conf\")\nb = 2\n");
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfigText) text = NULL;
  gchar **lines;
  gint y_line = 0, b_line = 0;

  /* Read from another working directory: the include is relative to the file. */
  g_assert (g_chdir ("/") == 0);
  text = mb_config_text_read (path, errors);
  ck_assert_ptr_nonnull (text);
  ck_assert_uint_eq (errors->len, 0);
  lines = g_strsplit (text->text, "\n", -1);
  for (gint i = 0; lines[i] != NULL; i++)
    {
      if (strstr (lines[i], "y = 2"))
        y_line = i + 1;
      if (strstr (lines[i], "b = 2"))
        b_line = i + 1;
    }
  g_strfreev (lines);
  ck_assert_int_gt (y_line, 0);
  ck_assert_str_eq (mb_config_text_locate (text, y_line).file, inc);
  ck_assert_int_eq (mb_config_text_locate (text, y_line).line, 3);
  ck_assert_str_eq (mb_config_text_locate (text, b_line).file, path);
  ck_assert_int_eq (mb_config_text_locate (text, b_line).line, 3);
  (void) sub;
}
END_TEST

START_TEST (test_include_missing)
{
  g_autofree gchar *path = write_file (dir, "main.conf", "\n\ninclude(\"nothere.conf\")\n");
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfigText) text = mb_config_text_read (path, errors);

  ck_assert_ptr_null (text);
  ck_assert_uint_eq (errors->len, 1);
  assert_contains (errors->pdata[0], "%s:3: include: cannot read", path);
  assert_contains (errors->pdata[0], "nothere.conf");
}
END_TEST

START_TEST (test_include_loop)
{
  g_autofree gchar *a = write_file (dir, "a.conf", "include(\"b.conf\")\n");
  g_autofree gchar *b = write_file (dir, "b.conf", "\ninclude(\"a.conf\")\n");
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfigText) text = mb_config_text_read (a, errors);

  ck_assert_ptr_null (text);
  ck_assert_uint_eq (errors->len, 1);
  assert_contains (errors->pdata[0], "%s:2: include:", b);
  assert_contains (errors->pdata[0], "includes itself");
}
END_TEST

START_TEST (test_nul_byte_rejected)
{
  g_autofree gchar *path = g_build_filename (dir, "nul.conf", NULL);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfigText) text = NULL;

  ck_assert (g_file_set_contents (path, "a = 1\0b", 7, NULL));
  text = mb_config_text_read (path, errors);
  ck_assert_ptr_null (text);
  assert_contains (errors->pdata[0], "NUL byte");
}
END_TEST

START_TEST (test_confuse_comments_stripped)
{
  /* libconfuse's other comment forms, with quotes in them that must not
   * start a string; "//x" and "a//b" are words to libconfuse, not comments. */
  g_autofree gchar *inc = write_file (dir, "inc.conf", "from_include = 1\n");
  g_autofree gchar *path = write_file (dir, "a.conf",
                                       "// don't\n"
                                       "include(\"inc.conf\")\n"
                                       "/* it's\n"
                                       "   \"still\" a comment */ a = 1 /// gone\n"
                                       "b = \"http://x\" //\"gone too\"\n"
                                       "c = //word\n"
                                       "d = x//y /**/e = 2\n");
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfigText) text = mb_config_text_read (path, errors);
  gchar **lines;
  gint e_line = 0;

  ck_assert_ptr_nonnull (text);
  ck_assert_uint_eq (errors->len, 0);
  assert_contains (text->text, "from_include = 1");
  ck_assert_ptr_null (strstr (text->text, "don't"));
  ck_assert_ptr_null (strstr (text->text, "still"));
  ck_assert_ptr_null (strstr (text->text, "gone"));
  ck_assert_ptr_null (strstr (text->text, "/*"));
  assert_contains (text->text, " a = 1 ");
  assert_contains (text->text, "b = \"http://x\" ");
  assert_contains (text->text, "c = //word");
  assert_contains (text->text, "d = x//y  e = 2");  /* the block comment leaves a blank */
  /* Every newline of the comments is kept: line numbers survive. */
  lines = g_strsplit (text->text, "\n", -1);
  for (gint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "e = 2"))
      e_line = i + 1;
  g_strfreev (lines);
  ck_assert_str_eq (mb_config_text_locate (text, e_line).file, path);
  ck_assert_int_eq (mb_config_text_locate (text, e_line).line, 7);
  (void) inc;
}
END_TEST

START_TEST (test_block_comment_unclosed)
{
  g_autofree gchar *path = write_file (dir, "a.conf", "a = 1\n/* open\n\nb = 2\n");
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MbConfigText) text = mb_config_text_read (path, errors);

  ck_assert_ptr_null (text);
  ck_assert_uint_eq (errors->len, 1);
  assert_contains (errors->pdata[0], "%s:2: '/*' comment is not closed", path);
}
END_TEST

static Suite *
config_text_suite (void)
{
  Suite *suite = suite_create ("config-text");
  TCase *tc = tcase_create ("read");

  tcase_add_checked_fixture (tc, dir_setup, dir_teardown);
  tcase_add_test (tc, test_comments_stripped_outside_quotes);
  tcase_add_test (tc, test_confuse_comments_stripped);
  tcase_add_test (tc, test_block_comment_unclosed);
  tcase_add_test (tc, test_include_relative_with_line_map);
  tcase_add_test (tc, test_include_missing);
  tcase_add_test (tc, test_include_loop);
  tcase_add_test (tc, test_nul_byte_rejected);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (config_text_suite)
