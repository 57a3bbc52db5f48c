"""End-to-end tests: senderwatch inside a real Exim (4.96 or 4.98), through the shipped
example configuration and snippets (see eximlab.py).

Each class is one scenario of the problem senderwatch solves; CTest runs each
class as its own test (label "e2e"). Policies are small so that a handful
of messages is enough; the rules and their semantics are the production ones.
Every scenario also checks the positive side (something *was* counted or
locked), so a plugin that stopped counting cannot pass.

Run through run_e2e.py (it provides root checks and the mount namespace).
"""

import json
import os
import re
import shutil
import stat
import subprocess
import unittest

import eximlab
from eximlab import LOCAL_DOMAIN, REMOTE_DOMAIN, Lab, rule


def remote(local):
    return f"{local}@{REMOTE_DOMAIN}"


def local(name):
    return f"{name}@{LOCAL_DOMAIN}"


class LabTestCase(unittest.TestCase):
    """Starts labs and cleans them up; keeps the directory of a failed test."""

    def start_lab(self, **kwargs):
        name = kwargs.pop("name", self.id().split(".")[-2])
        lab = Lab(name, **kwargs)
        self.addCleanup(self._cleanup_lab, lab)
        lab.start()
        return lab

    def _cleanup_lab(self, lab):
        lab.cleanup(keep=eximlab.case_failed(self))

    # -- assertions with the lab's logs attached ----------------------------

    def assertReply(self, lab, reply, code, *fragments):
        msg = f"got {reply!r}, expected {code} with {fragments}\n{lab.diag()}"
        self.assertEqual(reply.code, code, msg)
        # One reply line: Exim splits ACL messages over 75 characters.
        self.assertNotIn("\n", reply.text, msg)
        for f in fragments:
            self.assertIn(f, reply.text, msg)

    def assertAllAccepted(self, lab, replies):
        bad = [(r, rep) for r, rep in replies if rep.code != 250]
        self.assertFalse(bad, f"refused recipients: {bad}\n{lab.diag()}")

    def assertNoPanic(self, lab):
        self.assertEqual(lab.panic(), "", f"Exim's panic log is not empty\n{lab.diag()}")

    def assertLog(self, lab, pattern):
        self.assertRegex(lab.log(), re.compile(pattern, re.M), lab.diag())

    def assertNotLog(self, lab, pattern):
        self.assertNotRegex(lab.log(), re.compile(pattern, re.M), lab.diag())


# ---------------------------------------------------------------------------
# a. a hijacked account: many recipients, a large share bounces -> locked
# ---------------------------------------------------------------------------

class BounceRatioLock(LabTestCase):
    RULES = [rule("rcpt-rate", "recipients", 1000, "defer"),
             rule("bounce-ratio", "bounce_ratio", 0.3, "lock", min=10)]

    def test_spam_run_gets_account_locked(self):
        lab = self.start_lab(rules=self.RULES, users=("alice",))
        # A spam run: 12 recipients, half of them dead addresses the remote
        # side rejects with 550 at delivery time (after our 250 at RCPT).
        rcpts = [remote(f"bad{i}") for i in range(1, 7)] + [remote(f"ok{i}") for i in range(1, 7)]
        replies, data, msgid = lab.submit("alice", rcpts)
        self.assertAllAccepted(lab, replies)
        self.assertReply(lab, data, 250)
        lab.wait_bounce_of(msgid)

        c = lab.counters("alice")
        self.assertEqual(c.get("recipients"), 12, lab.diag())
        self.assertEqual(c.get("bounces"), 6, f"bounces not counted: {c}\n{lab.diag()}")
        self.assertTrue(c["locked"], f"not locked: {c}\n{lab.diag()}")
        self.assertEqual(c["rule"], "bounce-ratio")
        # The plugin announces the lock in Exim's main log.
        self.assertLog(lab, r"senderwatch: account alice locked by rule bounce-ratio")

        # Any later RCPT of the account is deferred with 4.7.1, naming the rule,
        # whichever client network it comes from.
        with lab.session("alice", source="127.9.0.1") as s:
            self.assertReply(lab, s.mail(local("alice")), 250)
            self.assertReply(lab, s.rcpt(remote("later")), 451, "4.7.1", "bounce-ratio")
        self.assertLog(lab, r"temporarily rejected RCPT <later@remote\.test>: senderwatch: "
                            r"account alice locked by rule bounce-ratio")

        # show explains the lock with the limit that applied to it (0.3);
        # the escalated limit (0.15) is only "next time".
        show = json.loads(lab.cli(["show", "alice", "--json"]).stdout)
        ratio = [r for r in show["rules"] if r["rule"] == "bounce-ratio"][0]
        self.assertEqual((ratio["limit"], ratio["next_limit"]), (0.3, 0.15), ratio)
        self.assertIn("0.3 (next time 0.15)", lab.cli(["show", "alice"]).stdout)
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# b. honest heavy senders, per-account overrides, plain rate limits
# ---------------------------------------------------------------------------

