"""End-to-end tests of local submissions (issue 17): a hijacked web script
calling `sendmail` is judged per calling user in acl_not_smtp, locked on the
bounces its spam causes and stopped, through a real Exim 4.96 and the shipped
acl-not-smtp.conf stanza.

The script runs as an ordinary system user (www-data, uid 33 on Debian)
calling /usr/sbin/sendmail without -C, exactly as PHP's mail() does; the
lab's configuration is made Exim's default one in the private /etc/exim4
(eximlab.Lab.install_as_default explains why -C cannot be used). A cron job
of another system user (backup) and Exim's own bounces run beside it.

Run through run_e2e.py (it provides root checks and the mount namespace).
"""

import json
import re

import eximlab
from eximlab import REMOTE_DOMAIN, rule
from test_e2e import LabTestCase

SCRIPT_USER = "www-data"
CRON_USER = "backup"
QUALIFY = "mx.example.test"  # the lab's primary_hostname qualifies bare logins


def remote(local):
    return f"{local}@{REMOTE_DOMAIN}"


def message(recipients, subject):
    return (f"To: {', '.join(recipients)}\nSubject: {subject}\n"
            "X-Mailer: PHP/8.2\n\nBuy now!\n")


def submitted(lab, login, subject):
    """Waits for the local submission with this subject by login; its id."""
    m = lab.wait_log(r"^\S+ \S+ (\S+) <= \S+ U=%s P=local .*T=\"%s\""
                     % (re.escape(login), re.escape(subject)))
    return m.group(1)


