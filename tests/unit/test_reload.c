/* Tests for src/reload.c: the plan between two configurations loaded from
 * real files (both syntaxes), with IP literals only so that nothing
 * resolves a name. */
#include "build-config.h"

#include "config.h"
#include "reload.h"
#include "testutil.h"

/* The two frontends most tests start from: three backends in all. */
#define APPS                                                   \
  "  backend app1 { forward_to = \"127.0.0.1:8080\" }\n"       \
  "  backend app2 { forward_to = \"127.0.0.1:8081\" }\n"
#define WEB_ON(bind_on, body)                                  \
  "frontend web {\n"                                           \
  "  bind_on = \"" bind_on "\"\n"                              \
  body                                                         \
  "}\n"
#define WEB WEB_ON ("127.0.0.1:7070", APPS)
#define API_ON(bind_on)                                        \
  "frontend api {\n"                                           \
  "  bind_on = \"" bind_on "\"\n"                              \
  "  backend a { forward_to = \"127.0.0.1:9090\" }\n"          \
  "}\n"
#define API API_ON ("127.0.0.1:7071")
#define BASE WEB API

/* Each test's configurations and plan, freed by the fixture. */
static MbConfig *old_config, *new_config;
static MbReloadPlan *plan;

static void
reload_setup (void)
{
  dir_setup ();
}

static void
reload_teardown (void)
{
  /* The plan points into both configurations: free it first. */
  g_clear_pointer (&plan, mb_reload_plan_free);
  g_clear_pointer (&new_config, mb_config_unref);
  g_clear_pointer (&old_config, mb_config_unref);
  dir_teardown ();
}

static MbConfig *
load (const gchar *name, const gchar *text)
{
  g_autofree gchar *path = write_file (dir, name, text);
  g_autoptr(GError) error = NULL;
  MbConfig *config = mb_config_load (path, &error);

  ck_assert_msg (config != NULL, "%s:\n%s", name, error != NULL ? error->message : "");
  return config;
}

/* Loads OLD_NAME and NEW_NAME and plans the reload from one to the other. */
static void
reload_files (const gchar *old_name, const gchar *old_text, const gchar *new_name, const gchar *new_text)
{
  old_config = load (old_name, old_text);
  new_config = load (new_name, new_text);
  plan = mb_reload_plan (old_config, new_config);
  ck_assert_ptr_nonnull (plan);
}

static void
reload (const gchar *old_text, const gchar *new_text)
{
  reload_files ("old.conf", old_text, "new.conf", new_text);
}

static const MbFrontendConfig *
old_frontend (guint i)
{
  return old_config->frontends->pdata[i];
}

static const MbFrontendConfig *
new_frontend (guint i)
{
  return new_config->frontends->pdata[i];
}

static const gchar *
action_name (MbReloadAction action)
{
  static const gchar *const names[] = { "KEEP", "CHANGE", "ADD", "REMOVE" };

  return action <= MB_RELOAD_REMOVE ? names[action] : "?";
}

/* The plan's entry at position I, which must be ACTION on TITLE (the new
 * title, or the old one for REMOVE). */
static const MbFrontendChange *
frontend_at (guint i, MbReloadAction action, const gchar *title)
{
  const MbFrontendChange *change;
  const MbFrontendConfig *config;

  ck_assert_msg (i < plan->frontends->len, "no frontend change %u of %u", i, plan->frontends->len);
  change = plan->frontends->pdata[i];
  config = change->new_config != NULL ? change->new_config : change->old_config;
  ck_assert_msg (change->action == action && strcmp (config->title, title) == 0,
                 "frontend change %u: %s %s, expected %s %s", i, action_name (change->action),
                 config->title, action_name (action), title);
  return change;
}

