#!/usr/bin/env python3
"""senderwatch demo: a hijacked mail account caught and locked by a real Exim.

    demo.py --plugin build-demo/src/exim/senderwatch.so \\
            --cli build-demo/src/cli/senderwatch [--keep]

The README's demo (.ci/demo builds the project and runs this). It starts a
throw-away Exim with the shipped exim-snippets/example-exim4.conf and the
plugin, plus a "sink" Exim standing in for the Internet (it rejects
addresses starting with "bad" with 550), and tells the story step by step:
an honest user sends mail; a stolen password is used for a spam run to
lists full of dead addresses; Exim's own bounces get the account locked;
the administrator finds out why with the senderwatch command and releases
it. The policy is senderwatch's built-in default.

Everything runs on 127.0.0.1 in a temporary directory, inside a private
mount namespace (the same harness as the end-to-end tests, eximlab.py): the
machine's /etc/exim4 and any running Exim are not touched. Needs root and
exim4-daemon-heavy. Exits 0 when every step happened as told, 1 (with the
reason and the log's tail) when one did not, 77 when it cannot run here.
--keep keeps the directory (logs, spool, store) for a closer look.
"""

import argparse
import json
import os
import re
import shutil
import sys
import textwrap
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eximlab  # noqa: E402
from eximlab import LOCAL_DOMAIN, REMOTE_DOMAIN  # noqa: E402

SKIP = 77
WIDTH = 78


class DemoFailure(Exception):
    pass


# ---------------------------------------------------------------------------
# Narration
# ---------------------------------------------------------------------------

def out(text=""):
    print(text, flush=True)


def heading(number, title):
    out()
    out(f"== {number}. {title}")
    out()


def say(text):
    out(textwrap.fill(" ".join(text.split()), WIDTH, initial_indent="   ",
                      subsequent_indent="   "))


def block(lines, prefix="     "):
    for line in lines:
        out((prefix + line).rstrip())


def remote(local):
    return f"{local}@{REMOTE_DOMAIN}"


def local(name):
    return f"{name}@{LOCAL_DOMAIN}"


def log_lines(lines):
    """Main-log lines without the date (the time is enough here), wrapped."""
    for line in lines:
        if re.match(r"\d{4}-\d\d-\d\d ", line):
            line = line.split(" ", 1)[1]
        out(textwrap.fill(line, WIDTH, initial_indent="     ", subsequent_indent="         ",
                          break_on_hyphens=False))


def smtp_reply(reply):
    """An SMTP reply as it was on the wire (multi-line replies with "CODE-")."""
    lines = reply.text.splitlines() or [""]
    for i, line in enumerate(lines):
        out(f"     S: {reply.code}{'-' if i < len(lines) - 1 else ' '}{line}")


# ---------------------------------------------------------------------------
# The story
# ---------------------------------------------------------------------------

