"""Configuration tests: the snippets installed into Debian's exim4-config
exactly as docs/debian.md describes, for the unsplit and the split scheme,
generated with the real update-exim4.conf and checked with the real exim4;
and the shipped example-exim4.conf, verbatim.

All of it happens in the private copy of /etc/exim4 that run_e2e.py mounts
in a private mount namespace; the machine's /etc/exim4 and
/var/lib/exim4 are never touched (update-exim4.conf writes to -o OUT).
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import eximlab

ETC = eximlab.ETC_EXIM  # the private copy, inside the namespace
SNIPPET_FILES = ("senderwatch.macros", "acl-rcpt.conf", "acl-not-smtp.conf")


def exim_files():
    """The Exim configuration files among the snippets."""
    return sorted(glob.glob(os.path.join(eximlab.SNIPPETS_DIR, "*.conf")) +
                  glob.glob(os.path.join(eximlab.SNIPPETS_DIR, "*.macros")))

# --- the edits of docs/debian.md, applied by anchors ------------------------

LOCALMACROS = """\
# senderwatch (docs/debian.md)
SENDERWATCH_SO = {plugin}
SENDERWATCH_CONFIG = {policy}
.include /etc/exim4/senderwatch/senderwatch.macros
SENDERWATCH_RCPT_ACL_FILE = /etc/exim4/senderwatch/acl-rcpt.conf
event_action = SENDERWATCH_MAIN_EVENT
MAIN_LOG_SELECTOR = +smtp_protocol_error +smtp_syntax_error \\
  +tls_certificate_verified +tls_peerdn +received_recipients
"""

LOCAL_BOUNCES_MACROS = """\
SENDERWATCH_LOCAL_BOUNCES = yes
acl_not_smtp = acl_senderwatch_not_smtp
"""

# Before Debian's "accept hosts = +relay_from_hosts": that statement and the
# "accept authenticated = *" after it end acl_check_rcpt, and authenticated
# clients may well be in relay_from_hosts (webmail on localhost).
RCPT_ANCHOR = re.compile(r"^  accept\n    hosts = \+relay_from_hosts\n", re.M)
RCPT_INSERT = """\
  # senderwatch: check every recipient of authenticated clients.
  .ifdef SENDERWATCH_RCPT_ACL_FILE
  .include SENDERWATCH_RCPT_ACL_FILE
  .endif

"""

SMTP_ANCHOR = re.compile(r"^(remote_smtp(?:_smarthost)?:\n(?:[ \t].*\n)*?  driver = smtp\n)", re.M)
SMTP_INSERT = """\
.ifdef SENDERWATCH_SMTP_EVENT
  event_action = SENDERWATCH_SMTP_EVENT
.endif
"""

NOT_SMTP_ACL = """\
.ifdef SENDERWATCH_LOCAL_BOUNCES
acl_senderwatch_not_smtp:
  .include /etc/exim4/senderwatch/acl-not-smtp.conf
  accept
.endif