/* Entry I of FC's backends, which must be ACTION on TITLE. */
static const MbBackendChange *
backend_at (const MbFrontendChange *fc, guint i, MbReloadAction action, const gchar *title)
{
  const MbBackendChange *change;
  const MbBackendConfig *config;

  ck_assert_ptr_nonnull (fc->backends);
  ck_assert_msg (i < fc->backends->len, "no backend change %u of %u", i, fc->backends->len);
  change = fc->backends->pdata[i];
  config = change->new_config != NULL ? change->new_config : change->old_config;
  ck_assert_msg (change->action == action && strcmp (config->title, title) == 0,
                 "backend change %u: %s %s, expected %s %s", i, action_name (change->action),
                 config->title, action_name (action), title);
  return change;
}

#define assert_counts(counts, a, r, c, u)                                                   \
  G_STMT_START {                                                                            \
    const MbReloadCounts *counts_ = &(counts);                                              \
    ck_assert_msg (counts_->added == (a) && counts_->removed == (r)                         \
                   && counts_->changed == (c) && counts_->unchanged == (u),                 \
                   #counts ": %u added, %u removed, %u changed, %u unchanged; expected "    \
                   "%u, %u, %u, %u", counts_->added, counts_->removed, counts_->changed,    \
                   counts_->unchanged, (a), (r), (c), (u));                                 \
  } G_STMT_END

/* FC keeps its listeners and displaces nobody. */
static void
assert_listeners_kept (const MbFrontendChange *fc)
{
  ck_assert (!fc->rebind);
  ck_assert_uint_eq (fc->displaces->len, 0);
}

static void
assert_no_restart (void)
{
  ck_assert_uint_eq (plan->restart_needed->len, 0);
}

/* ---- nothing changed ----------------------------------------------------- */

START_TEST (test_identical)
{
  const MbFrontendChange *web, *api;
  const MbBackendChange *app2;
  g_autofree gchar *summary = NULL;

  reload (BASE, BASE);
  ck_assert_uint_eq (plan->frontends->len, 2);
  web = frontend_at (0, MB_RELOAD_KEEP, "web");
  api = frontend_at (1, MB_RELOAD_KEEP, "api");
  ck_assert_ptr_eq (web->old_config, old_frontend (0));
  ck_assert_ptr_eq (web->new_config, new_frontend (0));
  ck_assert_ptr_eq (api->old_config, old_frontend (1));
  ck_assert_ptr_eq (api->new_config, new_frontend (1));
  assert_listeners_kept (web);
  assert_listeners_kept (api);
  ck_assert (!web->backends_changed);
  ck_assert (!api->backends_changed);
  ck_assert_uint_eq (web->backends->len, 2);
  backend_at (web, 0, MB_RELOAD_KEEP, "app1");
  app2 = backend_at (web, 1, MB_RELOAD_KEEP, "app2");
  ck_assert_ptr_eq (app2->old_config, old_frontend (0)->backends->pdata[1]);
  ck_assert_ptr_eq (app2->new_config, new_frontend (0)->backends->pdata[1]);
  ck_assert_uint_eq (api->backends->len, 1);
  backend_at (api, 0, MB_RELOAD_KEEP, "a");
  assert_counts (plan->frontend_counts, 0, 0, 0, 2);
  assert_counts (plan->backend_counts, 0, 0, 0, 3);
  assert_no_restart ();
  summary = mb_reload_plan_summary (plan);
  ck_assert_str_eq (summary, "frontends 0 added, 0 removed, 0 changed, 2 unchanged; "
                             "backends 0 added, 0 removed, 0 changed, 3 unchanged");
}
END_TEST

/* Where an option is written, and how, is not a change: other lines, other
 * order of sections and options, defaults spelled out, other units. */
