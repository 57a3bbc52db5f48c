"""End-to-end test of `senderwatch replay`: the main log a real Exim wrote
while the plugin was deciding, replayed through the same policy, gives the
same locks (account and rule), the same deferred account and the same counts
as the plugin did live.

The lab logs with +received_recipients (eximlab.py), so replay counts
recipients at arrival exactly as check_sender did at RCPT time, with the
same rcpt= and sender=; RCPTs the plugin refused are in the log as
"temporarily rejected RCPT" lines with the account and F=<sender>, and
replay counts them too. The lab's limits file is replayed with --limits, as
the ACL looks it up. Run through run_e2e.py.
"""

import json
import unittest

from eximlab import LOCAL_DOMAIN, REMOTE_DOMAIN, rule
from test_e2e import LabTestCase


def remote(local):
    return f"{local}@{REMOTE_DOMAIN}"


class ReplayMatchesPlugin(LabTestCase):
    RULES = [rule("rcpt-rate", "recipients", 20, "defer"),
             rule("bounce-ratio", "bounce_ratio", 0.3, "lock", min=10),
             rule("client-networks", "client_ips", 2, "lock"),
             rule("foreign-sender", "sender_mismatch", 0, "defer")]

    def send_all(self, lab, user, rcpts, source=None):
        replies, data, msgid = lab.submit(user, rcpts, source=source, wait=False)
        return replies, data, msgid

    def test_replayed_main_log_gives_the_plugins_verdicts(self):
        lab = self.start_lab(rules=self.RULES, users=("alice", "bob", "carol", "dave", "bulk", "erin"),
                             limits={"bulk": "rcpt-rate=100"})

        # alice: a spam run, half of it to dead addresses -> bounce-ratio lock
        # once the bounces come back; her next RCPT is refused.
        rcpts = [remote(f"bad{i}") for i in range(6)] + [remote(f"ok{i}") for i in range(6)]
        replies, _, msgid = self.send_all(lab, "alice", rcpts)
        self.assertAllAccepted(lab, replies)
        lab.wait_bounce_of(msgid)
        with lab.session("alice") as s:
            self.assertReply(lab, s.mail(f"alice@{LOCAL_DOMAIN}"), 250)
            self.assertReply(lab, s.rcpt(remote("later")), 451, "bounce-ratio")

        # bob: honest, one dead address in three messages of five -> nothing.
        for n in range(3):
            replies, _, msgid = self.send_all(lab, "bob", [remote(f"b{n}-{i}") for i in range(4)] +
                                              [remote(f"bad-b{n}")])
            self.assertAllAccepted(lab, replies)
            lab.wait_bounce_of(msgid)

        # carol: one message from each of three client networks; the third
        # network's RCPT is refused and locks her.
        for i in (1, 2):
            replies, _, msgid = self.send_all(lab, "carol", [remote(f"c{i}")], source=f"127.{i}.0.1")
            self.assertAllAccepted(lab, replies)
            lab.wait_completed(msgid)
        with lab.session("carol", source="127.3.0.1") as s:
            self.assertReply(lab, s.mail(f"carol@{LOCAL_DOMAIN}"), 250)
            self.assertReply(lab, s.rcpt(remote("c3")), 451, "client-networks")

        # dave: 25 recipients at once; the rate limit defers the last five,
        # the message goes out to the first twenty.
        replies, data, msgid = self.send_all(lab, "dave", [remote(f"d{i}") for i in range(25)])
        self.assertEqual([r.code for _, r in replies], [250] * 20 + [451] * 5, lab.diag())
        lab.wait_completed(msgid)

        # bulk: the same 25 recipients, but the limits file lets it send 100.
        replies, data, msgid = self.send_all(lab, "bulk", [remote(f"n{i}") for i in range(25)])
        self.assertAllAccepted(lab, replies)
        lab.wait_completed(msgid)

        # erin: a MAIL FROM she does not own; the RCPT is deferred.
        with lab.session("erin") as s:
            self.assertReply(lab, s.mail("someone-else@remote.test"), 250)
            self.assertReply(lab, s.rcpt(remote("e1")), 451, "foreign-sender")

        live = lab.dump()
        live_locks = {(a, r["lock"]["rule"]) for a, r in live.items() if r["locked"]}
        self.assertEqual(live_locks, {("alice", "bounce-ratio"), ("carol", "client-networks")},
                         lab.diag())

        out = lab.cli(["replay", "--json", "--no-progress", "--limits", lab.limits,
                       lab.mainlog]).stdout
        events = [json.loads(line) for line in out.splitlines()]
        summary = events[-1]
        changes = events[:-1]
        self.assertTrue(summary.get("summary"), out)
        self.assertEqual(summary["lines_not_understood"], 0, out)
        self.assertEqual(summary["recipient_counting"], "arrival", out)

        replayed_locks = {(e["account"], e["rule"]) for e in changes if e["verdict"] == "lock"}
        self.assertEqual(replayed_locks, live_locks, out + "\n" + lab.diag())
        self.assertEqual(summary["locked_accounts"], 2, out)
        stopped = {s["account"]: s for s in summary["stopped"]}
        self.assertEqual(stopped["dave"]["verdict"], "defer", out)
        self.assertEqual(stopped["dave"]["rule"], "rcpt-rate", out)
        self.assertEqual(stopped["dave"]["refused"], 5, out)
        self.assertNotIn("bob", stopped, out)
        self.assertNotIn("bulk", stopped, out)  # its override, as live
        self.assertEqual(stopped["erin"]["verdict"], "defer", out)
        self.assertEqual(stopped["erin"]["rule"], "foreign-sender", out)
        # One refused RCPT each after the lock, as the live Exim answered.
        self.assertEqual(stopped["alice"]["refused"], 1, out)
        self.assertEqual(stopped["carol"]["refused"], 1, out)

        # The counts behind the verdicts are the plugin's own.
        live_rcpts = sum(r["windows"]["1h"]["recipients"] for r in live.values())
        live_bounces = sum(r["windows"]["1h"]["bounces"] for r in live.values())
        self.assertEqual(summary["recipients"], live_rcpts, out + "\n" + json.dumps(live))
        self.assertEqual(summary["bounces"], live_bounces, out + "\n" + json.dumps(live))
        self.assertEqual(summary["accounts"], 6, out)
        self.assertNoPanic(lab)


if __name__ == "__main__":
    unittest.main()
