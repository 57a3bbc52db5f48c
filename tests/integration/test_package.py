#!/usr/bin/env python3
"""The Debian package, installed on this machine (CTest label "package").

    test_package.py --build-dir BUILD [--cpack /usr/bin/cpack]

Builds senderwatch_*.deb from the build tree BUILD with CPack (into a
temporary directory, so BUILD gets no package), checks its control fields
and contents, installs it with `apt-get install ./senderwatch_*.deb`, checks
the installed files and the store directory, loads the INSTALLED plugin
through `exim4 -be` and reads what it stored with the installed command,
then removes the package (the store directory stays) and purges it (the
store directory goes).

The machine is left as it was: the package is always purged at the end,
Exim is never started, /etc/exim4 is never written (the test checks that
the package does not either), and the plugin runs with a private Exim
configuration and policy in a temporary directory, so Exim's spool, logs
and the real store are not used. It installs nothing else: when a
dependency is missing (apt would have to download it) the test is skipped.

The test does not run (exit 77, "skipped"; 1 when SENDERWATCH_REQUIRE_E2E=1,
as in CI) without root, dpkg/apt, an exim4 with ${dlfunc}, or when it could
not restore the machine afterwards: senderwatch already known to dpkg, or
its files or store directory already present.

Set SENDERWATCH_E2E_KEEP=1 to keep the work directory (the .deb, the
private Exim configuration, the store); after a failure it is always kept.
"""

import argparse
import gzip
import hashlib
import json
import os
import pwd
import grp
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

SKIP = 1 if os.environ.get("SENDERWATCH_REQUIRE_E2E") == "1" else 77
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eximlab  # noqa: E402  (parse_dump, record_counters, policy_toml)

PACKAGE = "senderwatch"
EXIM = shutil.which("exim4") or "/usr/sbin/exim4"
EXIM_USER = "Debian-exim"
PLUGIN = "/usr/lib/exim4/senderwatch.so"
CLI = "/usr/bin/senderwatch"
MAN = "/usr/share/man/man1/senderwatch.1.gz"
DOC = "/usr/share/doc/senderwatch"
# Not under /usr/share/doc: minimal systems exclude it (dpkg path-exclude).
SNIPPETS = "/usr/share/senderwatch/exim-snippets"
TIMER = "/usr/lib/systemd/system/senderwatch-gc.timer"
SPOOL_DB = "/var/spool/exim4/db"
STORE = SPOOL_DB + "/senderwatch"
ETC_EXIM = "/etc/exim4"

# What an admin needs, by path in the package (docs/operations.md).
EXPECTED_FILES = [
    PLUGIN, CLI, MAN,
    DOC + "/copyright", DOC + "/changelog.Debian.gz", DOC + "/README.md",
    DOC + "/operations.md", DOC + "/debian.md", DOC + "/snippets.md",
    SNIPPETS + "/senderwatch.macros", SNIPPETS + "/acl-rcpt.conf",
    SNIPPETS + "/acl-not-smtp.conf", SNIPPETS + "/example-exim4.conf",
    SNIPPETS + "/notify-postmaster.sh",
    TIMER, "/usr/lib/systemd/system/senderwatch-gc.service",
]

APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
APT_OPTS = ["-o", "DPkg::Lock::Timeout=120", "-o", "Dpkg::Use-Pty=0"]


class Failure(Exception):
    pass