START_TEST (test_layout_is_not_a_change)
{
  reload (BASE,
          "# the same, written otherwise\n"
          "\n"
          "frontend api { backend a { forward_to = \"127.0.0.1:9090\" } bind_on = \"127.0.0.1:7071\" }\n"
          "\n"
          "frontend web {\n"
          "  balance         = round-robin\n"
          "  connect_timeout = 5000ms\n"
          "  idle_timeout    = 60m\n"
          "  backlog         = 1024\n"
          "  bind_on         = \"127.0.0.1:7070\"\n"
          "\n"
          "  backend app1 {\n"
          "    weight     = 1\n"
          "    forward_to = \"127.0.0.1:8080\"\n"
          "  }\n"
          "  backend app2 { backup = false forward_to = \"127.0.0.1:8081\" }\n"
          "}\n");
  /* New order first: web is now the second frontend of the file. */
  assert_listeners_kept (frontend_at (0, MB_RELOAD_KEEP, "api"));
  assert_listeners_kept (frontend_at (1, MB_RELOAD_KEEP, "web"));
  assert_counts (plan->frontend_counts, 0, 0, 0, 2);
  assert_counts (plan->backend_counts, 0, 0, 0, 3);
}
END_TEST

/* log_level, shutdown_timeout and max_connections apply at once. */
START_TEST (test_global_options_apply_at_once)
{
  reload ("log_level = message\nshutdown_timeout = 30s\nmax_connections = 100\n" BASE,
          "log_level = debug\nshutdown_timeout = 0\nmax_connections = 5\n" BASE);
  assert_no_restart ();
  assert_counts (plan->frontend_counts, 0, 0, 0, 2);
  assert_counts (plan->backend_counts, 0, 0, 0, 3);
}
END_TEST

/* ---- frontends added, removed, renamed, moved --------------------------- */

START_TEST (test_frontend_added)
{
  const MbFrontendChange *extra;

  reload (BASE,
          BASE
          "frontend extra {\n"
          "  bind_on = \"127.0.0.1:7072\"\n"
          "  backend x { forward_to = \"127.0.0.1:9091\" }\n"
          "  backend y { forward_to = \"127.0.0.1:9092\" }\n"
          "}\n");
  ck_assert_uint_eq (plan->frontends->len, 3);
  assert_listeners_kept (frontend_at (0, MB_RELOAD_KEEP, "web"));
  assert_listeners_kept (frontend_at (1, MB_RELOAD_KEEP, "api"));
  extra = frontend_at (2, MB_RELOAD_ADD, "extra");
  ck_assert_ptr_null (extra->old_config);
  ck_assert_ptr_eq (extra->new_config, new_frontend (2));
  ck_assert (extra->rebind);
  ck_assert_uint_eq (extra->displaces->len, 0);
  ck_assert_ptr_null (extra->backends);
  assert_counts (plan->frontend_counts, 1, 0, 0, 2);
  assert_counts (plan->backend_counts, 2, 0, 0, 3);
}
END_TEST

START_TEST (test_frontend_removed)
{
  const MbFrontendChange *web;

  reload (BASE, API);
  ck_assert_uint_eq (plan->frontends->len, 2);
  /* The new configuration's frontends first, then the removed ones. */
  assert_listeners_kept (frontend_at (0, MB_RELOAD_KEEP, "api"));
  web = frontend_at (1, MB_RELOAD_REMOVE, "web");
  ck_assert_ptr_eq (web->old_config, old_frontend (0));
  ck_assert_ptr_null (web->new_config);
  assert_listeners_kept (web);
  ck_assert_ptr_null (web->backends);
  assert_counts (plan->frontend_counts, 0, 1, 0, 1);
  assert_counts (plan->backend_counts, 0, 2, 0, 1);
}
END_TEST

/* A new title on the same address: the new frontend must close the old
 * one's listener to bind. */
