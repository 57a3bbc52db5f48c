"""End-to-end test of learned limits through a real Exim: `senderwatch learn`
seeds the store from a main log of the three days before now, and the live
plugin then judges each account by its own past.

The policy has one learned recipients rule (fallback 30, floor 5, defer) and
a short learning requirement ([learn] min_history 1d, min_active_hours 4).
The synthetic log, in Exim 4.96's format with +received_recipients as the
lab logs, holds "heavy" sending 50 recipients every hour and "ordinary"
sending 4 an hour in working hours, and ends more than an hour before now
(so the live one-hour window starts empty). Then, live:

- heavy sends 60 recipients at once, above the static fallback of 30, and
  is never deferred (learned limit 3 x 50 = 150);
- ordinary sends 20, below the fallback, and is deferred with 451 naming
  rcpt-rate after its learned limit of 3 x 4 = 12;
- newbie, not in the log, is judged by the fallback: 25 pass, the 31st is
  deferred.

Finally `senderwatch replay` of the synthetic log followed by the lab's own
main log gives the same deferrals (account, rule, limit, refused RCPTs) as
the live plugin. If learning were broken (no history, or LearnedLimit
always falling back) heavy would be deferred at 31 and ordinary not at 13,
so this test fails. Run through run_e2e.py.
"""

import json
import os
import time
import unittest

from eximlab import LOCAL_DOMAIN, REMOTE_DOMAIN, Lab
from test_e2e import LabTestCase


def remote(local):
    return f"{local}@{REMOTE_DOMAIN}"


POLICY = """\
[store]
path = "{store}"
durability = "none"

[learn]
min_history = "1d"
min_active_hours = 4

[[rule]]
name = "rcpt-rate"
metric = "recipients"
window = "1h"
above = "learned"
fallback = 30
floor = 5
action = "defer"
"""

WORKING_HOURS = range(8, 17)  # local time, as Exim logs it


def synthetic_mainlog(path, now, days=3):
    """Writes the main log of `days` days before the hour before `now`:
    heavy 50 recipients every hour, ordinary 4 an hour in working hours.
    Returns {account: hours with mail}."""
    end = (int(now) // 3600 - 1) * 3600
    start = end - days * 86400
    seq = 0
    hours = {"heavy": 0, "ordinary": 0}
    lines = []

    def stamp(t):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))

    for hour in range(start, end, 3600):
        for user, count in (("heavy", 50), ("ordinary", 4)):
            if user == "ordinary" and time.localtime(hour).tm_hour not in WORKING_HOURS:
                continue
            seq += 1
            msgid = f"0sw{seq % 1000:03d}-{seq:06d}-1X"  # never one the lab's Exim gives
            t = hour + 600 + (7 if user == "ordinary" else 0)
            rcpts = [remote(f"{user}-friend{i}") for i in range(count)]
            lines.append(f"{stamp(t)} {msgid} <= {user}@{LOCAL_DOMAIN} H=(client.test) "
                         f"[127.0.0.1]:40{seq % 100:02d} I=[127.0.0.1]:25 P=esmtpa A=plain:{user} "
                         f"S=612 id={seq}.{user}@client.test T=\"report {seq}\" "
                         f"for {' '.join(rcpts)}")
            for r in rcpts:
                lines.append(f"{stamp(t + 1)} {msgid} => {r} R=smarthost T=remote_smtp "
                             f"H=127.0.0.1 [127.0.0.1] C=\"250 OK id=0sw{seq:06d}\"")
            lines.append(f"{stamp(t + 1)} {msgid} Completed")
            hours[user] += 1
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return hours


