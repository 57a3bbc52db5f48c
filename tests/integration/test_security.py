"""Security regressions through a real Exim: each class is an attack from
the security review (docs/security.md), replayed as a hostile user would.
Each fails on the code before its fix.

Run through run_e2e.py (root, a private mount namespace).
"""

import os
import pwd
import shutil
import time
import unittest

import eximlab
from eximlab import LOCAL_DOMAIN, REMOTE_DOMAIN, rule
from test_e2e import LabTestCase

NOBODY = pwd.getpwnam("nobody")


def local(name):
    return f"{name}@{LOCAL_DOMAIN}"


class HostileRecipientChoosesNoPolicy(LabTestCase):
    """A recipient address of "config=/home/USER/x@their-own.domain" whose
    MX answers 550 was read by record_bounce as its config= option: the
    delivery process (root) loaded the user's policy file and ran its
    notify command as uid 0. Here the lab runs as documented by default
    (SENDERWATCH_CONFIG unset), the hostile file exists and is owned by a
    user, and its notify would write its uid."""

    def test_recipient_is_data_and_the_user_policy_never_loads(self):
        lab = self.start_lab(rules=[], users=("alice",), macros={"SENDERWATCH_CONFIG": None})
        # Exim lower-cases the local part ($local_part), so the user's file
        # lives under a lower-case path, like /home/mallory.
        home = f"/tmp/senderwatch-mallory-{os.getpid()}-{int(time.time() * 1000)}"
        eximlab.make_dir(home, 0o755, (NOBODY.pw_uid, NOBODY.pw_gid))
        self.addCleanup(shutil.rmtree, home, True)
        pwned = os.path.join(home, "pwned")
        address = f"config={home}/x@{REMOTE_DOMAIN}"
        evil = os.path.join(home, f"x@{REMOTE_DOMAIN}")
        # The user's policy: the real store (where the RCPT was counted), a
        # rule that fires at once, and a notify command.
        default_store = os.path.join(lab.dir, "spool", "db", "senderwatch")
        eximlab.write_file(evil, f'notify = "id -u > {pwned}"\n'
                           '[[rule]]\nname = "any"\nmetric = "recipients"\nwindow = "1h"\n'
                           'above = 0\naction = "lock"\n'
                           f'[store]\npath = "{default_store}"\n',
                           0o644, (NOBODY.pw_uid, NOBODY.pw_gid))

        replies, _, msgid = lab.submit("alice", [address])
        self.assertAllAccepted(lab, replies)
        lab.wait_bounce_of(msgid)
        time.sleep(1)  # the hostile notify would have been detached
        self.assertFalse(os.path.exists(pwned),
                         f"the recipient chose the policy; its notify ran as uid "
                         f"{open(pwned).read().strip() if os.path.exists(pwned) else '?'}\n"
                         + lab.diag())
        # The bounce was counted, in the default store, against the account,
        # under the built-in policy (which one bounce does not lock).
        lab.store = default_store
        counters = lab.counters("alice")
        self.assertEqual(counters.get("bounces"), 1, lab.diag())
        self.assertFalse(counters["locked"], f"locked by the user's policy: {counters}")
        self.assertNoPanic(lab)


class LockedAccountInvalidRecipient(LabTestCase):
    """A locked account got 451 for victim@remote.test but 250 for
    RCPT TO:<victim\\xff@remote.test>: check_sender refused the recipient
    before it read the lock and answered verdict=ok."""

    def rcpt_raw(self, session, address):
        session.smtp.send(b"RCPT TO:<" + address + b">\r\n")
        return eximlab.Reply(*session.smtp.getreply())

    def test_lock_wins_over_an_invalid_recipient(self):
        lab = self.start_lab(rules=[rule("rcpt-rate", "recipients", 1000, "defer")],
                             users=("mallory",))
        lab.cli(["lock", "mallory", "--reason", "hijacked"])
        with lab.session("mallory") as s:
            self.assertReply(lab, s.mail(local("mallory")), 250)
            self.assertReply(lab, self.rcpt_raw(s, f"victim@{REMOTE_DOMAIN}".encode()), 451,
                             "Account locked")
            for hostile in (b"victim\xff@" + REMOTE_DOMAIN.encode(),
                            b"v\xc3(@" + REMOTE_DOMAIN.encode()):
                reply = self.rcpt_raw(s, hostile)
                self.assertNotEqual(reply.code // 100, 2,
                                    f"locked account's RCPT {hostile!r} accepted: {reply}\n"
                                    + lab.diag())
        self.assertNoPanic(lab)


class NotifyNeverRoot(LabTestCase):
    """The notify command of a lock found in a root delivery process (a
    bounce event) ran as root with umask 0000; it runs as the Exim user
    now, and its exit status reaches the main log."""

    def test_notify_runs_as_the_exim_user(self):
        out_dir = None
        lab = self.start_lab(rules=[], users=("trudy",), policy_text="")
        out_dir = os.path.join(lab.dir, "notified")
        eximlab.make_dir(out_dir, 0o777)
        out = os.path.join(out_dir, "who")
        eximlab.write_file(lab.policy,
                           f'notify = "{{ id -u; umask; }} > {out}.tmp && mv {out}.tmp {out}"\n'
                           + eximlab.policy_toml(lab.store,
                                                 [rule("bounce-flood", "bounces", 0, "lock")]))
        _, _, msgid = lab.submit("trudy", [f"bad1@{REMOTE_DOMAIN}"])
        lab.wait_bounce_of(msgid)
        lab.wait_log(r"senderwatch: notify command for account trudy exited with status 0")
        with open(out) as f:
            uid, umask = f.read().split()
        self.assertEqual(int(uid), lab.uid, "the notify command ran as uid " + uid)
        self.assertEqual(umask, "0022")
        self.assertTrue(lab.counters("trudy")["locked"], lab.diag())
        self.assertNoPanic(lab)


if __name__ == "__main__":
    unittest.main()