START_TEST (test_frontend_renamed)
{
  const MbFrontendChange *renamed;
  g_autofree gchar *summary = NULL;

  reload (BASE,
          WEB
          "frontend api2 {\n"
          "  bind_on = \"127.0.0.1:7071\"\n"
          "  backend a { forward_to = \"127.0.0.1:9090\" }\n"
          "}\n");
  ck_assert_uint_eq (plan->frontends->len, 3);
  assert_listeners_kept (frontend_at (0, MB_RELOAD_KEEP, "web"));
  renamed = frontend_at (1, MB_RELOAD_ADD, "api2");
  assert_listeners_kept (frontend_at (2, MB_RELOAD_REMOVE, "api"));
  ck_assert (renamed->rebind);
  ck_assert_uint_eq (renamed->displaces->len, 1);
  ck_assert_ptr_eq (renamed->displaces->pdata[0], old_frontend (1));
  assert_counts (plan->frontend_counts, 1, 1, 0, 1);
  assert_counts (plan->backend_counts, 1, 1, 0, 2);
  summary = mb_reload_plan_summary (plan);
  ck_assert_str_eq (summary, "frontends 1 added, 1 removed, 0 changed, 1 unchanged; "
                             "backends 1 added, 1 removed, 0 changed, 2 unchanged");
}
END_TEST

/* A new address that no old listener is on: nothing in the way, even with
 * a frontend removed on another port. */
START_TEST (test_bind_on_changed_disjoint)
{
  const MbFrontendChange *web;

  reload (BASE, WEB_ON ("127.0.0.1:7072", APPS));
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  frontend_at (1, MB_RELOAD_REMOVE, "api");
  ck_assert (web->rebind);
  ck_assert_uint_eq (web->displaces->len, 0);
  /* Only the listeners change. */
  ck_assert (!web->backends_changed);
  backend_at (web, 0, MB_RELOAD_KEEP, "app1");
  backend_at (web, 1, MB_RELOAD_KEEP, "app2");
  assert_counts (plan->frontend_counts, 0, 1, 1, 0);
  assert_counts (plan->backend_counts, 0, 1, 0, 2);
}
END_TEST

/* The same port on another address that does not overlap the old one. */
START_TEST (test_bind_on_changed_other_address)
{
  const MbFrontendChange *web;

  reload (WEB, WEB_ON ("127.0.0.2:7070", APPS));
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  ck_assert (web->rebind);
  ck_assert_uint_eq (web->displaces->len, 0);
}
END_TEST

/* A frontend whose old address overlaps its new one is in its own way. */
static const struct { const gchar *from, *to; } self_displacing[] = {
  { WEB_ON ("*:7070", APPS), WEB_ON ("127.0.0.1:7070", APPS) },
  { WEB_ON ("127.0.0.1:7070", APPS), WEB_ON ("*:7070", APPS) },
  { WEB_ON ("0.0.0.0:7070", APPS), WEB_ON ("127.0.0.1:7070", APPS) },
  { WEB_ON ("127.0.0.1:7070", APPS), WEB_ON ("127.0.0.1:07070", APPS) },
};

START_TEST (test_bind_on_changed_self_displacing)
{
  const MbFrontendChange *web;

  reload (self_displacing[_i].from, self_displacing[_i].to);
  ck_assert_uint_eq (plan->frontends->len, 1);
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  ck_assert (web->rebind);
  ck_assert_uint_eq (web->displaces->len, 1);
  ck_assert_ptr_eq (web->displaces->pdata[0], old_frontend (0));
  ck_assert_ptr_eq (web->old_config, old_frontend (0));
  ck_assert_ptr_eq (web->new_config, new_frontend (0));
}
END_TEST

/* Two frontends trade addresses: each is in the other's way. */
START_TEST (test_addresses_swapped)
{
  const MbFrontendChange *web, *api;

  reload (BASE, WEB_ON ("127.0.0.1:7071", APPS) API_ON ("127.0.0.1:7070"));
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  api = frontend_at (1, MB_RELOAD_CHANGE, "api");
  ck_assert (web->rebind && api->rebind);
  ck_assert_uint_eq (web->displaces->len, 1);
  ck_assert_ptr_eq (web->displaces->pdata[0], old_frontend (1));
  ck_assert_uint_eq (api->displaces->len, 1);
  ck_assert_ptr_eq (api->displaces->pdata[0], old_frontend (0));
}
END_TEST

/* A wildcard takes the port of every old listener on it that closes, named
 * in the old order whatever the order of the plan. */