class HonestHeavySender(LabTestCase):
    RULES = [rule("rcpt-rate", "recipients", 50, "defer"),
             rule("bounce-flood", "bounces", 20, "defer"),
             rule("bounce-ratio", "bounce_ratio", 0.3, "lock", min=10),
             rule("client-networks", "client_ips", 10, "lock")]

    def test_heavy_sender_with_few_bounces_is_never_deferred_or_locked(self):
        lab = self.start_lab(rules=self.RULES, users=("bulk", "carol"),
                             limits={"bulk": "rcpt-rate=500"})
        ids = []
        for n in range(3):
            rcpts = [remote(f"news{n}-{i}") for i in range(24)] + [remote(f"bad-gone{n}")]
            replies, data, msgid = lab.submit("bulk", rcpts, wait=False)
            self.assertAllAccepted(lab, replies)
            ids.append(msgid)
        for msgid in ids:
            lab.wait_completed(msgid)
        # Another message after the bounces arrived: still welcome.
        replies, _, msgid = lab.submit("bulk", [remote("after")])
        self.assertAllAccepted(lab, replies)

        c = lab.counters("bulk")
        self.assertEqual(c.get("recipients"), 76, lab.diag())
        self.assertEqual(c.get("bounces"), 3, lab.diag())   # counted, yet harmless
        self.assertFalse(c["locked"], f"honest sender locked: {c}\n{lab.diag()}")
        self.assertNotLog(lab, r"senderwatch: account bulk")
        self.assertNoPanic(lab)

    def test_rate_limit_defers_account_without_override(self):
        lab = self.start_lab(rules=self.RULES, users=("bulk", "carol"),
                             limits={"bulk": "rcpt-rate=500"})
        rcpts = [remote(f"r{i}") for i in range(55)]
        replies, data, msgid = lab.submit("carol", rcpts)
        codes = [rep.code for _, rep in replies]
        self.assertEqual(codes[:50], [250] * 50, lab.diag())
        for _, rep in replies[50:]:
            self.assertReply(lab, rep, 451, "4.7.1", "rcpt-rate")
        self.assertReply(lab, data, 250)  # the 50 accepted recipients go out
        c = lab.counters("carol")
        self.assertFalse(c["locked"], "a rate limit must not lock")
        self.assertLog(lab, r"senderwatch: account carol deferred by rule rcpt-rate")


# ---------------------------------------------------------------------------
# c. forged bounces never count against the user whose address was forged
# ---------------------------------------------------------------------------

class ForgedBounces(LabTestCase):
    # Any counted bounce locks: a bounce wrongly attributed to alice would
    # lock her, which the last step would see.
    RULES = [rule("bounce-flood", "bounces", 0, "lock")]

    def test_forged_bounces_do_not_count(self):
        lab = self.start_lab(rules=self.RULES, users=("alice", "mallory"),
                             aliases={"fwd-dead": remote("bad-forwarded")})
        # 1. A fake DSN from outside (null sender, unauthenticated) to alice.
        dsn_headers = (f"X-Failed-Recipients: {remote('someone')}\r\n"
                       "Auto-Submitted: auto-replied\r\n"
                       "Content-Type: multipart/report; report-type=delivery-status; "
                       "boundary=x\r\n")
        with eximlab.Session(lab.port) as s:
            replies, data, msgid1 = s.send("", [local("alice")], subject="Mail delivery failed",
                                           headers=dsn_headers)
        self.assertAllAccepted(lab, replies)
        lab.wait_completed(msgid1)

        # 2. Unauthenticated mail with alice's address as MAIL FROM, to an
        #    alias that forwards to a dead address: a real bounce, to alice.
        with eximlab.Session(lab.port) as s:
            replies, data, msgid2 = s.send(local("alice"), [local("fwd-dead")])
        self.assertAllAccepted(lab, replies)
        lab.wait_bounce_of(msgid2)

        # 3. Another account (mallory) forges alice's address as MAIL FROM.
        replies, data, msgid3 = lab.submit("mallory", [remote("bad1")], sender=local("alice"))
        self.assertAllAccepted(lab, replies)
        lab.wait_bounce_of(msgid3)

        dump = lab.dump()
        alice = eximlab.record_counters(dump.get("alice"))
        self.assertEqual(alice.get("bounces", 0), 0, f"forged bounce counted: {alice}")
        self.assertFalse(alice.get("locked", False), lab.diag())
        self.assertNotIn(local("alice"), dump, "a bounce was counted against the address")
        # The bounce of step 3 counts against the account that really sent it.
        mallory = eximlab.record_counters(dump.get("mallory"))
        self.assertEqual(mallory.get("bounces"), 1, f"{mallory}\n{lab.diag()}")
        self.assertTrue(mallory["locked"], lab.diag())

        # alice is not locked: peek via Exim, and real mail from her flows.
        self.assertRegex(lab.peek("alice"), r"^verdict=ok\b")
        replies, data, _ = lab.submit("alice", [remote("friend")])
        self.assertAllAccepted(lab, replies)
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# d. `senderwatch unlock` releases an account
# ---------------------------------------------------------------------------