class LocalSubmissions(LabTestCase):
    # 4 bounces lock; the recipient limit is far above anything sent here, so
    # a lock can only come from the bounces of the script's own mail. The
    # SMTP-only rules would lock or refuse at the first bounce or recipient:
    # they must not apply to local submissions (applies_to, origin=).
    RULES = [rule("rcpt-rate", "recipients", 1000, "defer"),
             rule("smtp-rcpts", "recipients", 0, "defer", applies_to="smtp"),
             rule("smtp-bounces", "bounces", 0, "lock", applies_to="smtp"),
             rule("bounce-flood", "bounces", 4, "lock", applies_to="local")]

    def start_local_lab(self, on_lock):
        lab = self.start_lab(rules=self.RULES, users=("alice",),
                             macros={"SENDERWATCH_LOCAL_SUBMISSIONS": "yes",
                                     "SENDERWATCH_LOCAL_ON_LOCK": on_lock})
        self.addCleanup(lab.install_as_default())
        return lab

    def spam_run(self, lab):
        """The hijacked script: 12 recipients, 6 of them dead addresses that
        the remote side rejects with 550 at delivery. Returns its id."""
        rcpts = [remote(f"bad{i}") for i in range(1, 7)] + [remote(f"ok{i}") for i in range(1, 7)]
        r = lab.sendmail(SCRIPT_USER, message(rcpts, "spam run"))
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")
        msgid = submitted(lab, SCRIPT_USER, "spam run")
        lab.wait_bounce_of(msgid)
        return msgid

    def assertNoRecord(self, lab, account):
        self.assertNotIn(account, lab.dump(), f"{account} was counted\n{lab.diag()}")

    def test_hijacked_script_is_locked_refused_and_released(self):
        lab = self.start_local_lab("reject")
        msgid = self.spam_run(lab)

        # Counted per calling user: 12 recipients at submission, 6 bounces
        # from the delivery events, in one record; locked.
        c = lab.counters(SCRIPT_USER)
        self.assertEqual(c.get("recipients"), 12, f"{c}\n{lab.diag()}")
        self.assertEqual(c.get("bounces"), 6, f"{c}\n{lab.diag()}")
        self.assertTrue(c["locked"], f"not locked: {c}\n{lab.diag()}")
        self.assertEqual(c["rule"], "bounce-flood")
        self.assertLog(lab, r"senderwatch: account www-data locked by rule bounce-flood")

        # Exim's bounce to the script's sender went through acl_not_smtp as
        # a local submission by the Exim user; nobody was charged for it.
        self.assertLog(lab, r"<= <> R=%s U=Debian-exim P=local" % re.escape(msgid))
        for account in ("Debian-exim", "root", "", f"{SCRIPT_USER}@{QUALIFY}"):
            self.assertNoRecord(lab, account)

        # A cron job of another user sends a few mails: judged as its own
        # user, never counted against the script, delivered.
        for i in range(2):
            r = lab.sendmail(CRON_USER, message([remote(f"admin{i}")], f"cron report {i}"))
            self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")
            lab.wait_completed(submitted(lab, CRON_USER, f"cron report {i}"))
        cron = lab.counters(CRON_USER)
        self.assertEqual((cron.get("recipients"), cron.get("bounces"), cron["locked"]),
                         (2, 0, False), f"{cron}\n{lab.diag()}")
        self.assertEqual(lab.counters(SCRIPT_USER).get("recipients"), 12, lab.diag())

        # root's mail is never judged (SENDERWATCH_LOCAL_EXEMPT_UIDS).
        lab.exim(["-odi", remote("root-report")], input="Subject: root report\n\nok\n")
        lab.wait_completed(submitted(lab, "root", "root report"))
        self.assertNoRecord(lab, "root")

        # The locked script's next mail is refused: sendmail fails (the
        # script sees it), nothing is queued, the main log says why.
        r = lab.sendmail(SCRIPT_USER, message([remote("ok-later")], "more spam"))
        self.assertNotEqual(r.returncode, 0, f"not refused: {r.stdout}{r.stderr}\n{lab.diag()}")
        self.assertLog(lab, r"F=<www-data@mx\.example\.test> rejected by non-SMTP ACL: "
                            r"senderwatch: local user www-data locked by rule bounce-flood, "
                            r"message refused: verdict=lock")
        self.assertNotLog(lab, r"<= \S+ U=www-data P=local .*T=\"more spam\"")

        # senderwatch show says why.
        show = lab.cli(["show", SCRIPT_USER]).stdout
        self.assertIn("bounce-flood", show, show)
        self.assertRegex(show, r"(?i)locked", show)
        self.assertIn("bounce-flood [local]", show, show)
        detail = json.loads(lab.cli(["show", SCRIPT_USER, "--json"]).stdout)
        self.assertTrue(detail["record"]["locked"], detail)
        self.assertEqual(detail["record"]["lock"]["rule"], "bounce-flood", detail)
        kinds = {r["rule"]: r["applies_to"] for r in detail["rules"]}
        self.assertEqual(kinds["bounce-flood"], "local", kinds)

        # Released, the script's user sends again.
        lab.cli(["unlock", SCRIPT_USER, "--reason", "site cleaned"])
        r = lab.sendmail(SCRIPT_USER, message([remote("ok-after")], "newsletter"))
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")
        lab.wait_completed(submitted(lab, SCRIPT_USER, "newsletter"))
        self.assertLog(lab, r"=> ok-after@remote\.test")
        self.assertFalse(lab.counters(SCRIPT_USER)["locked"], lab.diag())

        # Replayed, the main log gives the same lock: the local submissions
        # are the login's (U=www-data P=local), judged by the local rules;
        # cron, root and Exim's bounces lock nobody.
        out = lab.cli(["replay", "--json", "--no-progress", lab.mainlog]).stdout
        events = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(events[-1]["lines_not_understood"], 0, out)
        locks = {(e["account"], e["rule"]) for e in events[:-1] if e.get("verdict") == "lock"}
        self.assertEqual(locks, {(SCRIPT_USER, "bounce-flood")}, out + "\n" + lab.diag())
        self.assertNoPanic(lab)

    def test_locked_script_mail_is_frozen_for_review(self):
        lab = self.start_local_lab("freeze")
        self.spam_run(lab)
        self.assertTrue(lab.counters(SCRIPT_USER)["locked"], lab.diag())

        r = lab.sendmail(SCRIPT_USER, message([remote("ok-later")], "more spam"))
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")  # sees nothing
        msgid = submitted(lab, SCRIPT_USER, "more spam")
        lab.wait_log(r"%s .*frozen" % re.escape(msgid))
        self.assertLog(lab, r"senderwatch: local user www-data locked by rule bounce-flood, "
                            r"message frozen: verdict=lock")
        self.assertNotLog(lab, r"=> ok-later@remote\.test")
        # senderwatch queue USER finds it; the verdict is spooled with it.
        q = lab.cli(["--exim-config", lab.conf, "queue", SCRIPT_USER, "--json"]).stdout
        self.assertIn(msgid, q, q)
        self.assertIn("verdict=lock", lab.exim(["-Mvh", msgid]).stdout)
        self.assertNoPanic(lab)