"""


def insert_before(text, anchor, insert, what):
    m = anchor.search(text)
    if not m:
        raise AssertionError(f"anchor for {what} not found")
    return text[:m.start()] + insert + text[m.start():]


def add_transport_events(text, what):
    new, n = SMTP_ANCHOR.subn(lambda m: m.group(1) + SMTP_INSERT, text)
    if n == 0:
        raise AssertionError(f"no smtp transport found in {what}")
    return new, n


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def install_snippets():
    dest = os.path.join(ETC, "senderwatch")
    os.makedirs(dest, exist_ok=True)
    for name in SNIPPET_FILES:
        shutil.copy(os.path.join(eximlab.SNIPPETS_DIR, name), dest)


def set_split(split):
    path = os.path.join(ETC, "update-exim4.conf.conf")
    text = re.sub(r"^dc_use_split_config=.*$",
                  f"dc_use_split_config='{'true' if split else 'false'}'", read(path), flags=re.M)
    write(path, text)


def apply_unsplit(localmacros, local_bounces):
    write(os.path.join(ETC, "exim4.conf.localmacros"),
          localmacros + (LOCAL_BOUNCES_MACROS if local_bounces else ""))
    template = os.path.join(ETC, "exim4.conf.template")
    text = read(template)
    text = insert_before(text, RCPT_ANCHOR, RCPT_INSERT, "acl_check_rcpt")
    text, n = add_transport_events(text, "exim4.conf.template")
    assert n == 2, f"expected remote_smtp and remote_smtp_smarthost, edited {n}"
    text = insert_before(text, re.compile(r"^begin routers$", re.M), NOT_SMTP_ACL, "begin routers")
    write(template, text)


def apply_split(localmacros, local_bounces):
    confd = os.path.join(ETC, "conf.d")
    write(os.path.join(confd, "main", "000_localmacros"),
          localmacros + (LOCAL_BOUNCES_MACROS if local_bounces else ""))
    rcpt = os.path.join(confd, "acl", "30_exim4-config_check_rcpt")
    write(rcpt, insert_before(read(rcpt), RCPT_ANCHOR, RCPT_INSERT, rcpt))
    for name in ("30_exim4-config_remote_smtp", "30_exim4-config_remote_smtp_smarthost"):
        path = os.path.join(confd, "transport", name)
        text, _ = add_transport_events(read(path), path)
        write(path, text)
    write(os.path.join(confd, "acl", "60_senderwatch_not_smtp"), NOT_SMTP_ACL)


# ---------------------------------------------------------------------------

class DebianConfig(unittest.TestCase):
    """update-exim4.conf -o OUT with the senderwatch edits, then exim4 -bV,
    -bP and an authenticated -bh session that must reach check_sender."""

    def setUp(self):
        self.saved = tempfile.mkdtemp(dir=eximlab.base_dir())
        shutil.rmtree(self.saved)
        shutil.copytree(ETC, self.saved, symlinks=True)  # restore after the test
        self.work = tempfile.mkdtemp(prefix="debian-", dir=eximlab.base_dir())
        os.chmod(self.work, 0o755)
        self.store = os.path.join(self.work, "store")
        # As docs/debian.md, step 1: the Exim user owns the store directory.
        eximlab.make_dir(self.store, 0o770, eximlab.exim_ids())
        self.policy = os.path.join(self.work, "senderwatch.toml")
        write(self.policy, eximlab.policy_toml(
            self.store, [eximlab.rule("rcpt-rate", "recipients", 1, "defer")]))
        self.out = os.path.join(self.work, "exim4.conf.generated")
        self.plugin = eximlab.PLUGIN or "/usr/lib/exim4/senderwatch.so"

    def tearDown(self):
        # Put the private /etc/exim4 copy back as it was (it is a bind mount,
        # so restore its contents rather than the directory).
        for entry in os.listdir(ETC):
            p = os.path.join(ETC, entry)
            if entry == "trusted_configs":
                continue
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
        for entry in os.listdir(self.saved):
            if entry == "trusted_configs":
                continue
            src = os.path.join(self.saved, entry)
            dst = os.path.join(ETC, entry)
            if os.path.isdir(src) and not os.path.islink(src):
                shutil.copytree(src, dst, symlinks=True)
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
        shutil.rmtree(self.saved, ignore_errors=True)
        if not eximlab.case_failed(self):
            shutil.rmtree(self.work, ignore_errors=True)

    def generate(self, split, local_bounces=False):
        install_snippets()
        set_split(split)
        macros = LOCALMACROS.format(plugin=self.plugin, policy=self.policy)
        (apply_split if split else apply_unsplit)(macros, local_bounces)
        r = subprocess.run(["update-exim4.conf", "-o", self.out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, f"update-exim4.conf failed:\n{r.stdout}{r.stderr}")
        eximlab.trust(self.out)
        return read(self.out)

    def exim(self, *args, input=None):
        return subprocess.run([eximlab.EXIM, "-C", self.out] + list(args), input=input,
                              capture_output=True, text=True, timeout=60)

    def check_generated(self, text, local_bounces):
        r = self.exim("-bV")
        self.assertEqual(r.returncode, 0, f"exim4 -bV rejects the generated config:\n"
                                          f"{r.stdout}{r.stderr}")
        r = self.exim("-bP", "event_action", "acl_not_smtp", "log_selector")
        self.assertEqual(r.returncode, 0, r.stderr)
        # What replay needs, and Debian's own selectors kept.
        self.assertRegex(r.stdout, r"log_selector = .*\+tls_peerdn.*\+received_recipients")
        self.assertRegex(r.stdout, r"event_action = .*msg:fail:internal.*record_bounce")
        if local_bounces:
            self.assertIn("acl_not_smtp = acl_senderwatch_not_smtp", r.stdout)
        for transport in ("remote_smtp", "remote_smtp_smarthost"):
            r = self.exim("-bP", "transport", transport)
            self.assertRegex(r.stdout, r"event_action = .*msg:fail:delivery.*record_bounce",
                             f"{transport}: {r.stdout}{r.stderr}")
        # The check sits before the first accept that ends the ACL for
        # relay hosts and authenticated clients.
        rcpt = text[text.index("acl_check_rcpt:"):]
        self.assertLess(rcpt.index(".include SENDERWATCH_RCPT_ACL_FILE"),
                        rcpt.index("hosts = +relay_from_hosts"))

    def check_rcpt_reached(self):
        """An authenticated -bh session (from a non-relay address): with the
        test policy (rcpt-rate above 1) the second RCPT is deferred by
        senderwatch, which proves the stanza is reached and the plugin runs."""
        if not eximlab.PLUGIN:
            self.skipTest("no plugin given: generated config checked, RCPT stanza not run")
        session = ("EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n"
                   "RCPT TO:<one@remote.example>\r\nRCPT TO:<two@remote.example>\r\nQUIT\r\n")
        r = self.exim("-bh", "192.0.2.10", "-oMs", "client.example", "-oMaa", "plain",
                      "-oMai", "alice", input=session)
        # Final lines of replies ("NNN text"; continuation lines are "NNN-").
        replies = [l for l in r.stdout.splitlines() if re.match(r"^\d{3} ", l)]
        rcpt_replies = [l for l in replies if l.startswith(("250 Accepted", "451", "550"))]
        self.assertEqual(len(rcpt_replies), 2, r.stdout + r.stderr)
        self.assertTrue(rcpt_replies[0].startswith("250"), r.stdout + r.stderr)
        self.assertRegex(rcpt_replies[1], r"^451 4\.7\.1 .*rcpt-rate", r.stdout + r.stderr)
        self.assertNotIn("failing open", r.stderr)

    def test_unsplit(self):
        text = self.generate(split=False)
        self.check_generated(text, local_bounces=False)
        self.check_rcpt_reached()

    def test_split(self):
        text = self.generate(split=True, local_bounces=True)
        self.check_generated(text, local_bounces=True)
        self.check_rcpt_reached()


class ShippedConfig(unittest.TestCase):
    """The shipped example and snippets as they are, plus the rules Exim
    imposes on macro names."""

    def test_example_config_is_valid_verbatim(self):
        install_snippets()  # where the example expects them
        try:
            for variant in ("", "SENDERWATCH_ON_LOCK = reject\n", "SENDERWATCH_ON_LOCK = freeze\n",
                            "SENDERWATCH_LOCAL_BOUNCES = yes\nSENDERWATCH_COUNT_DEFERS = yes\n"):
                with tempfile.NamedTemporaryFile("w", suffix=".conf", dir=eximlab.base_dir(),
                                                 delete=False) as f:
                    f.write(variant + f".include {eximlab.EXAMPLE_CONFIG}\n")
                os.chmod(f.name, 0o644)
                r = subprocess.run([eximlab.EXIM, "-C", f.name, "-bV"], capture_output=True,
                                   text=True)
                os.unlink(f.name)
                self.assertEqual(r.returncode, 0, f"variant {variant!r}:\n{r.stdout}{r.stderr}")
        finally:
            shutil.rmtree(os.path.join(ETC, "senderwatch"), ignore_errors=True)

    def test_macro_names_are_not_substrings_of_each_other(self):
        # Exim substitutes macro names anywhere in a line and refuses a
        # definition whose name contains an earlier macro's name.
        names = set()
        for path in exim_files():
            for line in read(path).splitlines():
                m = re.match(r"^([A-Z][A-Z0-9_]*)\s*==?", line)
                if m:
                    names.add(m.group(1))
        names |= {"SENDERWATCH_CONFIG", "SENDERWATCH_COUNT_DEFERS", "SENDERWATCH_LOCAL_BOUNCES",
                  "SENDERWATCH_RCPT_ACL_FILE", "SENDERWATCH_SNIPPETS"}
        clashes = [(a, b) for a in names for b in names if a != b and a in b]
        self.assertEqual(clashes, [])

    def test_at_most_seven_dlfunc_arguments(self):
        # Exim 4.96 mis-terminates the argument list of a ${dlfunc} with 8.
        text = "\n".join(read(p) for p in exim_files())
        text = re.sub(r"\\\n\s*", "", text)
        calls = 0
        for m in re.finditer(r"\$\{dlfunc\{SENDERWATCH_SO\}\{(\w+)\}", text):
            depth, i, args = 0, m.end(), 0
            while i < len(text):
                c = text[i]
                if c == "{":
                    if depth == 0:
                        args += 1
                    depth += 1
                elif c == "}":
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and text.startswith("SENDERWATCH_ARGCFG", i):
                    args += 1
                    i += len("SENDERWATCH_ARGCFG") - 1
                elif depth == 0 and text.startswith("SENDERWATCH_ORIGIN_ARG", i):
                    args += 1
                    i += len("SENDERWATCH_ORIGIN_ARG") - 1
                elif depth == 0 and not c.isspace():
                    break
                i += 1
            self.assertLessEqual(args, 7, f"{m.group(1)} called with {args} arguments")
            # preload takes no data argument, only the optional config=.
            least = 1 if m.group(1) == "preload" else 2
            self.assertGreaterEqual(args, least, f"{m.group(1)}: argument scan went wrong")
            calls += 1
        # check_sender x2 (RCPT ACL, local submissions), record_bounce x3,
        # record_defer, record_authfail x2, preload
        self.assertEqual(calls, 9)


if __name__ == "__main__":
    unittest.main()