class Demo:
    def __init__(self, lab):
        self.lab = lab
        self.step = "setup"

    def expect(self, condition, what):
        if not condition:
            raise DemoFailure(what)

    def cli(self, args):
        """Runs senderwatch against the lab's store; shows command and output."""
        shown = " ".join(a if re.fullmatch(r"[\w@.=/-]+", a) else f'"{a}"' for a in args)
        out(f"   $ senderwatch {shown}")
        r = self.lab.cli(args, check=False)
        block(r.stdout.rstrip("\n").splitlines())
        if r.stderr.strip():
            block(r.stderr.rstrip("\n").splitlines())
        self.expect(r.returncode == 0, f"senderwatch {shown} exited with {r.returncode}")
        return r.stdout

    def send(self, who, recipients, source=None, subject="hello", wait_bounce=False):
        """One authenticated message; prints one line per message and checks
        every recipient was accepted. Returns the message id."""
        replies, data, msgid = self.lab.submit(who, recipients, source=source, subject=subject)
        refused = [(r, rep) for r, rep in replies if rep.code != 250]
        self.expect(not refused, f"{who}'s recipients were refused: {refused}")
        self.expect(data is not None and data.code == 250, f"{who}'s DATA was refused: {data}")
        if wait_bounce:
            self.lab.wait_bounce_of(msgid)
        shown = ", ".join(recipients) if len(recipients) <= 3 else \
            f"{len(recipients)} recipients ({recipients[0]}, {recipients[1]}, ...)"
        out(f"     {who} from {source or '127.0.0.1'} -> {shown}: {data.code} id={msgid}")
        return msgid

    def log_lines(self, pattern, since=0):
        rx = re.compile(pattern)
        return [line for line in self.lab.log()[since:].splitlines() if rx.search(line)]

    def counters_line(self, account):
        c = self.lab.counters(account)
        return (f"{account}: {c.get('recipients', 0)} recipients, {c.get('bounces', 0)} bounces "
                f"(ratio {c.get('bounce_ratio', 0):.2f}), {c.get('client_ips', 0)} client "
                f"network(s) in the last hour; {'LOCKED' if c.get('locked') else 'not locked'}"), c

    def run(self):
        lab = self.lab
        self.step = "1"
        heading(1, "A throw-away mail system")
        say(f"""Exim under test: the shipped exim-snippets/example-exim4.conf with the
            senderwatch plugin, listening on 127.0.0.1:{lab.port}; users alice and bob
            log in with SMTP AUTH. It relays everything for other domains to a sink
            Exim on 127.0.0.1:{lab.sink_port} that stands in for the Internet: it
            rejects addresses starting with "bad" with 550 (dead addresses, as on
            any spam list) and accepts the rest.""")
        out()
        out(f"     directory  {lab.dir}")
        out(f"     config     {lab.conf}")
        out(f"     main log   {lab.mainlog}")
        out()
        say("""Policy: senderwatch's built-in defaults (the policy file only sets
            where the store lives). The rule this demo is about is bounce-ratio:
            lock an account when more than 30% of its recipients in the last hour
            bounced, once it has at least 20 recipients.""")
        out()
        policy = json.loads(lab.cli(["check-config", "--json"]).stdout)
        self.expect(policy.get("valid"), f"the policy file is invalid: {policy}")
        rules = re.findall(r'\[\[rule\]\]\n((?:\w+ = .*\n)+)', policy["policy_toml"])
        self.expect(rules, "check-config printed no rules")
        for text in rules:
            r = dict(re.findall(r'(\w+) = "?([^"\n]*)"?', text))
            mn = f", min {r['min']}" if "min" in r else ""
            out(f"     {r['name']:<16} {r['metric']:<13} > {r['above']:<5} in {r['window']}"
                f"{mn:<9} -> {r['action']}")
        self.expect(any('name = "bounce-ratio"' in t and "above = 0.3" in t and "min = 20" in t
                        and 'action = "lock"' in t for t in rules),
                    "the default policy has no bounce-ratio lock rule (> 0.3, min 20)")

        self.step = "2"
        heading(2, "alice, an honest user, sends her mail")
        self.send("alice", [remote("friend")], subject="Lunch?")
        self.send("alice", [remote("colleague1"), remote("colleague2")], subject="Minutes")
        self.send("alice", [local("bob")], subject="Report")
        line, c = self.counters_line("alice")
        say("All accepted and delivered. senderwatch counted them:")
        out(f"     {line}")
        self.expect(c.get("recipients") == 4 and not c.get("locked"),
                    f"alice's counters are wrong: {c}")

        self.step = "3"
        heading(3, "bob's password was stolen: a spam run")
        say("""A spammer logs in as bob from a botnet and sends to bought lists:
            batches of 15 recipients, 6 of them dead addresses (40%). Our Exim
            accepts every RCPT (it cannot know which addresses are dead); when it
            delivers, the sink answers 550 for the dead ones and Exim sends bob a
            bounce. senderwatch counts each failure in the transport's
            event_action (msg:fail:delivery -> record_bounce), attributed to the
            account that submitted the message.""")
        out()
        batch1 = [remote(f"bad{i}") for i in range(1, 7)] + [remote(f"lead{i}") for i in range(1, 10)]
        mark = len(lab.log())
        self.send("bob", batch1, source="127.66.1.1", subject="Cheap watches", wait_bounce=True)
        fails = self.log_lines(r" \*\* bad\d+@", mark)
        bounces = self.log_lines(r" <= <> R=", mark)
        self.expect(len(fails) == 6, f"expected 6 failed deliveries in the log, saw {len(fails)}")
        self.expect(bounces, "Exim generated no bounce message")
        say("Exim's main log: the failures and the bounce message Exim sent to bob:")
        log_lines(fails[:1])
        out("         ... (6 failed recipients in all)")
        log_lines(bounces[:1])
        line, c = self.counters_line("bob")
        out()
        out(f"     {line}")
        self.expect(c.get("recipients") == 15 and c.get("bounces") == 6,
                    f"bob's first batch was not counted as 15 recipients, 6 bounces: {c}")
        self.expect(not c.get("locked"), f"bob was locked after only 15 recipients: {c}")
        say("""A ratio of 0.40, but only 15 recipients: below the rule's minimum of
            20, so no verdict yet (a user who sent two mails, one with a typo, is
            not locked). The next batch comes from another network:""")
        out()
        batch2 = [remote(f"bad{i}") for i in range(7, 13)] + [remote(f"lead{i}") for i in range(10, 19)]
        self.send("bob", batch2, source="127.77.2.1", subject="Cheap watches", wait_bounce=True)
        lock = lab.wait_log(r"^.*senderwatch: account bob locked by rule bounce-ratio.*$", timeout=10)
        line, c = self.counters_line("bob")
        out(f"     {line}")
        out()
        say("While Exim delivered that batch, a bounce pushed the ratio over the limit. "
            "The plugin wrote to Exim's main log:")
        log_lines([lock.group(0)])
        self.expect(c.get("locked") and c.get("rule") == "bounce-ratio",
                    f"bob is not locked by bounce-ratio: {c}")

        self.step = "4"
        heading(4, "bob's account is locked")
        say("The spammer tries the next batch (the SMTP dialogue):")
        out()
        with eximlab.Session(lab.port, source="127.88.3.1") as s:
            r = s.auth("bob")
            out("     C: AUTH PLAIN ...   (bob's stolen password)")
            smtp_reply(r)
            self.expect(r.code == 235, f"AUTH as bob failed: {r}")
            r = s.mail(local("bob"))
            out(f"     C: MAIL FROM:<{local('bob')}>")
            smtp_reply(r)
            self.expect(r.code == 250, f"MAIL FROM was refused: {r}")
            r = s.rcpt(remote("lead19"))
            out(f"     C: RCPT TO:<{remote('lead19')}>")
            smtp_reply(r)
            s.rset()
        self.expect(r.code == 451 and "4.7.1" in r.text and "bounce-ratio" in r.text,
                    f"bob's RCPT was not deferred with 451 4.7.1 naming bounce-ratio: {r}")
        m = lab.wait_log(r"^.*temporarily rejected RCPT <lead19@remote\.test>.*$", timeout=10)
        out()
        say("""451 is a temporary refusal: nothing is lost (bob's own mail client
            keeps its mail and retries), but nothing goes out until a person has
            looked. Exim's main log:""")
        log_lines([m.group(0)])
        out()
        say("alice is not affected:")
        self.send("alice", [remote("friend")], subject="Re: Lunch?")

        self.step = "5"
        heading(5, "The administrator: who, and why?")
        say(f"""The senderwatch command reads the same store as the plugin. Here it
            runs as senderwatch --db {lab.store} --config {lab.policy} COMMAND
            (on a real server the defaults find both).""")
        out()
        top = self.cli(["top"])
        self.expect(re.search(r"^bob\s+LOCKED\s.*bounce-ratio", top, re.M),
                    "senderwatch top does not list bob as LOCKED by bounce-ratio")
        self.expect(re.search(r"^alice\s+ok\b", top, re.M), "senderwatch top does not list alice as ok")
        out()
        show = self.cli(["show", "bob"])
        self.expect(re.search(r"^bob\s+LOCKED", show, re.M), "senderwatch show bob: not LOCKED")
        self.expect("bounce-ratio" in show and "127.77.2.0/24" in show and "127.66.1.0/24" in show,
                    "senderwatch show bob lacks the rule or the client networks")

        self.step = "6"
        heading(6, "Release after the password was changed")
        self.cli(["unlock", "bob", "--reason", "password changed"])
        rec = lab.dump().get("bob") or {}
        release = rec.get("last_release") or {}
        self.expect(not rec.get("locked"), f"bob is still locked after unlock: {rec}")
        self.expect(release.get("reason") == "password changed",
                    f"the release and its reason were not recorded: {release}")
        out()
        say(f"""The store now records the release: by {release.get('by') or '?'} at
            {release.get('at')}, reason "{release.get('reason')}" (senderwatch show
            bob lists it as Last release).""")
        out()
        say("""bob, with his new password, sends from his usual place. The release
            starts the account afresh for the lock rules: the spam run's bounces
            no longer count towards a new lock.""")
        msgid = self.send("bob", [remote("customer1"), remote("customer2")], subject="Offer")
        delivered = self.log_lines(r"%s => customer1@remote\.test" % re.escape(msgid))
        self.expect(delivered, "bob's mail after the release was not delivered")
        log_lines(delivered)
        self.expect(not lab.counters("bob").get("locked"), "bob was locked again")
        self.expect(lab.panic() == "", "Exim's panic log is not empty:\n" + lab.panic())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin", required=True, help="path of the built senderwatch.so")
    ap.add_argument("--cli", required=True, help="path of the built senderwatch command")
    ap.add_argument("--keep", action="store_true",
                    help="keep the directory with logs, spool and store at the end")
    args = ap.parse_args()
    for what, path in (("plugin", args.plugin), ("CLI", args.cli)):
        if not os.path.isfile(path):
            print(f"demo: the {what} {path} does not exist (build the project first)",
                  file=sys.stderr)
            return 2

    reason = eximlab.skip_reason()
    if reason is None:
        reason = eximlab.run_in_private_namespace(__file__)  # re-executes itself
    if reason:
        print(f"demo: cannot run here: {reason}", file=sys.stderr)
        return SKIP

    # Inside a private mount namespace from here on.
    started = time.monotonic()
    eximlab.PLUGIN = os.path.abspath(args.plugin)
    eximlab.CLI = os.path.abspath(args.cli)
    base = eximlab.enter_private_etc(prefix="senderwatch-demo-")
    out("senderwatch demo: a hijacked account, caught by its bounces")
    out(f"(plugin {eximlab.PLUGIN}, Exim {eximlab.EXIM})")
    lab = demo = None
    failed = True
    try:
        # rules=[]: the policy file has no [[rule]], so the built-in defaults apply.
        lab = eximlab.Lab("lab", rules=[], users=("alice", "bob"))
        lab.start()
        demo = Demo(lab)
        demo.run()
        failed = False
    except (DemoFailure, eximlab.LabError) as e:
        step = demo.step if demo else "setup"
        out()
        out(f"DEMO FAILED at step {step}: {e}")
        if lab is not None:
            out(lab.diag())
    except KeyboardInterrupt:
        out()
        out("demo interrupted")
    finally:
        if lab is not None:
            lab.stop()  # the daemons and their children, always
            if not (args.keep or failed):
                shutil.rmtree(lab.dir, ignore_errors=True)
        kept = eximlab.leave_private_etc()
        out()
        out("== Clean-up")
        out()
        if kept:
            out(f"   Exim and the sink are stopped; kept {os.path.join(base, kept[0])}:")
            if lab is not None:
                out("   log/mainlog, sink/log/mainlog, spool/, store/; look again with")
                out(f"   {eximlab.CLI} --db {lab.store} \\")
                out(f"       --config {lab.policy} show bob")
        else:
            out(f"   Exim and the sink are stopped, {base} is removed.")
    elapsed = time.monotonic() - started
    out()
    if failed:
        out(f"senderwatch demo FAILED ({elapsed:.0f} s)")
        return 1
    out(f"senderwatch demo: every step happened as described ({elapsed:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