START_TEST (test_wildcard_displaces_several)
{
  const MbFrontendChange *api, *all;

  reload (WEB_ON ("127.0.0.1:7070", APPS) API_ON ("127.0.0.2:7070"),
          API_ON ("127.0.0.1:7072")
          "frontend all {\n"
          "  bind_on = \"*:7070\"\n"
          "  backend a { forward_to = \"127.0.0.1:9090\" }\n"
          "}\n");
  api = frontend_at (0, MB_RELOAD_CHANGE, "api");
  all = frontend_at (1, MB_RELOAD_ADD, "all");
  frontend_at (2, MB_RELOAD_REMOVE, "web");
  ck_assert (api->rebind);
  ck_assert_uint_eq (api->displaces->len, 0);
  ck_assert_uint_eq (all->displaces->len, 2);
  ck_assert_ptr_eq (all->displaces->pdata[0], old_frontend (0));
  ck_assert_ptr_eq (all->displaces->pdata[1], old_frontend (1));
}
END_TEST

/* ---- frontend options, one at a time ------------------------------------ */

static const struct {
  const gchar *old_option, *new_option;
  MbReloadAction action;
} options[] = {
  { "", "balance = least-connections", MB_RELOAD_CHANGE },
  { "", "connect_timeout = 2s", MB_RELOAD_CHANGE },
  { "", "idle_timeout = 0", MB_RELOAD_CHANGE },
  { "", "backlog = 16", MB_RELOAD_CHANGE },
  { "", "max_connections = 5", MB_RELOAD_CHANGE },
  { "", "max_fails = 3", MB_RELOAD_CHANGE },
  { "", "fail_timeout = 20s", MB_RELOAD_CHANGE },
  { "", "health_check { }", MB_RELOAD_CHANGE },
  { "health_check { }", "", MB_RELOAD_CHANGE },
  { "health_check { }", "health_check { interval = 5s }", MB_RELOAD_CHANGE },
  { "health_check { }", "health_check { timeout = 2s }", MB_RELOAD_CHANGE },
  { "health_check { }", "health_check { rise = 1 }", MB_RELOAD_CHANGE },
  { "health_check { }", "health_check { fall = 1 }", MB_RELOAD_CHANGE },
  { "health_check { }", "health_check { send = \"PING\" }", MB_RELOAD_CHANGE },
  { "health_check { send = \"PING\" }", "health_check { send = \"PONG\" }", MB_RELOAD_CHANGE },
  { "health_check { send = \"PING\" }", "health_check { send = \"PING\\n\" }", MB_RELOAD_CHANGE },
  { "health_check { }", "health_check { expect = \"OK\" }", MB_RELOAD_CHANGE },
  { "health_check { expect = \"OK\" }", "health_check { expect = \"KO\" }", MB_RELOAD_CHANGE },
  { "", "accept_proxy = true", MB_RELOAD_CHANGE },
  { "", "resolve_interval = 30s", MB_RELOAD_CHANGE },
  { "", "freebind = true", MB_RELOAD_CHANGE },
  { "accept_proxy = true", "accept_proxy = false", MB_RELOAD_CHANGE },
  /* The same values, written otherwise. */
  { "", "balance = round-robin", MB_RELOAD_KEEP },
  { "", "accept_proxy = false", MB_RELOAD_KEEP },
  { "", "send_proxy = none", MB_RELOAD_KEEP },
  { "accept_proxy = yes", "accept_proxy = true", MB_RELOAD_KEEP },
  { "connect_timeout = 2s", "connect_timeout = 2000ms", MB_RELOAD_KEEP },
  { "health_check { }", "health_check { interval = 2s rise = 2 }", MB_RELOAD_KEEP },
  { "health_check { send = \"PING\" expect = \"OK\" }",
    "health_check { expect = \"OK\" send = \"PING\" }", MB_RELOAD_KEEP },
};

