/* report.c - frontends and backends as JSON; see report.h. */
#include "build-config.h"

#include <string.h>

#include "report.h"

gchar *
mb_report_time (gint64 real_us)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (real_us / G_USEC_PER_SEC);

  return g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ");
}

void
mb_report_add_string (JsonBuilder *builder, const gchar *name, const gchar *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
mb_report_add_int (JsonBuilder *builder, const gchar *name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

void
mb_report_add_bool (JsonBuilder *builder, const gchar *name, gboolean value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_boolean_value (builder, value);
}

/* MEMBER: a DNS name's last lookup {"name","at","ok","result"}, or null
 * when nothing is looked up. */
static void
add_lookup (JsonBuilder *builder, const gchar *member, const MbLookupSnapshot *lookup)
{
  g_autofree gchar *when = lookup->at != 0 ? mb_report_time (lookup->at) : NULL;

  json_builder_set_member_name (builder, member);
  if (lookup->name == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }
  json_builder_begin_object (builder);
  mb_report_add_string (builder, "name", lookup->name);
  mb_report_add_string (builder, "at", when);
  mb_report_add_bool (builder, "ok", lookup->ok);
  mb_report_add_string (builder, "result", lookup->result);
  json_builder_end_object (builder);
}

void
mb_report_frontends (JsonBuilder *builder, const MbSnapshot *snapshot)
{
  json_builder_set_member_name (builder, "frontends");
  json_builder_begin_array (builder);
  for (guint i = 0; i < snapshot->frontends->len; i++)
    {
      const MbFrontendSnapshot *f = snapshot->frontends->pdata[i];

      json_builder_begin_object (builder);
      mb_report_add_string (builder, "title", f->title);
      mb_report_add_string (builder, "bind_on", f->bind_on);
      mb_report_add_string (builder, "balance", f->balance);
      mb_report_add_string (builder, "state", f->state);
      mb_report_add_int (builder, "sessions", f->sessions);
      mb_report_add_int (builder, "connections", (gint64) f->connections);
      mb_report_add_int (builder, "failed", (gint64) f->failed);
      mb_report_add_int (builder, "bytes_received", (gint64) f->bytes_received);
      mb_report_add_int (builder, "bytes_sent", (gint64) f->bytes_sent);
      add_lookup (builder, "discover", &f->discover);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

void
mb_report_backends (JsonBuilder *builder, const MbSnapshot *snapshot, const gchar *frontend)
{
  json_builder_set_member_name (builder, "backends");
  json_builder_begin_array (builder);
  for (guint i = 0; i < snapshot->backends->len; i++)
    {
      const MbBackendSnapshot *b = snapshot->backends->pdata[i];

      if (frontend != NULL && strcmp (frontend, b->frontend) != 0)
        continue;
      json_builder_begin_object (builder);
      mb_report_add_string (builder, "frontend", b->frontend);
      mb_report_add_string (builder, "title", b->title);
      mb_report_add_string (builder, "address", b->address);
      mb_report_add_string (builder, "forward_to", b->forward_to);
      mb_report_add_string (builder, "state", b->state);
      mb_report_add_string (builder, "why", b->why);
      mb_report_add_int (builder, "weight", b->weight);
      mb_report_add_bool (builder, "backup", b->backup);
      mb_report_add_int (builder, "sessions", b->sessions);
      mb_report_add_int (builder, "connections", (gint64) b->connections);
      mb_report_add_int (builder, "connect_failures", (gint64) b->connect_failures);
      mb_report_add_int (builder, "bytes_sent", (gint64) b->bytes_sent);
      mb_report_add_int (builder, "bytes_received", (gint64) b->bytes_received);
      json_builder_set_member_name (builder, "last_check");
      if (b->last_check_at != 0)
        {
          g_autofree gchar *when = mb_report_time (b->last_check_at);

          json_builder_begin_object (builder);
          mb_report_add_string (builder, "at", when);
          mb_report_add_bool (builder, "ok", b->last_check_ok);
          mb_report_add_string (builder, "detail", b->last_check_detail);
          json_builder_end_object (builder);
        }
      else
        json_builder_add_null_value (builder);
      add_lookup (builder, "lookup", &b->lookup);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}