def say(text):
    print(f"[package] {text}", flush=True)


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(argv, check_rc=True, as_exim=False, **kw):
    preexec = None
    if as_exim:
        pw = pwd.getpwnam(EXIM_USER)

        def preexec():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
    r = subprocess.run(argv, capture_output=True, text=True, preexec_fn=preexec,
                       timeout=kw.pop("timeout", 300), **kw)
    if check_rc and r.returncode != 0:
        raise Failure(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


def read_file(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def dpkg_status():
    """dpkg's status line for the package, or None when dpkg does not know it."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE],
                       capture_output=True, text=True)
    status = r.stdout.strip()
    if r.returncode != 0 or status in ("", "unknown ok not-installed"):
        return None
    return status


# ---------------------------------------------------------------------------
# Whether the test can run and restore the machine
# ---------------------------------------------------------------------------

def skip_reason(args):
    if os.geteuid() != 0:
        return "installing a package needs root"
    for tool in ("dpkg", "dpkg-deb", "dpkg-query", "apt-get"):
        if not shutil.which(tool):
            return f"{tool} is not available (not a Debian system?)"
    if not args.cpack or not os.path.exists(args.cpack):
        return "cpack is not available"
    if not os.path.exists(os.path.join(args.build_dir, "CPackConfig.cmake")):
        return f"{args.build_dir} has no CPackConfig.cmake (configure it with CMake first)"
    if not os.path.exists(EXIM):
        return "exim4 is not installed"
    out = subprocess.run([EXIM, "-bV"], capture_output=True, text=True).stdout
    if "Expand_dlfunc" not in out:
        return "this exim4 lacks Expand_dlfunc (install exim4-daemon-heavy)"
    try:
        pwd.getpwnam(EXIM_USER)
        grp.getgrnam(EXIM_USER)
    except KeyError:
        return f"user or group {EXIM_USER} does not exist"
    status = dpkg_status()
    if status:
        return (f"package {PACKAGE} is already known to dpkg ({status}); this test would "
                f"remove it. Run `apt-get purge {PACKAGE}` first to run the test")
    for path in (PLUGIN, CLI, STORE):
        if os.path.lexists(path):
            return (f"{path} exists (not from the package); the test would overwrite or "
                    "delete it")
    return None


# ---------------------------------------------------------------------------
# Snapshots of what must not change
# ---------------------------------------------------------------------------

def tree_snapshot(root):
    """{path: (mode, uid, gid, content hash or link target)} under root."""
    snap = {}
    if not os.path.lexists(root):
        return snap
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [""] + dirnames + filenames:
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what = "-> " + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            else:
                what = ""
            snap[path] = (st.st_mode, st.st_uid, st.st_gid, what)
    return snap


def systemd_links():
    """Everything named after senderwatch in systemd's and
    deb-systemd-helper's state under /etc and /var/lib."""
    found = set()
    for root in ("/etc/systemd", "/var/lib/systemd/deb-systemd-helper-enabled",
                 "/var/lib/systemd/deb-systemd-helper-masked"):
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                if "senderwatch" in name:
                    found.add(os.path.join(dirpath, name))
    return found


def owner(path):
    """(user, group, mode as "0750") of path."""
    st = os.stat(path)
    return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            f"{stat.S_IMODE(st.st_mode):04o}")


def spool_db_state():
    """owner() of Exim's db directory, or None when it does not exist (Exim
    makes it on first use; the postinst makes it for the store)."""
    return owner(SPOOL_DB) if os.path.isdir(SPOOL_DB) else None


def diff_snapshots(before, after):
    lines = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            lines.append(f"  {path}: {before.get(path)} -> {after.get(path)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------

def build_package(args, work):
    out = os.path.join(work, "deb")
    os.makedirs(out)
    os.chmod(out, 0o755)  # apt's _apt user reads the .deb from here
    started = time.monotonic()
    run([args.cpack, "-G", "DEB", "--config", os.path.join(args.build_dir, "CPackConfig.cmake"),
         "-B", out], cwd=out, timeout=540)
    debs = sorted(f for f in os.listdir(out) if re.fullmatch(r"senderwatch_.*\.deb", f))
    check(len(debs) == 1, f"cpack made {debs or 'no package'} in {out}")
    deb = os.path.join(out, debs[0])
    os.chmod(deb, 0o644)
    say(f"built {debs[0]} in {time.monotonic() - started:.1f}s")
    return deb


def control_fields(deb):
    text = run(["dpkg-deb", "-f", deb]).stdout
    fields, key = {}, None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def relation_names(depends):
    """Package names in a Depends field, alternatives included."""
    names = set()
    for clause in depends.split(","):
        for alt in clause.split("|"):
            name = re.sub(r"\(.*?\)|\[.*?\]|:\S+", "", alt).strip()
            if name:
                names.add(name)
    return names


def needed_libraries(path):
    if not shutil.which("objdump"):
        return None
    out = run(["objdump", "-p", path]).stdout
    return re.findall(r"^\s*NEEDED\s+(\S+)", out, re.M)


def library_owner(soname):
    """The installed package that ships SONAME for this architecture."""
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    r = run(["dpkg-query", "-S", f"*/{soname}"], check_rc=False)
    owners = set()
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        if os.path.basename(path) != soname:
            continue
        for p in pkgs.split(", "):
            name, _, parch = p.partition(":")
            if parch in ("", arch, "all"):
                owners.add(name)
    return owners


def provides_map():
    """{installed package: names it satisfies (itself and its Provides)}."""
    out = run(["dpkg-query", "-W", "-f=${Package}\t${Provides}\n"]).stdout
    m = {}
    for line in out.splitlines():
        name, _, provides = line.partition("\t")
        m[name] = {name} | relation_names(provides)
    return m


def check_deb(deb, work):
    fields = control_fields(deb)
    say("control: " + ", ".join(f"{k}={fields.get(k)!r}" for k in
                                ("Package", "Version", "Architecture", "Section")))
    say("Depends: " + fields.get("Depends", ""))
    check(fields.get("Package") == PACKAGE, f"Package is {fields.get('Package')!r}")
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    check(fields.get("Architecture") == arch, f"Architecture {fields.get('Architecture')!r}")
    depends = fields.get("Depends", "")
    names = relation_names(depends)
    # ${dlfunc} is in exim4-daemon-heavy (or a locally built daemon); LMDB.
    check(re.search(r"(^|,)\s*exim4-daemon-heavy( \([^)]*\))?\s*\|\s*exim4-daemon-custom",
                    depends), f"Depends lacks 'exim4-daemon-heavy | exim4-daemon-custom': {depends}")
    check("liblmdb0" in names, f"Depends lacks liblmdb0: {depends}")

    # No conffiles, nothing under /etc: the package never changes Exim's
    # configuration (docs/debian.md wires it in by hand).
    contents = run(["dpkg-deb", "-c", deb]).stdout
    paths = [re.sub(r"^\./", "/", line.split()[5]).rstrip("/")
             for line in contents.splitlines() if len(line.split()) >= 6]
    check(not [p for p in paths if p.startswith("/etc")],
          "the package ships files under /etc:\n" + contents)
    r = run(["dpkg-deb", "-I", deb, "conffiles"], check_rc=False)
    check(r.returncode != 0 or not r.stdout.strip(), f"the package has conffiles: {r.stdout}")
    missing = [p for p in EXPECTED_FILES if p not in paths]
    check(not missing, f"missing from the package: {missing}\n{contents}")
    say(f"contents: {len(paths)} entries, the expected files among them, nothing under /etc")

    # Every library the binaries need comes from a declared dependency.
    root = os.path.join(work, "extracted")
    run(["dpkg-deb", "-x", deb, root])
    provides = provides_map()
    for binary in (PLUGIN, CLI):
        needed = needed_libraries(root + binary)
        if needed is None:
            say("objdump not found: not checking DT_NEEDED against Depends")
            break
        for soname in needed:
            owners = library_owner(soname)
            check(owners, f"{binary} needs {soname}, which no installed package provides")
            ok = any(provides.get(o, {o}) & names for o in owners)
            check(ok, f"{binary} needs {soname} from {sorted(owners)}, not in Depends: {depends}")
        say(f"{binary}: DT_NEEDED {', '.join(needed)}: all from Depends")

    # The Debian changelog names this very version; copyright is DEP-5.
    with gzip.open(root + DOC + "/changelog.Debian.gz", "rt") as f:
        top = f.readline()
    check(top.startswith(f"{PACKAGE} ({fields.get('Version')}) "),
          f"changelog.Debian.gz starts with {top!r}, package version {fields.get('Version')}")
    with open(root + DOC + "/copyright") as f:
        copyright_text = f.read()
    check(copyright_text.startswith(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"),
        "copyright is not in the machine-readable (DEP-5) format")
    check("License: GPL-2+" in copyright_text, "copyright does not say GPL-2+")
    return fields


def check_apt_plan(deb):
    """The packages apt would install besides this one (nothing, when every
    dependency is installed: then apt downloads nothing). (`--no-download`
    itself cannot be used for the installation: apt then refuses a .deb
    given by path, "Pathname to install is not absolute".)"""
    r = run(["apt-get", "install", "-s", "--no-download"] + APT_OPTS + [deb], check_rc=False,
            env=APT_ENV)
    if r.returncode != 0:
        raise Failure(f"apt-get cannot install the package (unsatisfiable Depends?):\n"
                      f"{r.stdout}{r.stderr}")
    inst = re.findall(r"^Inst (\S+)", r.stdout, re.M)
    extra = [p for p in inst if p != PACKAGE]
    return extra


def exim_be(work, expression):
    """exim4 -be with a private configuration, as the Exim user."""
    return run([EXIM, "-C", os.path.join(work, "exim", "exim.conf"), "-be", expression],
               as_exim=True)


def setup_private_exim(work):
    """A private Exim configuration, spool, log and policy: the plugin's
    store goes to WORK/exim/store, nothing to the machine's spool or logs."""
    pw = pwd.getpwnam(EXIM_USER)
    base = os.path.join(work, "exim")
    os.makedirs(base)
    os.chmod(base, 0o755)
    for d in ("spool", "log", "store"):
        path = os.path.join(base, d)
        os.makedirs(path)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o770 if d == "store" else 0o750)
    conf = os.path.join(base, "exim.conf")
    with open(conf, "w") as f:
        f.write("# senderwatch package test: private spool and logs for exim4 -be\n"
                f"primary_hostname = pkgtest.example.test\n"
                f"spool_directory = {base}/spool\n"
                f"log_file_path = {base}/log/%slog\n")
    os.chmod(conf, 0o644)
    policy = os.path.join(base, "senderwatch.toml")
    with open(policy, "w") as f:
        f.write(eximlab.policy_toml(os.path.join(base, "store"), []))
    os.chmod(policy, 0o644)
    return base, policy


def check_installed(before):
    status = dpkg_status()
    check(status == "install ok installed", f"dpkg status after install: {status}")
    missing = [p for p in EXPECTED_FILES if not os.path.exists(p)]
    check(not missing, f"not installed: {missing}")
    check(owner(PLUGIN) == ("root", "root", "0644"), f"{PLUGIN}: {owner(PLUGIN)}")
    check(owner(CLI) == ("root", "root", "0755"), f"{CLI}: {owner(CLI)}")
    with gzip.open(MAN, "rt") as f:
        check(".TH" in f.read(4096).upper(), f"{MAN} is not a manual page")
    listed = run(["dpkg", "-L", PACKAGE]).stdout.split()
    check(not [p for p in listed if p.startswith("/etc")],
          f"dpkg -L lists files under /etc: {[p for p in listed if p.startswith('/etc')]}")
    check(os.path.isdir(STORE), f"{STORE} was not created")
    check(owner(STORE) == (EXIM_USER, EXIM_USER, "0770"),
          f"{STORE} is {owner(STORE)}, not {EXIM_USER}:{EXIM_USER} 0770")
    # Exim's own db directory is made like Exim makes it, or left alone.
    check(spool_db_state() == (before["spool_db"] or (EXIM_USER, EXIM_USER, "0750")),
          f"{SPOOL_DB} changed from {before['spool_db']} to {spool_db_state()}")
    changed = diff_snapshots(before["etc"], tree_snapshot(ETC_EXIM))
    check(not changed, f"installing changed {ETC_EXIM}:\n{changed}")
    # The daily gc timer is enabled (deb-systemd-helper also records this
    # where systemd does not run, e.g. in a container).
    if os.path.exists("/usr/bin/deb-systemd-helper"):
        wants = "/etc/systemd/system/timers.target.wants/senderwatch-gc.timer"
        check(os.path.lexists(wants), f"the gc timer was not enabled ({wants} missing)")
    version = run([CLI, "--version"]).stdout.strip()
    say(f"installed: {PLUGIN}, {CLI} ({version}), {MAN}, {SNIPPETS}/, "
        "{} {}:{} {}".format(STORE, *owner(STORE)))


def check_plugin(work):
    base, policy = setup_private_exim(work)
    expr = "${dlfunc{%s}{check_sender}{pkgtest}{192.0.2.1}{config=%s}}" % (PLUGIN, policy)
    verdict = exim_be(work, expr).stdout.strip()
    say(f"exim4 -be check_sender -> {verdict!r}")
    check(verdict == "verdict=ok", f"check_sender through the installed plugin: {verdict!r}")
    expr = "${dlfunc{%s}{peek_sender}{pkgtest}{config=%s}}" % (PLUGIN, policy)
    verdict = exim_be(work, expr).stdout.strip()
    check(verdict == "verdict=ok", f"peek_sender through the installed plugin: {verdict!r}")
    # The private configuration costs the Exim user its privilege (it is in
    # no trusted_configs list), which Exim logs; anything else is an error.
    panic = [line for line in read_file(os.path.join(base, "log", "paniclog")).splitlines()
             if "lost privilege for using -C option" not in line]
    check(not panic, "Exim's panic log:\n" + "\n".join(panic))

    store = os.path.join(base, "store")
    r = run([CLI, "--db", store, "--config", policy, "dump", "--json"], as_exim=True)
    records = eximlab.parse_dump(r.stdout)
    counters = eximlab.record_counters(records.get("pkgtest"))
    say(f"senderwatch dump --json: {len(records)} record(s), pkgtest {counters}")
    check(counters.get("recipients") == 1 and not counters.get("locked"),
          f"the installed command does not see the plugin's count: {json.dumps(records)[:500]}")


def apt(action, *args):
    """apt-get ACTION -y ARGS, which must install or remove this package only."""
    r = run(["apt-get", action, "-y"] + APT_OPTS + list(args), check_rc=False, env=APT_ENV)
    if r.returncode != 0:
        raise Failure(f"apt-get {action} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    m = re.search(r"^(\d+) upgraded, (\d+) newly installed, (\d+) to remove", r.stdout, re.M)
    want = (0, 1, 0) if action == "install" else (0, 0, 1)
    check(m and tuple(map(int, m.groups())) == want,
          f"apt-get {action} did not act on {PACKAGE} alone:\n{r.stdout}")
    return r


def check_removed(before):
    status = dpkg_status()
    check(status == "deinstall ok config-files",
          f"dpkg status after remove: {status!r} (expected config-files: postrm purge is left)")
    left = [p for p in EXPECTED_FILES if os.path.lexists(p)]
    check(not left, f"still there after remove: {left}")
    check(not os.path.exists(DOC), f"{DOC} is still there after remove")
    check(os.path.isdir(STORE), f"remove deleted the store {STORE} (only purge may)")
    check(owner(STORE) == (EXIM_USER, EXIM_USER, "0770"), f"{STORE} after remove: {owner(STORE)}")
    say(f"removed: files gone, {STORE} kept")


def check_purged(before):
    status = dpkg_status()
    check(status is None, f"dpkg still knows {PACKAGE} after purge: {status}")
    check(not os.path.lexists(STORE), f"purge left {STORE}")
    if before["spool_db"] is None and os.path.isdir(SPOOL_DB) and not os.listdir(SPOOL_DB):
        os.rmdir(SPOOL_DB)  # the postinst made it; Exim makes it again when it needs it
    check(spool_db_state() == before["spool_db"],
          f"{SPOOL_DB} changed from {before['spool_db']} to {spool_db_state()}")
    changed = diff_snapshots(before["etc"], tree_snapshot(ETC_EXIM))
    check(not changed, f"{ETC_EXIM} changed:\n{changed}")
    links = systemd_links()
    check(links == before["systemd"],
          f"systemd state left behind: {sorted(links - before['systemd'])}")
    say(f"purged: {STORE} gone; {ETC_EXIM}, {SPOOL_DB} and systemd state as before")


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True, help="the configured and built build tree")
    ap.add_argument("--cpack", default=shutil.which("cpack"), help="the cpack of that CMake")
    args = ap.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)

    reason = skip_reason(args)
    if reason:
        print(f"SKIPPED: {reason}")
        return SKIP

    # A CTest timeout or ^C still purges the package.
    def interrupted(signum, frame):
        raise SystemExit(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    work = tempfile.mkdtemp(prefix="senderwatch-pkg-")
    os.chmod(work, 0o755)
    say(f"build tree {args.build_dir}, work directory {work}")
    ok = False
    touched = False
    try:
        deb = build_package(args, work)
        check_deb(deb, work)
        extra = check_apt_plan(deb)
        if extra:
            print(f"SKIPPED: installing the package would also install {extra} "
                  "(the test does not download)")
            ok = True
            return SKIP
        before = {"etc": tree_snapshot(ETC_EXIM), "spool_db": spool_db_state(),
                  "systemd": systemd_links()}

        touched = True
        apt("install", deb)
        check_installed(before)
        check_plugin(work)

        apt("remove", PACKAGE)
        check_removed(before)

        apt("purge", PACKAGE)
        check_purged(before)
        ok = True
        say("PASSED")
        return 0
    except Failure as e:
        print(f"FAILED: {e}", flush=True)
        return 1
    finally:
        if touched and dpkg_status() is not None:
            say(f"cleaning up: dpkg --purge {PACKAGE}")
            subprocess.run(["dpkg", "--purge", PACKAGE], env=APT_ENV)
        if ok and os.environ.get("SENDERWATCH_E2E_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"kept the work directory {work}")


if __name__ == "__main__":
    sys.exit(main())