START_TEST (test_frontend_option)
{
  g_autofree gchar *old_text = g_strdup_printf (WEB_ON ("127.0.0.1:7070", "  %s\n" APPS) API,
                                                options[_i].old_option);
  g_autofree gchar *new_text = g_strdup_printf (WEB_ON ("127.0.0.1:7070", "  %s\n" APPS) API,
                                                options[_i].new_option);
  const MbFrontendChange *web;

  reload (old_text, new_text);
  web = frontend_at (0, options[_i].action, "web");
  assert_listeners_kept (web);
  ck_assert (!web->backends_changed);
  backend_at (web, 0, MB_RELOAD_KEEP, "app1");
  backend_at (web, 1, MB_RELOAD_KEEP, "app2");
  assert_listeners_kept (frontend_at (1, MB_RELOAD_KEEP, "api"));
  if (options[_i].action == MB_RELOAD_CHANGE)
    assert_counts (plan->frontend_counts, 0, 0, 1, 1);
  else
    assert_counts (plan->frontend_counts, 0, 0, 0, 2);
  assert_counts (plan->backend_counts, 0, 0, 0, 3);
  assert_no_restart ();
}
END_TEST

/* ---- backends ----------------------------------------------------------- */

START_TEST (test_backend_added)
{
  const MbFrontendChange *web;
  const MbBackendChange *app3;

  reload (BASE, WEB_ON ("127.0.0.1:7070", APPS "  backend app3 { forward_to = \"127.0.0.1:8082\" }\n") API);
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  assert_listeners_kept (web);
  ck_assert (web->backends_changed);
  ck_assert_uint_eq (web->backends->len, 3);
  backend_at (web, 0, MB_RELOAD_KEEP, "app1");
  backend_at (web, 1, MB_RELOAD_KEEP, "app2");
  app3 = backend_at (web, 2, MB_RELOAD_ADD, "app3");
  ck_assert_ptr_null (app3->old_config);
  ck_assert_ptr_eq (app3->new_config, new_frontend (0)->backends->pdata[2]);
  assert_counts (plan->frontend_counts, 0, 0, 1, 1);
  assert_counts (plan->backend_counts, 1, 0, 0, 3);
}
END_TEST

START_TEST (test_backend_removed)
{
  const MbFrontendChange *web;
  const MbBackendChange *app1;

  reload (BASE, WEB_ON ("127.0.0.1:7070", "  backend app2 { forward_to = \"127.0.0.1:8081\" }\n") API);
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  assert_listeners_kept (web);
  ck_assert (web->backends_changed);
  ck_assert_uint_eq (web->backends->len, 2);
  /* The new list, then the removed backends. */
  backend_at (web, 0, MB_RELOAD_KEEP, "app2");
  app1 = backend_at (web, 1, MB_RELOAD_REMOVE, "app1");
  ck_assert_ptr_eq (app1->old_config, old_frontend (0)->backends->pdata[0]);
  ck_assert_ptr_null (app1->new_config);
  assert_counts (plan->frontend_counts, 0, 0, 1, 1);
  assert_counts (plan->backend_counts, 0, 1, 0, 2);
}
END_TEST

/* Every backend kept, in another order: a new balancer all the same. */
START_TEST (test_backends_reordered)
{
  const MbFrontendChange *web;

  reload (BASE,
          WEB_ON ("127.0.0.1:7070",
                  "  backend app2 { forward_to = \"127.0.0.1:8081\" }\n"
                  "  backend app1 { forward_to = \"127.0.0.1:8080\" }\n") API);
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  assert_listeners_kept (web);
  ck_assert (web->backends_changed);
  ck_assert_uint_eq (web->backends->len, 2);
  backend_at (web, 0, MB_RELOAD_KEEP, "app2");
  backend_at (web, 1, MB_RELOAD_KEEP, "app1");
  assert_counts (plan->frontend_counts, 0, 0, 1, 1);
  assert_counts (plan->backend_counts, 0, 0, 0, 3);
}
END_TEST

