#!/usr/bin/env python3
"""The Debian postinst against a hostile Exim user (CTest label "package").

    test_postinst.py [--postinst packaging/debian/postinst]

The postinst runs as root and changes owners in a directory the Exim user
(Debian-exim) owns. Replayed here, as Debian-exim would stage them:

  * links planted in the store directory, to root's files, under the store's
    own file names and others: root must not hand the targets over;
  * a hard link to a root file under a store file name: left alone;
  * the store directory replaced by a symbolic link to a directory of root's:
    the postinst refuses (non-zero exit) and changes nothing;
  * a root-owned store file of an admin's shell (umask 022): given back,
    Debian-exim 0660; a fresh install creates the directory Debian-exim 0770.

Nothing on the machine changes: the script re-runs itself in a private mount
namespace (unshare) with tmpfs over /var/spool/exim4 (the store's parent),
/etc/systemd and /var/lib/systemd (where deb-systemd-helper records the
timer), and runs the postinst file directly ("configure"), not through dpkg.

Exit 77 (skipped; 1 when SENDERWATCH_REQUIRE_E2E=1, as in CI) without root,
unshare, perl or the Debian-exim user.
"""

import argparse
import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys

SKIP = 1 if os.environ.get("SENDERWATCH_REQUIRE_E2E") == "1" else 77
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_POSTINST = os.path.join(HERE, "..", "..", "packaging", "debian", "postinst")
EXIM_USER = "Debian-exim"
SPOOL = "/var/spool/exim4"
STORE = SPOOL + "/db/senderwatch"
PRIVATE = (SPOOL, "/etc/systemd", "/var/lib/systemd")
INSIDE = "SENDERWATCH_POSTINST_INSIDE"
VICTIMS = SPOOL + "/root-files"  # root's files, inside the private tmpfs


def say(text):
    print(f"[postinst] {text}", flush=True)


def skip_reason():
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("unshare", "mount", "perl", "sh"):
        if not shutil.which(tool):
            return f"{tool} is not available"
    for d in PRIVATE:
        if not os.path.isdir(d):
            return f"{d} does not exist (it is hidden behind a private tmpfs, never created)"
    try:
        pwd.getpwnam(EXIM_USER)
        grp.getgrnam(EXIM_USER)
    except KeyError:
        return f"user or group {EXIM_USER} does not exist"
    return None


def state(path):
    """(type, uid, gid, mode, content) of path, not following a link."""
    st = os.lstat(path)
    content = None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            content = f.read()
    return (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), content)


def root_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, 0, 0)
    os.chmod(path, 0o600)
    return path


def run_postinst(postinst):
    # As dpkg runs it (deb-systemd-helper insists; it writes to the private
    # /etc/systemd and /var/lib/systemd).
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C",
               DPKG_MAINTSCRIPT_PACKAGE="senderwatch", DPKG_MAINTSCRIPT_NAME="postinst")
    r = subprocess.run(["sh", postinst, "configure", ""], capture_output=True, text=True,
                       env=env, timeout=120)
    return r.returncode, r.stdout + r.stderr


def reset_spool(exim):
    """An empty Exim spool: /var/spool/exim4/db as Exim makes it (root's
    victim files stay, on the same file system for hard links)."""
    for name in os.listdir(SPOOL):
        path = os.path.join(SPOOL, name)
        if path == VICTIMS:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    os.makedirs(SPOOL + "/db")
    os.chown(SPOOL + "/db", exim.pw_uid, exim.pw_gid)
    os.chmod(SPOOL + "/db", 0o750)


def make_store(exim):
    os.mkdir(STORE)
    os.chown(STORE, exim.pw_uid, exim.pw_gid)
    os.chmod(STORE, 0o770)


