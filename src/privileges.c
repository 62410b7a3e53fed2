/* privileges.c - descriptor limit and privilege drop; see privileges.h. */
#include "build-config.h"

#include <errno.h>
#include <grp.h>
#include <sys/resource.h>
#include <unistd.h>

#include "error.h"
#include "fds.h"
#include "log.h"
#include "privileges.h"

guint64
mb_privileges_raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) < 0)
    return 1024;
  if (limit.rlim_cur < limit.rlim_max)
    {
      rlim_t before = limit.rlim_cur;

      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) < 0)
        {
          g_warning ("cannot raise the descriptor limit from %lu to %lu: %s",
                     (gulong) before, (gulong) limit.rlim_max, g_strerror (errno));
          limit.rlim_cur = before;
        }
    }
  return limit.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : (guint64) limit.rlim_cur;
}

void
mb_privileges_check_fd_limit (const MbConfig *config)
{
  MbFdsFigures f;

  mb_fds_get_figures (&f);
  if (f.room < config->max_connections)
    g_warning ("the descriptor limit (%" G_GUINT64_FORMAT ") holds %u sessions, fewer than max_connections = %u "
               "(%d descriptors per session, besides %u held at start and %u kept in reserve): "
               "raise LimitNOFILE= or ulimit -n, or lower max_connections",
               f.limit, f.room, config->max_connections, MB_FDS_SESSION, f.base, f.reserve);
}

gboolean
mb_privileges_drop (const MbConfig *config, GError **error)
{
  uid_t uid = config->user ? config->uid : geteuid ();
  gid_t gid = (config->user || config->group) ? config->gid : getegid ();

  if (config->user == NULL && config->group == NULL)
    {
      if (geteuid () == 0)
        g_warning ("running as root: set user (and group) in the configuration to drop privileges "
                   "after binding, or run under systemd with the shipped unit");
      return TRUE;
    }

  if (geteuid () != 0)
    {
      if (uid == geteuid () && gid == getegid ())
        return TRUE;
      g_set_error (error, MB_ERROR, MB_ERROR_IO,
                   "cannot switch to user %s, group %s: not running as root",
                   config->user ? config->user : "(unchanged)",
                   config->group ? config->group : "(the user's)");
      return FALSE;
    }

  /* Order matters: supplementary groups and the group while still root,
   * the user last. */
  if (setgroups (1, &gid) < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "setgroups(%lu): %s", (gulong) gid, g_strerror (errno));
      return FALSE;
    }
  if (setgid (gid) < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "setgid(%lu): %s", (gulong) gid, g_strerror (errno));
      return FALSE;
    }
  if (setuid (uid) < 0)
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO, "setuid(%lu): %s", (gulong) uid, g_strerror (errno));
      return FALSE;
    }
  if (getuid () != uid || geteuid () != uid || getgid () != gid || getegid () != gid
      || (uid != 0 && (setuid (0) == 0 || seteuid (0) == 0)))
    {
      g_set_error (error, MB_ERROR, MB_ERROR_IO,
                   "privileges not dropped as asked (uid %lu, gid %lu): refusing to run",
                   (gulong) geteuid (), (gulong) getegid ());
      return FALSE;
    }
  g_message ("running as user %s (uid %lu), group %lu", config->user ? config->user : "root",
             (gulong) uid, (gulong) gid);
  return TRUE;
}