static const gchar *const backend_options[] = {
  "weight = 2",
  "backup = true",
  "send_proxy = v1",
};

START_TEST (test_backend_option_changed)
{
  g_autofree gchar *new_text = g_strdup_printf (
    WEB_ON ("127.0.0.1:7070",
            "  backend app1 { forward_to = \"127.0.0.1:8080\" %s }\n"
            "  backend app2 { forward_to = \"127.0.0.1:8081\" }\n") API,
    backend_options[_i]);
  const MbFrontendChange *web;
  const MbBackendChange *app1;

  reload (BASE, new_text);
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  assert_listeners_kept (web);
  ck_assert (web->backends_changed);
  ck_assert_uint_eq (web->backends->len, 2);
  app1 = backend_at (web, 0, MB_RELOAD_CHANGE, "app1");
  ck_assert_ptr_eq (app1->old_config, old_frontend (0)->backends->pdata[0]);
  ck_assert_ptr_eq (app1->new_config, new_frontend (0)->backends->pdata[0]);
  backend_at (web, 1, MB_RELOAD_KEEP, "app2");
  assert_counts (plan->frontend_counts, 0, 0, 1, 1);
  assert_counts (plan->backend_counts, 0, 0, 1, 2);
}
END_TEST

/* A new forward_to under the same title is a new backend with fresh state. */
START_TEST (test_forward_to_changed)
{
  const MbFrontendChange *web;
  const MbBackendChange *added, *removed;

  reload (BASE,
          WEB_ON ("127.0.0.1:7070",
                  "  backend app1 { forward_to = \"127.0.0.1:8082\" }\n"
                  "  backend app2 { forward_to = \"127.0.0.1:8081\" }\n") API);
  web = frontend_at (0, MB_RELOAD_CHANGE, "web");
  ck_assert (web->backends_changed);
  ck_assert_uint_eq (web->backends->len, 3);
  added = backend_at (web, 0, MB_RELOAD_ADD, "app1");
  ck_assert_ptr_null (added->old_config);
  ck_assert_str_eq (added->new_config->forward_to, "127.0.0.1:8082");
  backend_at (web, 1, MB_RELOAD_KEEP, "app2");
  removed = backend_at (web, 2, MB_RELOAD_REMOVE, "app1");
  ck_assert_str_eq (removed->old_config->forward_to, "127.0.0.1:8080");
  ck_assert_ptr_null (removed->new_config);
  assert_counts (plan->frontend_counts, 0, 0, 1, 1);
  assert_counts (plan->backend_counts, 1, 1, 0, 2);
}
END_TEST

/* ---- restart needed ----------------------------------------------------- */

static const struct { const gchar *old_globals, *new_globals, *restart; } restarts[] = {
  { "", "workers = 2\n", "workers" },
  { "workers = 2\n", "workers = auto\n", "workers" },
  { "", "user = root\n", "user" },
  { "user = root\n", "", "user" },
  { "group = nogroup\n", "group = root\n", "group" },
  { "", "group = root\n", "group" },
  { "workers = 2\nuser = root\ngroup = nogroup\n", "workers = 3\ngroup = root\n", "workers user group" },
  /* The same values: nothing to restart for. */
  { "workers = 4\nuser = root\ngroup = nogroup\n", "workers = 4\nuser = \"root\"\ngroup = nogroup\n", "" },
};

START_TEST (test_restart_needed)
{
  g_autofree gchar *old_text = g_strconcat (restarts[_i].old_globals, BASE, NULL);
  g_autofree gchar *new_text = g_strconcat (restarts[_i].new_globals, BASE, NULL);
  g_auto(GStrv) expected = g_strsplit (restarts[_i].restart, " ", -1);
  guint n = restarts[_i].restart[0] != '\0' ? g_strv_length (expected) : 0;

  reload (old_text, new_text);
  ck_assert_uint_eq (plan->restart_needed->len, n);
  for (guint i = 0; i < n; i++)
    ck_assert_str_eq (plan->restart_needed->pdata[i], expected[i]);
  /* The frontends are not affected. */
  assert_counts (plan->frontend_counts, 0, 0, 0, 2);
}
END_TEST