def scenarios(postinst, victims_dir):
    exim = pwd.getpwnam(EXIM_USER)
    failures = []

    def check(condition, message):
        if not condition:
            failures.append(message)
            say("FAIL: " + message)

    # 1. A fresh install makes the store directory for the Exim user.
    reset_spool(exim)
    code, out = run_postinst(postinst)
    check(code == 0, f"fresh install: postinst exit {code}:\n{out}")
    if os.path.isdir(STORE):
        st = os.lstat(STORE)
        check((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (exim.pw_uid, exim.pw_gid, 0o770),
              f"fresh install: {STORE} is {st.st_uid}:{st.st_gid} {stat.S_IMODE(st.st_mode):o}")
    else:
        check(False, f"fresh install: {STORE} was not created")

    # 2. Links planted in the store directory (by the Exim user, who owns it).
    reset_spool(exim)
    make_store(exim)
    victims = {name: root_file(os.path.join(victims_dir, name), f"root's {name}\n")
               for name in ("shadow-data", "shadow-journal", "shadow-other", "shadow-hard")}
    before = {name: state(path) for name, path in victims.items()}
    os.symlink(victims["shadow-data"], STORE + "/data.mdb")
    os.symlink(victims["shadow-journal"], STORE + "/locks.journal")
    os.symlink(victims["shadow-other"], STORE + "/planted")
    # A hard link (fs.protected_hardlinks stops the Exim user; a weaker
    # kernel setting would not): made here by root on its behalf.
    os.link(victims["shadow-hard"], STORE + "/rebuild.lock")
    # A store file root's shell left with umask 022: it goes back.
    with open(STORE + "/lock.mdb", "w") as f:
        f.write("x")
    os.chmod(STORE + "/lock.mdb", 0o644)
    code, out = run_postinst(postinst)
    check(code == 0, f"planted links: postinst exit {code}:\n{out}")
    for name, path in victims.items():
        check(state(path) == before[name],
              f"planted links: root's {path} changed {before[name][:4]} -> {state(path)[:4]}")
    for name in ("data.mdb", "locks.journal", "planted"):
        check(os.path.islink(STORE + "/" + name), f"planted links: {name} is no longer the link")
    lock = os.lstat(STORE + "/lock.mdb")
    check((lock.st_uid, lock.st_gid, stat.S_IMODE(lock.st_mode)) ==
          (exim.pw_uid, exim.pw_gid, 0o660),
          f"root's lock.mdb was not given back: {lock.st_uid}:{lock.st_gid} "
          f"{stat.S_IMODE(lock.st_mode):o}")

    # 3. The store directory replaced by a link to a directory of root's.
    reset_spool(exim)
    target = os.path.join(victims_dir, "roots-dir")
    os.mkdir(target, 0o700)
    root_file(os.path.join(target, "data.mdb"), "root's data\n")
    before_dir = state(target)
    before_file = state(os.path.join(target, "data.mdb"))
    os.symlink(target, STORE)
    code, out = run_postinst(postinst)
    check(code != 0, "store path is a symlink: postinst did not refuse it")
    check("symbolic link" in out, f"store path is a symlink: no reason given:\n{out}")
    check(state(target) == before_dir,
          f"store path is a symlink: {target} changed {before_dir[:4]} -> {state(target)[:4]}")
    check(state(os.path.join(target, "data.mdb")) == before_file,
          "store path is a symlink: root's file behind it changed")
    check(os.path.islink(STORE), "store path is a symlink: the link was replaced")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postinst", default=DEFAULT_POSTINST, help="the postinst to test")
    args = ap.parse_args()
    postinst = os.path.abspath(args.postinst)

    if os.environ.get(INSIDE) != "1":
        reason = skip_reason()
        if reason:
            print(f"SKIPPED: {reason}")
            return SKIP
        mounts = " && ".join(f"mount -t tmpfs -o mode=0755 senderwatch-test {d}"
                             for d in PRIVATE)
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f'{mounts} && exec "$0" "$@"', sys.executable, os.path.abspath(__file__),
             "--postinst", postinst],
            env=dict(os.environ, **{INSIDE: "1"}))
        return r.returncode

    # Inside the private namespace.
    exim = pwd.getpwnam(EXIM_USER)
    os.chown(SPOOL, exim.pw_uid, exim.pw_gid)
    os.chmod(SPOOL, 0o750)
    os.mkdir(VICTIMS, 0o700)
    failures = scenarios(postinst, VICTIMS)
    if failures:
        print(f"FAILED: {len(failures)} check(s)", flush=True)
        return 1
    say("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