class Learning(LabTestCase):
    def rule_reading(self, lab, account):
        shown = json.loads(lab.cli(["show", account, "--json"]).stdout)
        (reading,) = shown["rules"]
        return reading

    def send(self, lab, user, rcpts):
        replies, data, msgid = lab.submit(user, rcpts)
        return [rep.code for _, rep in replies], [rep for _, rep in replies]

    def test_learned_limits_follow_each_accounts_past(self):
        started = time.monotonic()
        # The policy names the lab's store, which exists once the Lab does:
        # written before Exim starts.
        lab = Lab("Learning", rules=[], users=("heavy", "ordinary", "newbie"), policy_text="")
        self.addCleanup(self._cleanup_lab, lab)
        with open(lab.policy, "w") as f:
            f.write(POLICY.format(store=lab.store))
        lab.start()
        synthetic = os.path.join(lab.dir, "mainlog.learn")
        hours = synthetic_mainlog(synthetic, time.time())
        self.assertGreaterEqual(hours["ordinary"], 18, "two days of working hours at least")

        # Before any mail reaches the plugin: learn from the old log.
        report = json.loads(lab.cli(["learn", "--json", "--no-progress", synthetic]).stdout)
        self.assertEqual(report["lines_not_understood"], 0, report)
        self.assertEqual(report["new"], 2, report)
        self.assertEqual(report["with_learned_limit"], 2, report)
        per = {a["account"]: a for a in report["per_account"]}
        self.assertEqual(per["heavy"]["hours_added"], hours["heavy"], report)
        self.assertEqual(per["ordinary"]["hours_added"], hours["ordinary"], report)

        heavy = self.rule_reading(lab, "heavy")
        ordinary = self.rule_reading(lab, "ordinary")
        self.assertEqual((heavy["limit"], heavy["learned"], heavy["limit_source"]),
                         (150, True, "learned"), heavy)
        self.assertEqual((ordinary["limit"], ordinary["learned"], ordinary["limit_source"]),
                         (12, True, "learned"), ordinary)
        self.assertIn("12 (learned)", lab.cli(["show", "ordinary"]).stdout)

        live_since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))

        # heavy: 60 at once, twice its fallback, all accepted.
        codes, replies = self.send(lab, "heavy", [remote(f"h{i}") for i in range(60)])
        self.assertEqual(codes, [250] * 60, f"{replies}\n{lab.diag()}")

        # ordinary: 20 at once, below the fallback of 30; its own limit is 12.
        codes, replies = self.send(lab, "ordinary", [remote(f"o{i}") for i in range(20)])
        self.assertEqual(codes, [250] * 12 + [451] * 8, f"{replies}\n{lab.diag()}")
        self.assertIn("rcpt-rate", replies[12].text, lab.diag())
        self.assertIn("4.7.1", replies[12].text, lab.diag())
        self.assertLog(lab, r"senderwatch: account ordinary deferred by rule rcpt-rate")

        # newbie: no history, so the static fallback of 30.
        codes, replies = self.send(lab, "newbie", [remote(f"n{i}") for i in range(25)])
        self.assertEqual(codes, [250] * 25, f"{replies}\n{lab.diag()}")
        codes, replies = self.send(lab, "newbie", [remote(f"n{i}") for i in range(25, 31)])
        self.assertEqual(codes, [250] * 5 + [451], f"{replies}\n{lab.diag()}")
        self.assertIn("rcpt-rate", replies[5].text, lab.diag())
        newbie = self.rule_reading(lab, "newbie")
        self.assertEqual((newbie["limit"], newbie["learned"], newbie["limit_source"]),
                         (30, False, "fallback"), newbie)
        self.assertNotLog(lab, r"senderwatch: account heavy deferred")

        # `top` marks both kinds of limit. (heavy's reads 147 by now: its last
        # hour moved from the exact ring into the history's log-scale bytes.)
        top = lab.cli(["top"]).stdout
        self.assertRegex(top, r"(?m)^heavy +ok .* 60/14[4-9]L ", top)
        self.assertRegex(top, r"(?m)^ordinary +defer .* 20/12L ", top)
        self.assertRegex(top, r"(?m)^newbie +defer .* 31/30F ", top)

        # Replay of the old log followed by the lab's real one: in the live
        # part, the same deferrals, by the same rule, at the same learned
        # limit. (Replay also defers heavy during the first day of the old
        # log, when it had no history yet and the fallback of 30 applied:
        # that is what the policy would have done then.)
        out = lab.cli(["replay", "--json", "--no-progress", "--no-limits",
                       lab.mainlog, synthetic]).stdout
        events = [json.loads(line) for line in out.splitlines()]
        summary, changes = events[-1], events[:-1]
        self.assertEqual(summary["lines_not_understood"], 0, out)
        live = [c for c in changes if c["time"] >= live_since]
        self.assertEqual([(c["account"], c["verdict"], c["rule"], c["limit"]) for c in live],
                         [("ordinary", "defer", "rcpt-rate", 12),
                          ("newbie", "defer", "rcpt-rate", 30)], out)
        stopped = {s["account"]: s for s in summary["stopped"]}
        self.assertEqual((stopped["ordinary"]["verdict"], stopped["ordinary"]["rule"],
                          stopped["ordinary"]["refused"]), ("defer", "rcpt-rate", 8), out)
        self.assertEqual((stopped["newbie"]["verdict"], stopped["newbie"]["rule"],
                          stopped["newbie"]["refused"]), ("defer", "rcpt-rate", 1), out)
        heavy_early = [c for c in changes if c["account"] == "heavy" and c["verdict"] == "defer"]
        self.assertTrue(heavy_early and all(c["time"] < live_since and c["limit"] == 30
                                            for c in heavy_early), out)

        self.assertNoPanic(lab)
        self.assertLess(time.monotonic() - started, 60)


if __name__ == "__main__":
    unittest.main()