class LocalRateLimit(LabTestCase):
    """A local user over a rate limit ("defer" verdict): no temporary refusal
    exists for sendmail, so the default freezes the message; "reject"
    refuses it. One message is judged by the strongest verdict of its
    recipients, not by the last one."""
    RULES = [rule("script-rcpts", "recipients", 2, "defer", applies_to="local")]

    def run_case(self, on_defer):
        lab = self.start_lab(rules=self.RULES, users=("alice",),
                             macros={"SENDERWATCH_LOCAL_SUBMISSIONS": "yes",
                                     "SENDERWATCH_LOCAL_ON_DEFER": on_defer})
        self.addCleanup(lab.install_as_default())
        r = lab.sendmail(SCRIPT_USER, message([remote("ok1"), remote("ok2")], "two"))
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")
        lab.wait_completed(submitted(lab, SCRIPT_USER, "two"))
        r = lab.sendmail(SCRIPT_USER, message([remote(f"ok{i}") for i in range(3, 5)], "four"))
        return lab, r

    def test_over_the_limit_is_frozen_by_default(self):
        lab, r = self.run_case("freeze")
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")
        msgid = submitted(lab, SCRIPT_USER, "four")
        lab.wait_log(r"%s .*frozen" % re.escape(msgid))
        self.assertLog(lab, r"senderwatch: local user www-data deferred by rule script-rcpts, "
                            r"message frozen: verdict=defer")
        self.assertEqual(lab.counters(SCRIPT_USER).get("recipients"), 4, lab.diag())
        self.assertFalse(lab.counters(SCRIPT_USER)["locked"], lab.diag())

    def test_reject(self):
        lab, r = self.run_case("reject")
        self.assertNotEqual(r.returncode, 0, f"not refused\n{lab.diag()}")
        self.assertLog(lab, r"rejected by non-SMTP ACL: senderwatch: local user www-data "
                            r"deferred by rule script-rcpts, message refused")

    def test_strongest_verdict_of_the_message_decides(self):
        # 2 of 2 recipients bounced; the next message's first recipients see
        # a ratio above 0.3 (2/3 ... 2/6: defer), its last ones below it
        # (2/7 ... 2/10: ok). The message is frozen all the same.
        lab = self.start_lab(rules=[rule("script-ratio", "bounce_ratio", 0.3, "defer", min=2)],
                             users=("alice",), macros={"SENDERWATCH_LOCAL_SUBMISSIONS": "yes"})
        self.addCleanup(lab.install_as_default())
        r = lab.sendmail(SCRIPT_USER, message([remote("bad1"), remote("bad2")], "dead"))
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")
        lab.wait_bounce_of(submitted(lab, SCRIPT_USER, "dead"))
        r = lab.sendmail(SCRIPT_USER, message([remote(f"ok{i}") for i in range(8)], "eight"))
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{lab.diag()}")
        msgid = submitted(lab, SCRIPT_USER, "eight")
        lab.wait_log(r"%s .*frozen" % re.escape(msgid))
        self.assertLog(lab, r"local user www-data deferred by rule script-ratio, message frozen")
        self.assertIn("verdict=ok", lab.peek(SCRIPT_USER))  # the last recipient's verdict