class Unlock(LabTestCase):
    RULES = [rule("bounce-flood", "bounces", 0, "lock")]

    def test_unlock_lets_account_send_again(self):
        lab = self.start_lab(rules=self.RULES, users=("dave",))
        _, _, msgid = lab.submit("dave", [remote("bad1"), remote("ok1")])
        lab.wait_bounce_of(msgid)
        with lab.session("dave") as s:
            s.mail(local("dave"))
            self.assertReply(lab, s.rcpt(remote("ok2")), 451, "4.7.1", "bounce-flood")
        self.assertTrue(lab.counters("dave")["locked"], lab.diag())

        # The administrator releases the account (as root, as in real life).
        r = lab.cli(["unlock", "dave", "--reason", "password changed"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(lab.counters("dave")["locked"], lab.diag())
        self.assertRegex(lab.peek("dave"), r"^verdict=ok\b")

        # Mail flows again, and the evidence from before the release does not
        # lock it again. The store is still usable by the Exim user after a
        # root-run CLI wrote to it (no fail-open error in the log).
        mark = len(lab.log())
        replies, data, msgid = lab.submit("dave", [remote("ok3"), remote("ok4")])
        self.assertAllAccepted(lab, replies)
        self.assertReply(lab, data, 250)
        self.assertFalse(lab.counters("dave")["locked"], lab.diag())
        self.assertNotRegex(lab.log()[mark:], r"senderwatch: \w+: .*failing open", lab.diag())

        # Bounces after the release are counted as before.
        _, _, msgid = lab.submit("dave", [remote("bad2")])
        lab.wait_bounce_of(msgid)
        self.assertEqual(lab.counters("dave").get("bounces"), 2, lab.diag())
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# e. one account used from many client networks
# ---------------------------------------------------------------------------

class ClientNetworks(LabTestCase):
    RULES = [rule("client-networks", "client_ips", 10, "lock")]

    def rcpt_from(self, lab, user, source, rcpt):
        with lab.session(user, source=source) as s:
            self.assertReply(lab, s.mail(local(user)), 250)
            return s.rcpt(rcpt)

    def test_many_networks_lock_the_account(self):
        lab = self.start_lab(rules=self.RULES, users=("erin", "frank"))
        replies = [self.rcpt_from(lab, "erin", f"127.{i}.0.1", remote(f"x{i}"))
                   for i in range(1, 13)]
        for rep in replies[:10]:
            self.assertReply(lab, rep, 250)
        # The 11th network is one too many: locked from that RCPT on.
        for rep in replies[10:]:
            self.assertReply(lab, rep, 451, "4.7.1", "client-networks")
        c = lab.counters("erin")
        self.assertTrue(c["locked"], lab.diag())
        self.assertEqual(c["rule"], "client-networks")
        self.assertLog(lab, r"senderwatch: account erin locked by rule client-networks")

        # Many addresses inside one /24 are one network.
        for i in range(1, 13):
            self.assertReply(lab, self.rcpt_from(lab, "frank", f"127.20.0.{i}", remote("y")), 250)
        c = lab.counters("frank")
        self.assertFalse(c["locked"], lab.diag())
        self.assertEqual(c.get("client_ips"), 1, lab.diag())


# ---------------------------------------------------------------------------
# f. a broken store never stops mail
# ---------------------------------------------------------------------------

def store_is_a_file(path, owner):
    eximlab.write_file(path, "not a directory\n", 0o644)


def store_unreadable(path, owner):
    os.makedirs(path)
    os.chmod(path, 0o000)  # root:root 000: the Exim user cannot enter it


def store_corrupt(path, owner):
    eximlab.make_dir(path, 0o770, owner)
    data = os.path.join(path, "data.mdb")
    with open(data, "wb") as f:
        f.write(b"this is not an LMDB file " * 4000)
    os.chmod(data, 0o660)
    os.chown(data, *owner)


class StoreFailure(LabTestCase):
    RULES = [rule("bounce-flood", "bounces", 0, "lock")]

    def mail_still_flows(self, setup, on_error=None):
        lab = self.start_lab(rules=self.RULES, users=("alice",), store_setup=setup,
                             on_error=on_error)
        replies, data, msgid = lab.submit("alice", [remote("ok1"), remote("bad1")])
        return lab, replies, data, msgid

    def check_fail_open(self, setup, log_pattern):
        lab, replies, data, msgid = self.mail_still_flows(setup)
        self.assertAllAccepted(lab, replies)
        self.assertReply(lab, data, 250)
        lab.wait_bounce_of(msgid)  # delivery, bounce event and bounce went through
        self.assertLog(lab, log_pattern)
        # The plugin answered OK to Exim every time: no expansion failure.
        self.assertNoPanic(lab)
        return lab

    def test_store_path_is_a_regular_file(self):
        self.check_fail_open(store_is_a_file, r"senderwatch: check_sender: .*\(failing open\)")

    def test_store_directory_not_accessible(self):
        self.check_fail_open(store_unreadable, r"senderwatch: check_sender: .*\(failing open\)")

    def test_corrupt_store(self):
        lab = self.check_fail_open(store_corrupt, r"store \S+ was corrupt .*set aside")
        # Set aside and rebuilt: counting works again.
        self.assertTrue([f for f in os.listdir(lab.store) if f.startswith("data.mdb.corrupt")],
                        os.listdir(lab.store))

    def test_on_error_defer(self):
        lab, replies, data, msgid = self.mail_still_flows(store_is_a_file, on_error="defer")
        for _, rep in replies:
            self.assertReply(lab, rep, 451, "4.3.0")
        self.assertLog(lab, r"senderwatch: check_sender: .*\(deferring: on_error = defer\)")
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# g. failed AUTH attempts are counted (authenticator server_condition)
# ---------------------------------------------------------------------------

class AuthFailures(LabTestCase):
    RULES = [rule("auth-failures", "authfails", 2, "warn")]

    def test_failed_logins_are_counted(self):
        lab = self.start_lab(rules=self.RULES, users=("gina",))
        for mech in ("PLAIN", "PLAIN", "PLAIN", "LOGIN"):
            with eximlab.Session(lab.port) as s:
                self.assertReply(lab, s.auth("gina", "wrong-password", mech), 535)
        # gina has not sent yet: her failed logins are a provisional record
        # (docs/format.md), which show finds and dump does not list.
        shown = json.loads(lab.cli(["show", "gina", "--json"]).stdout)["record"]
        c = eximlab.record_counters(shown)
        self.assertEqual(c.get("authfails"), 4, f"{c}\n{lab.diag()}")
        self.assertNotIn("gina", lab.dump())

        # A successful login does not count; the warn rule only logs.
        replies, data, _ = lab.submit("gina", [remote("ok")])
        self.assertAllAccepted(lab, replies)
        self.assertEqual(lab.counters("gina").get("authfails"), 4)
        self.assertLog(lab, r"senderwatch: account gina warning by rule auth-failures")
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# h. the acl_not_smtp stanza: real Exim bounces count, local -f '' does not
# ---------------------------------------------------------------------------

class LocalBounceAcl(LabTestCase):
    RULES = [rule("bounce-flood", "bounces", 100, "defer")]
    FAKE_DSN = ("From: Mail Delivery System <Mailer-Daemon@example.test>\n"
                "To: carol@example.test\n"
                "Subject: Mail delivery failed: returning message to sender\n"
                "X-Failed-Recipients: victim@remote.test\n"
                "Auto-Submitted: auto-replied\n"
                "Content-Type: multipart/report; report-type=delivery-status; boundary=x\n"
                "\nfake\n")

    def test_only_exim_generated_bounces_count(self):
        lab = self.start_lab(rules=self.RULES, users=("carol",),
                             macros={"SENDERWATCH_LOCAL_BOUNCES": "yes"})
        # A local submission (like a web form or a script) whose recipients
        # fail: Exim bounces it to carol; acl_not_smtp counts 2 failures.
        r = lab.exim(["-odi", "-f", local("carol"), remote("bad1"), remote("bad2")],
                     input="Subject: from a script\n\nhello\n")
        m = re.search(r"^\S+ \S+ (\S+) <= carol@example\.test .*P=local", lab.log(), re.M)
        self.assertTrue(m, lab.diag())
        lab.wait_bounce_of(m.group(1))
        c = lab.counters(local("carol"))
        self.assertEqual(c.get("bounces"), 2, f"{c}\n{lab.diag()}")
        self.assertLog(lab, r"senderwatch: bounce to carol@example\.test counted")

        # A look-alike bounce submitted with -f '' by root (a cron job, a
        # script): same headers, but not from Exim itself. Not counted.
        # (Only root and the Exim user may run Exim with a -C configuration,
        # so the test cannot submit as an ordinary user; the stanza tests
        # the caller's uid, which is as different for them as for root.)
        lab.exim(["-odi", "-f", "", local("carol")], input=self.FAKE_DSN)
        lab.wait_log(r"<= <> U=root P=local")
        self.assertEqual(len(re.findall(r"<= <> (?:R=\S+ )?U=\S+ P=local", lab.log())), 2,
                         lab.diag())
        self.assertEqual(lab.counters(local("carol")).get("bounces"), 2, lab.diag())
        self.assertEqual(len(re.findall(r"senderwatch: bounce to", lab.log())), 1, lab.diag())
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# Optional: remote temporary failures (msg:rcpt:defer -> record_defer)
# ---------------------------------------------------------------------------

class RemoteDefers(LabTestCase):
    RULES = [rule("defer-storm", "defers", 1, "warn")]

    def test_defers_are_counted_per_attempt(self):
        lab = self.start_lab(rules=self.RULES, users=("kim",),
                             macros={"SENDERWATCH_COUNT_DEFERS": "yes"})
        replies, data, msgid = lab.submit("kim", [remote("tmp1"), remote("ok1")], wait=False)
        self.assertAllAccepted(lab, replies)
        lab.wait_log(r"%s == tmp1@remote\.test .*451 4\.3\.0" % re.escape(msgid))
        # A forced queue run retries at once: a second 451, a second defer.
        lab.queue_run()
        self.assertEqual(len(re.findall(r"== tmp1@remote\.test", lab.log())), 2, lab.diag())
        c = lab.counters("kim")
        self.assertEqual(c.get("defers"), 2, f"{c}\n{lab.diag()}")
        self.assertEqual(c.get("bounces"), 0)
        # 2 defers > 1: the next RCPT is only logged (a warn rule).
        replies, _, _ = lab.submit("kim", [remote("ok2")], wait=False)
        self.assertAllAccepted(lab, replies)
        self.assertLog(lab, r"senderwatch: account kim warning by rule defer-storm")
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# Lock handling variants: reject and freeze (defer is covered above)
# ---------------------------------------------------------------------------

class LockVariants(LabTestCase):
    RULES = [rule("bounce-flood", "bounces", 0, "lock")]

    def lock(self, lab, user):
        _, _, msgid = lab.submit(user, [remote("bad1")])
        lab.wait_bounce_of(msgid)
        self.assertTrue(lab.counters(user)["locked"], lab.diag())

    def test_reject(self):
        lab = self.start_lab(rules=self.RULES, users=("ivan",),
                             macros={"SENDERWATCH_ON_LOCK": "reject"})
        self.lock(lab, "ivan")
        with lab.session("ivan") as s:
            s.mail(local("ivan"))
            self.assertReply(lab, s.rcpt(remote("ok")), 550, "5.7.1", "bounce-flood")

    def test_freeze(self):
        lab = self.start_lab(rules=self.RULES, users=("judy",),
                             macros={"SENDERWATCH_ON_LOCK": "freeze"})
        self.lock(lab, "judy")
        replies, data, msgid = lab.submit("judy", [remote("ok")], wait=False)
        self.assertAllAccepted(lab, replies)  # the sender sees nothing
        self.assertReply(lab, data, 250)
        lab.wait_log(r"%s .*frozen" % re.escape(msgid))
        queue = lab.exim(["-bp"]).stdout
        self.assertRegex(queue, re.escape(msgid) + r".*\*\*\* frozen \*\*\*", queue)
        self.assertLog(lab, r"senderwatch: account judy locked by rule bounce-flood, message frozen")
        # The verdict is spooled with the message for the reviewer.
        headers = lab.exim(["-Mvh", msgid]).stdout
        self.assertIn("verdict=lock", headers)
        # The reviewer finds it with `senderwatch queue` (exipick on the real
        # spool: Exim 4.97+ writes 23-character ids, 4.96 16) and removes it.
        listed = lab.cli(["queue", "judy", "--exim-config", lab.conf]).stdout
        self.assertRegex(listed, r"(?m)^%s .*frozen" % re.escape(msgid), listed)
        lab.cli(["queue", "judy", msgid, "--remove", "--yes", "--exim-config", lab.conf])
        self.assertEqual(lab.queue_count(), 0, lab.exim(["-bp"]).stdout)

    def test_removing_frozen_spam_counts_no_bounces(self):
        """The documented release: remove the frozen spam, then unlock.
        Exim raises msg:fail:internal ("message removed by root") for each
        recipient of a removed message, and "delivery cancelled by
        administrator" for exim -Mg: an administrator's act, never a bounce."""
        lab = self.start_lab(rules=self.RULES, users=("judy",),
                             macros={"SENDERWATCH_ON_LOCK": "freeze"})
        self.lock(lab, "judy")
        ids = []
        for i in range(3):
            _, _, msgid = lab.submit("judy", [remote(f"ok{i}a"), remote(f"ok{i}b")], wait=False)
            lab.wait_log(r"%s .*frozen" % re.escape(msgid))
            ids.append(msgid)
        before = lab.counters("judy")
        self.assertEqual(before.get("bounces"), 1, lab.diag())

        # senderwatch queue --remove (exim -Mrm) ...
        r = lab.cli(["--exim-config", lab.conf, "queue", "judy", ids[0], "--remove", "--yes"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lab.wait_log(r"%s removed by root" % re.escape(ids[0]))
        # ... exim -Mrm by hand, and exim -Mg (cancel, with a bounce to judy).
        lab.exim(["-Mrm", ids[1]])
        lab.exim(["-Mg", ids[2]])
        lab.wait_bounce_of(ids[2])
        eximlab.wait_until(lambda: lab.queue_count() == 0, 30, "an empty queue")
        self.assertLog(lab, r"%s removed by root" % re.escape(ids[1]))

        after = lab.counters("judy")
        self.assertEqual(after.get("bounces"), 1, f"{before} -> {after}\n{lab.diag()}")
        # Released, the account sends again at once (no --reset needed).
        lab.cli(["unlock", "judy", "--reason", "password changed"])
        replies, _, _ = lab.submit("judy", [remote("ok-after")])
        self.assertAllAccepted(lab, replies)
        self.assertNoPanic(lab)


# ---------------------------------------------------------------------------
# The module is gone (apt remove senderwatch), the configuration still wired
# ---------------------------------------------------------------------------

class ModuleMissing(LabTestCase):
    RULES = [rule("bounce-flood", "bounces", 0, "lock")]

    def test_snippets_fail_open_without_the_module(self):
        so = os.path.join(eximlab.base_dir(), f"senderwatch-{os.getpid()}.so")
        shutil.copy(eximlab.PLUGIN, so)
        lab = self.start_lab(rules=self.RULES, users=("kim",), plugin=so)
        os.unlink(so)  # the package is removed while Exim runs
        for _ in range(2):  # two connections, each with a bounce
            replies, data, msgid = lab.submit("kim", [remote("ok1"), remote("bad1")])
            self.assertAllAccepted(lab, replies)
            self.assertReply(lab, data, 250)
            lab.wait_bounce_of(msgid)
        with lab.session() as s:
            self.assertEqual(s.auth("kim", "wrong").code, 535)
        # Logged once per connection, not once per recipient.
        self.assertEqual(len(re.findall(r"senderwatch: \S+ is missing: accounts are not checked",
                                        lab.log())), 2, lab.diag())
        self.assertNoPanic(lab)


if __name__ == "__main__":
    unittest.main()