/* ---- the seed's TOML files ---------------------------------------------- */

#define SEED                                \
  "[frontend]\n"                            \
  "bind_on = \"127.0.0.1:7070\"\n"          \
  "\n"                                      \
  "[[frontend.backend]]\n"                  \
  "forward_to = \"127.0.0.1:8080\"\n"       \
  "\n"                                      \
  "[[frontend.backend]]\n"                  \
  "forward_to = \"127.0.0.1:9090\"\n"

START_TEST (test_toml_identical)
{
  const MbFrontendChange *frontend;

  reload_files ("old.toml", SEED, "new.toml", "# comments are not a change\n" SEED);
  frontend = frontend_at (0, MB_RELOAD_KEEP, "frontend");
  assert_listeners_kept (frontend);
  backend_at (frontend, 0, MB_RELOAD_KEEP, "backend1");
  backend_at (frontend, 1, MB_RELOAD_KEEP, "backend2");
  assert_counts (plan->frontend_counts, 0, 0, 0, 1);
  assert_counts (plan->backend_counts, 0, 0, 0, 2);
}
END_TEST

START_TEST (test_toml_backend_added)
{
  const MbFrontendChange *frontend;

  reload_files ("old.toml", SEED, "new.toml", SEED "\n[[frontend.backend]]\nforward_to = \"127.0.0.1:9091\"\n");
  ck_assert_uint_eq (plan->frontends->len, 1);
  frontend = frontend_at (0, MB_RELOAD_CHANGE, "frontend");
  assert_listeners_kept (frontend);
  ck_assert (frontend->backends_changed);
  ck_assert_uint_eq (frontend->backends->len, 3);
  backend_at (frontend, 0, MB_RELOAD_KEEP, "backend1");
  backend_at (frontend, 1, MB_RELOAD_KEEP, "backend2");
  backend_at (frontend, 2, MB_RELOAD_ADD, "backend3");
  assert_counts (plan->frontend_counts, 0, 0, 1, 0);
  assert_counts (plan->backend_counts, 1, 0, 0, 2);
  assert_no_restart ();
}
END_TEST

static Suite *
reload_suite (void)
{
  Suite *suite = suite_create ("reload");
  TCase *tc = tcase_create ("plan");

  tcase_add_checked_fixture (tc, reload_setup, reload_teardown);
  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_identical);
  tcase_add_test (tc, test_layout_is_not_a_change);
  tcase_add_test (tc, test_global_options_apply_at_once);
  tcase_add_test (tc, test_frontend_added);
  tcase_add_test (tc, test_frontend_removed);
  tcase_add_test (tc, test_frontend_renamed);
  tcase_add_test (tc, test_bind_on_changed_disjoint);
  tcase_add_test (tc, test_bind_on_changed_other_address);
  tcase_add_loop_test (tc, test_bind_on_changed_self_displacing, 0, G_N_ELEMENTS (self_displacing));
  tcase_add_test (tc, test_addresses_swapped);
  tcase_add_test (tc, test_wildcard_displaces_several);
  tcase_add_loop_test (tc, test_frontend_option, 0, G_N_ELEMENTS (options));
  tcase_add_test (tc, test_backend_added);
  tcase_add_test (tc, test_backend_removed);
  tcase_add_test (tc, test_backends_reordered);
  tcase_add_loop_test (tc, test_backend_option_changed, 0, G_N_ELEMENTS (backend_options));
  tcase_add_test (tc, test_forward_to_changed);
  tcase_add_loop_test (tc, test_restart_needed, 0, G_N_ELEMENTS (restarts));
  tcase_add_test (tc, test_toml_identical);
  tcase_add_test (tc, test_toml_backend_added);
  suite_add_tcase (suite, tc);
  return suite;
}

RUN_SUITE (reload_suite)
