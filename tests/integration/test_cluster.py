"""End-to-end: two real Exim hosts sharing counters and locks through one
Redis (issue 15, docs/operations.md "Several hosts: one Redis").

Each test starts its own redis-server (Debian's binary, own config and data
directory inside the lab, a unix socket, requirepass set) and two labs
(eximlab.Lab: own spool, logs, ports and local store) whose policies name
it. Run through run_e2e.py, like test_e2e.py.
"""

import os
import re
import threading
import time
import unittest

import eximlab
from eximlab import LOCAL_DOMAIN, REMOTE_DOMAIN, Lab, policy_toml, rule

PASSWORD = eximlab.REDIS_PASSWORD
# One message per recipient, so each RCPT is one check_sender.
RULES = [rule("rcpt-rate", "recipients", 10, "lock")]
LIMIT = 10


def remote(name):
    return f"{name}@{REMOTE_DOMAIN}"


def cluster_policy(store, redis_address, password_file, timeout, rules=RULES):
    text = policy_toml(store, rules)
    extra = (f'backend = "redis"\nredis = "{redis_address}"\n'
             f'redis_password_file = "{password_file}"\nredis_timeout = "{timeout}"\n')
    return text.replace('durability = "none"\n', 'durability = "none"\n' + extra, 1)


class ClusterTestCase(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(eximlab.REDIS_SERVER):
            self.skipTest("redis-server is not installed")
        self.redis = eximlab.RedisServer()
        self.redis.start()
        self.addCleanup(self.redis.cleanup)

    def start_host(self, name, password=PASSWORD, redis_address=None, timeout="2s",
                   rules=RULES):
        """A lab whose policy names the shared Redis. The password file is
        root's, readable by the Exim group (docs/operations.md). The timeout
        is long by default: on a loaded test machine 50ms is sometimes not
        enough, and a timeout sends the call to the local store (correctly:
        failing open), which would make the counts of these tests inexact."""
        lab = Lab(name, rules=rules, users=("alice", "mallory"), policy_text="")
        secret = os.path.join(lab.etc, "senderwatch.redis")
        eximlab.write_file(secret, password + "\n", mode=0o640, owner=(0, lab.gid))
        eximlab.write_file(lab.policy, cluster_policy(lab.store, redis_address or self.redis.address,
                                                      secret, timeout, rules))
        self.addCleanup(lambda: lab.cleanup(keep=eximlab.case_failed(self)))
        lab.start()
        return lab

    def rcpt(self, lab, user, n):
        """One message with one recipient; returns the RCPT reply code."""
        replies, _, msgid = lab.submit(user, [remote(f"r{n}")], wait=False)
        return replies[0][1].code

    def first_refusal(self, hosts, user, limit=30):
        """Sends one recipient at a time, round robin over hosts; returns the
        number of the first refused RCPT (1-based)."""
        for n in range(1, limit + 1):
            code = self.rcpt(hosts[(n - 1) % len(hosts)], user, n)
            if code != 250:
                return n
        self.fail(f"{user} never refused in {limit} recipients")

    def assertLog(self, lab, pattern):
        self.assertRegex(lab.log(), re.compile(pattern, re.M), lab.diag())


class SpreadSpammer(ClusterTestCase):
    """(a) a spammer spread over two hosts is locked after as many
    recipients as on one host, and both hosts refuse it afterwards;
    (b) unlock on one host releases it on both."""

    def test_locked_as_on_one_host_and_released_everywhere(self):
        one = Lab("single", rules=RULES, users=("solo",))
        self.addCleanup(lambda: one.cleanup(keep=eximlab.case_failed(self)))
        one.start()
        single = self.first_refusal([one], "solo")

        a = self.start_host("host-a")
        b = self.start_host("host-b")
        spread = self.first_refusal([a, b], "alice")
        self.assertEqual(spread, single, f"one host locks at {single}, the cluster at {spread}")
        self.assertEqual(single, LIMIT + 1)
        for host in (a, b):
            self.assertNotEqual(self.rcpt(host, "alice", 99), 250, host.diag())
        self.assertLog(b if spread % 2 == 0 else a, r"senderwatch: account alice locked by rule rcpt-rate")

        a.cli(["unlock", "alice", "--reason", "password changed"])
        for host in (a, b):
            self.assertEqual(self.rcpt(host, "alice", 100), 250, host.diag())


class ConcurrentHosts(ClusterTestCase):
    """(c) processes on both hosts counting at once end with exact counts."""

    def test_counts_are_exact(self):
        # The limit is far away: nothing is refused, everything is counted.
        rules = [rule("rcpt-rate", "recipients", 100000, "lock")]
        a = self.start_host("host-a", rules=rules)
        b = self.start_host("host-b", rules=rules)
        errors = []

        def sender(lab, tag):
            try:
                for i in range(10):
                    replies, _, _ = lab.submit("alice", [remote(f"{tag}-{i}-{j}") for j in range(5)],
                                               wait=False)
                    if any(r.code != 250 for _, r in replies):
                        errors.append((tag, replies))
            except Exception as e:  # reported below
                errors.append((tag, repr(e)))
        threads = [threading.Thread(target=sender, args=(lab, f"{lab.name}{t}"))
                   for lab in (a, b) for t in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertFalse(errors, errors)
        self.assertEqual(b.counters("alice").get("recipients"), 2 * 3 * 10 * 5, a.diag())


class RedisOutage(ClusterTestCase):
    """(d) Redis stopped mid-run: mail flows, the outage is logged, a locked
    account stays locked, and counting resumes when Redis returns."""

    def test_outage(self):
        a = self.start_host("host-a")
        b = self.start_host("host-b")
        self.assertEqual(self.first_refusal([a, b], "mallory"), LIMIT + 1)
        # Host b meets the lock too (a refused RCPT): both keep a copy.
        self.assertNotEqual(self.rcpt(b, "mallory", 40), 250, b.diag())
        self.assertEqual(self.rcpt(b, "alice", 1), 250)
        self.redis.stop()
        # Mail flows; the locked account stays locked on both hosts.
        self.assertEqual(self.rcpt(a, "alice", 2), 250, a.diag())
        self.assertEqual(self.rcpt(b, "alice", 3), 250, b.diag())
        for host in (a, b):
            self.assertNotEqual(self.rcpt(host, "mallory", 50), 250, host.diag())
            self.assertLog(host, r"senderwatch: .*redis unix:.*using the local store")
        self.redis.start()
        time.sleep(6)  # the shared back-off (5s) ends: Exim's clock, not ours
        self.assertEqual(self.rcpt(a, "alice", 4), 250)
        self.assertEqual(self.rcpt(b, "alice", 5), 250)
        # Redis (started empty: no persistence here) counts again, and got
        # the lock back from the hosts' local copies.
        self.assertEqual(b.counters("alice").get("recipients"), 2, b.diag())
        self.assertTrue(a.dump()["mallory"]["lock"]["locked"], a.diag())
        self.assertLog(a, r"answers again; \d+ lock change")


class RedisMisconfigured(ClusterTestCase):
    """(e) wrong password, wrong address, a Redis that never answers: mail
    flows within the timeout, with a clear error in the main log."""

    def test_wrong_password(self):
        a = self.start_host("host-a", password="not-the-password-x9")
        self.assertEqual(self.rcpt(a, "alice", 1), 250, a.diag())
        self.assertLog(a, r"senderwatch: redis unix:.*AUTH refused: WRONGPASS")
        self.assertNotIn("not-the-password-x9", a.log(), "the password was written to the log")

    def test_wrong_address(self):
        a = self.start_host("host-a", redis_address="unix:/nonexistent/redis.sock")
        self.assertEqual(self.rcpt(a, "alice", 1), 250, a.diag())
        self.assertLog(a, r"senderwatch: redis unix:/nonexistent/redis.sock: connect: "
                          r"No such file or directory; using the local store")

    def test_never_answers(self):
        a = self.start_host("host-a", timeout="200ms")
        self.redis.pause()
        started = time.monotonic()
        self.assertEqual(self.rcpt(a, "alice", 1), 250, a.diag())
        took = time.monotonic() - started
        self.redis.resume()
        self.assertLog(a, r"senderwatch: redis unix:.*no answer within 200ms")
        # Generous: a hang would be Exim's own timeouts (minutes).
        self.assertLess(took, 10, a.diag())


if __name__ == "__main__":
    unittest.main()
