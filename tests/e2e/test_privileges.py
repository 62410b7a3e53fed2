#!/usr/bin/env python3
"""Privilege drop outside systemd: with `user` and `group` set, a daemon
started as root binds its frontends first, then runs as that user and group
only (no supplementary groups) and still serves; without them it warns that
it runs as root.  Needs root (skipped otherwise)."""

import grp
import os
import pwd
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def status_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in value.split()]
    return ids


def unprivileged_identity():
    for user, group in (("nobody", "nogroup"), ("nobody", "nobody")):
        try:
            return pwd.getpwnam(user), grp.getgrnam(group)
        except KeyError:
            continue
    return None, None


class Privileges(harness.TestCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to drop privileges")
        self.pw, self.gr = unprivileged_identity()
        if self.pw is None:
            self.skipTest("no nobody/nogroup on this system")
        # The unprivileged daemon must still reach our NOTIFY_SOCKET.
        os.chmod(self.tmpdir, 0o711)

    def test_drops_to_user_and_group_after_binding(self):
        named = self.ident_backend("app")
        front = harness.free_addr()
        text = (f'user = "{self.pw.pw_name}"\ngroup = "{self.gr.gr_name}"\n'
                + harness.config(harness.frontend("web", front, [("app", named.addr)])))
        mb = self.daemon(text)
        ids = status_ids(mb.pid)
        self.assertEqual(ids["Uid"], [self.pw.pw_uid] * 4)    # real, effective, saved, fs
        self.assertEqual(ids["Gid"], [self.gr.gr_gid] * 4)
        self.assertEqual(ids["Groups"], [self.gr.gr_gid])
        self.assertEqual(self.who(front), "app")
        self.assertEqual(mb.stop(), 0)

    def test_user_alone_takes_its_primary_group(self):
        named = self.ident_backend("app")
        front = harness.free_addr()
        mb = self.daemon(f'user = "{self.pw.pw_name}"\n'
                         + harness.config(harness.frontend("web", front, [("app", named.addr)])))
        ids = status_ids(mb.pid)
        self.assertEqual(ids["Uid"], [self.pw.pw_uid] * 4)
        self.assertEqual(ids["Gid"], [self.pw.pw_gid] * 4)
        self.assertEqual(self.who(front), "app")
        self.assertEqual(mb.stop(), 0)

    def test_root_without_user_warns(self):
        named = self.ident_backend("app")
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", named.addr)])))
        self.assertEqual(status_ids(mb.pid)["Uid"][1], 0)
        self.assertIn("running as root", mb.stderr())
        self.assertEqual(self.who(front), "app")
        self.assertEqual(mb.stop(), 0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
