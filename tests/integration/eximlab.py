"""eximlab: real Exim daemons on loopback for senderwatch's end-to-end tests.

A Lab is one throw-away mail system in its own temporary directory: the Exim
under test, running exim-snippets/example-exim4.conf (with the shipped
snippets, included from the source tree) and the plugin, plus a "sink" Exim
standing in for the rest of the Internet. The sink rejects local parts
starting with "bad" (550 5.1.1), defers those starting with "tmp" (451) and
discards everything else. Each lab has its own spool, logs, policy file and
store, and its own free ports on 127.0.0.1.

Exim only keeps root privilege for a -C configuration listed in its
TRUSTED_CONFIG_LIST, /etc/exim4/trusted_configs on Debian. The machine's
/etc/exim4 is never touched: run_e2e.py re-executes the tests in a private
mount namespace (unshare -m) and enter_private_etc() bind-mounts a private
copy of /etc/exim4 there, whose trusted_configs lists the labs' configs
(run_in_private_namespace() and leave_private_etc() do the rest; demo.py
uses them too).
Inside that namespace Exim behaves as on a normal Debian install: the
daemon, its children and the delivery processes run as Debian-exim or root
exactly as in production.

Waiting is done by polling logs with deadlines, never by fixed sleeps.
Python 3 standard library only.
"""

import json
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The snippets under test: the source tree's, or e.g. an installed copy.
SNIPPETS_DIR = os.environ.get("SENDERWATCH_E2E_SNIPPETS", os.path.join(SOURCE_DIR, "exim-snippets"))
EXAMPLE_CONFIG = os.path.join(SNIPPETS_DIR, "example-exim4.conf")
EXIM = shutil.which("exim4") or "/usr/sbin/exim4"
EXIM_USER = "Debian-exim"
ETC_EXIM = "/etc/exim4"
LOCAL_DOMAIN = "example.test"
REMOTE_DOMAIN = "remote.test"
DEFAULT_PASSWORD = "secret"

# Set by run_e2e.py (or by hand) before the tests run.
PLUGIN = os.environ.get("SENDERWATCH_E2E_PLUGIN", "")
CLI = os.environ.get("SENDERWATCH_E2E_CLI", "")


class LabError(Exception):
    pass


# ---------------------------------------------------------------------------
# Process-wide setup: the private /etc/exim4
# ---------------------------------------------------------------------------

_state = {"base": None, "trusted": None}


def skip_reason():
    """Why the e2e tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "end-to-end tests need root (Exim's setuid re-exec and a private mount namespace)"
    if not os.path.exists(EXIM):
        return "exim4 is not installed"
    if not shutil.which("unshare"):
        return "unshare(1) is not available"
    try:
        out = subprocess.run([EXIM, "-bV"], capture_output=True, text=True, timeout=30).stdout
    except OSError as e:
        return f"cannot run {EXIM}: {e}"
    if "Expand_dlfunc" not in out or "Event" not in out:
        return "this exim4 lacks Expand_dlfunc or Event support (install exim4-daemon-heavy)"
    if not shutil.which("openssl"):
        return "openssl(1) is needed to hash the test users' passwords"
    return None


def base_dir():
    if _state["base"] is None:
        raise LabError("enter_private_etc() was not called")
    return _state["base"]


def run_in_private_namespace(script, args=None):
    """Makes the program run inside a private mount namespace.

    Outside one, re-executes `python3 script ARGS` (ARGS default: this
    process's arguments) under `unshare --mount --propagation private` with
    SENDERWATCH_E2E_NAMESPACE=1, and does not return. Inside one, returns
    None. Returns the reason as a string when no namespace can be created.
    """
    if os.environ.get("SENDERWATCH_E2E_NAMESPACE") == "1":
        return None
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return ("cannot create a private mount namespace "
                f"(unshare --mount failed: {probe.stderr.strip()}); it is needed to "
                "give Exim a trusted configuration without touching /etc/exim4")
    env = dict(os.environ, SENDERWATCH_E2E_NAMESPACE="1")
    argv = ["unshare", "--mount", "--propagation", "private", sys.executable,
            os.path.abspath(script)] + list(sys.argv[1:] if args is None else args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe("unshare", argv, env)


def enter_private_etc(prefix="senderwatch-e2e-"):
    """Bind-mounts a private copy of /etc/exim4 with a trusted_configs file,
    in a new work directory (prefix: its name's start); returns that
    directory.

    Must run inside a private mount namespace (run_in_private_namespace
    arranges that): the bind mount is then invisible to the rest of the
    machine and vanishes with the namespace.
    """
    if _state["base"] is not None:
        return _state["base"]
    if os.environ.get("SENDERWATCH_E2E_NAMESPACE") != "1":
        raise LabError("not inside the private mount namespace; run the tests through run_e2e.py")
    keep_root = os.environ.get("SENDERWATCH_E2E_TMP", "/tmp")
    base = tempfile.mkdtemp(prefix=prefix, dir=keep_root)
    os.chmod(base, 0o755)  # Exim's own processes (Debian-exim) must traverse it
    etc = os.path.join(base, "etc-exim4")
    shutil.copytree(ETC_EXIM, etc, symlinks=True)
    trusted = os.path.join(etc, "trusted_configs")
    with open(trusted, "w") as f:
        f.write("# private to the senderwatch e2e tests\n")
    os.chmod(trusted, 0o644)
    subprocess.run(["mount", "--bind", etc, ETC_EXIM], check=True)
    _state["base"] = base
    _state["trusted"] = os.path.join(ETC_EXIM, "trusted_configs")
    return base


def leave_private_etc():
    """Undoes enter_private_etc(): unmounts the private /etc/exim4 and removes
    the work directory, unless lab directories were kept in it (then only
    the copy of /etc/exim4 goes). Returns the names of the kept entries."""
    base = _state["base"]
    if base is None:
        return []
    subprocess.run(["umount", ETC_EXIM], check=False)
    _state["base"] = _state["trusted"] = None
    kept = sorted(d for d in os.listdir(base) if d != "etc-exim4")
    if kept:
        shutil.rmtree(os.path.join(base, "etc-exim4"), ignore_errors=True)
    else:
        shutil.rmtree(base, ignore_errors=True)
    return kept


def trust(config_path):
    """Adds a -C configuration to the private trusted_configs list."""
    with open(_state["trusted"], "a") as f:
        f.write(config_path + "\n")


def exim_ids():
    pw = pwd.getpwnam(EXIM_USER)
    return pw.pw_uid, pw.pw_gid


def case_failed(case):
    """True when case has already recorded a failure or error (cleanups run
    after the test method; unittest offers no public way to ask)."""
    result = getattr(getattr(case, "_outcome", None), "result", None)
    if result is None:
        return False
    return any(test is case for test, _ in result.failures + result.errors)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def write_file(path, text, mode=0o644, owner=None):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner:
        os.chown(path, *owner)


def make_dir(path, mode=0o750, owner=None):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if owner:
        os.chown(path, *owner)


def hash_password(password):
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", "senderwatch", password],
                         capture_output=True, text=True, check=True).stdout.strip()
    return "{crypt}" + out


def _process_cmdlines():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                yield int(pid), f.read().split(b"\0")
        except OSError:
            continue


def pids_using(config_path):
    """Pids of the Exim processes started with -C config_path (daemon
    children and delivery processes; they all carry the option)."""
    needle = config_path.encode()
    return [pid for pid, argv in _process_cmdlines() if needle in argv and pid != os.getpid()]


# ---------------------------------------------------------------------------
# Policy files
# ---------------------------------------------------------------------------

def policy_toml(store_path, rules, on_error=None, lock_duration=None, durability="none"):
    """Renders a policy file. rules: list of dicts (name, metric, window,
    above, min, action), in evaluation order."""
    lines = []
    if on_error:
        lines.append(f'on_error = "{on_error}"')
    lines += ["", "[store]", f'path = "{store_path}"', f'durability = "{durability}"']
    if lock_duration is not None:
        lines += ["", "[lock]", f'duration = "{lock_duration}"']
    for r in rules:
        lines += ["", "[[rule]]"]
        for key in ("name", "metric", "window", "above", "min", "action", "applies_to"):
            if key in r:
                v = r[key]
                lines.append(f'{key} = "{v}"' if isinstance(v, str) else f"{key} = {v}")
    return "\n".join(lines) + "\n"


def rule(name, metric, above, action, window="1h", min=None, applies_to=None):
    r = {"name": name, "metric": metric, "window": window, "above": above, "action": action}
    if min is not None:
        r["min"] = min
    if applies_to is not None:
        r["applies_to"] = applies_to
    return r


# ---------------------------------------------------------------------------
# Redis, for several hosts sharing one store (test_cluster.py, the benchmarks)
# ---------------------------------------------------------------------------

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_PASSWORD = "cluster-secret"


class RedisServer:
    """A private redis-server on a unix socket the Exim user can reach."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=base_dir())
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "redis.sock")
        write_file(os.path.join(self.dir, "redis.conf"), "\n".join([
            "port 0", f"unixsocket {self.socket}", "unixsocketperm 777", f"dir {self.dir}",
            f"logfile {self.dir}/redis.log", 'save ""', "appendonly no",
            "maxmemory-policy noeviction", f"requirepass {REDIS_PASSWORD}", ""]))
        self.proc = None

    @property
    def address(self):
        return "unix:" + self.socket

    def start(self):
        self.proc = subprocess.Popen([REDIS_SERVER, os.path.join(self.dir, "redis.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(self.socket), 10, "redis-server to listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)



# ---------------------------------------------------------------------------
# SMTP client
# ---------------------------------------------------------------------------

class Reply:
    def __init__(self, code, text):
        self.code = code
        self.text = text.decode(errors="replace") if isinstance(text, bytes) else text

    def __repr__(self):
        return f"{self.code} {self.text}"

    @property
    def ok(self):
        return 200 <= self.code < 300


class Session:
    """One SMTP connection to the Exim under test (smtplib, low level, so
    each command's reply can be checked)."""

    def __init__(self, port, source=None, helo="client.test"):
        self.smtp = smtplib.SMTP(timeout=30, source_address=(source, 0) if source else None)
        self.smtp.connect("127.0.0.1", port)
        self.smtp.ehlo(helo)

    def auth(self, user, password=DEFAULT_PASSWORD, mechanism="PLAIN"):
        """One AUTH attempt with one mechanism (smtplib's login() would retry
        with every mechanism, counting several failures). Returns a Reply."""
        self.smtp.user, self.smtp.password = user, password
        obj = self.smtp.auth_plain if mechanism == "PLAIN" else self.smtp.auth_login
        try:
            code, text = self.smtp.auth(mechanism, obj, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        return Reply(code, text)

    def mail(self, sender):
        return Reply(*self.smtp.mail(sender))

    def rcpt(self, recipient):
        return Reply(*self.smtp.rcpt(recipient))

    def data(self, body):
        code, text = self.smtp.data(body)
        return Reply(code, text)

    def rset(self):
        return Reply(*self.smtp.rset())

    def send(self, sender, recipients, subject="test", body="hello\r\n", headers=""):
        """MAIL, one RCPT per recipient, DATA if any was accepted. Returns
        (list of (recipient, Reply), data Reply or None, message id or None)."""
        r = self.mail(sender)
        if not r.ok:
            raise LabError(f"MAIL FROM:<{sender}> refused: {r}")
        replies = [(rcpt, self.rcpt(rcpt)) for rcpt in recipients]
        if not any(rep.ok for _, rep in replies):
            self.rset()
            return replies, None, None
        msg = (f"From: <{sender}>\r\nTo: undisclosed-recipients:;\r\n"
               f"Subject: {subject}\r\n{headers}\r\n{body}")
        d = self.data(msg)
        m = re.search(r"id=(\S+)", d.text)
        return replies, d, (m.group(1) if m else None)

    def close(self):
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            try:
                self.smtp.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------
# The lab
# ---------------------------------------------------------------------------

SINK_CONFIG = """\
# Sink: stands in for the Internet. 550 for local parts "bad*" (and
# "config=*", the security tests' hostile recipients), 451 for "tmp*",
# everything else accepted and discarded.
primary_hostname = sink.test
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/sink.pid
host_lookup =
rfc1413_hosts =
keep_environment =
tls_advertise_hosts =
acl_smtp_rcpt = sink_rcpt

begin acl
sink_rcpt:
  deny   local_parts = ^bad : ^config=
         message = 550 5.1.1 <$local_part@$domain>: sink says user unknown
  defer  local_parts = ^tmp
         message = 451 4.3.0 sink says try later
  accept

begin routers
blackhole:
  driver = redirect
  data = :blackhole:
"""


class Lab:
    """One Exim under test plus a sink, in a fresh directory.

    macros: extra macro definitions for the configuration, e.g.
    {"SENDERWATCH_ON_LOCK": "reject"}. users: logins created in the password
    file (password DEFAULT_PASSWORD). rules/on_error/...: the policy file.
    """

    def __init__(self, name, rules, users=("alice",), macros=None, aliases=None, limits=None,
                 on_error=None, lock_duration=None, policy_text=None, plugin=None,
                 store_setup=None, with_sink=True):
        self.name = name
        self.plugin = plugin or PLUGIN
        if not self.plugin or not os.path.exists(self.plugin):
            raise LabError(f"plugin not found: {self.plugin!r} (set SENDERWATCH_E2E_PLUGIN)")
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=base_dir())
        os.chmod(self.dir, 0o755)
        self.uid, self.gid = exim_ids()
        owner = (self.uid, self.gid)
        self.etc = os.path.join(self.dir, "etc")
        make_dir(self.etc, 0o755)
        for d in ("spool", "log", "mail", "sink", "sink/spool", "sink/log"):
            make_dir(os.path.join(self.dir, d), 0o750, owner)
        self.store = os.path.join(self.dir, "store")
        if store_setup:
            store_setup(self.store, owner)  # fault injection: the test builds its own
        else:
            # As docs/debian.md says: the Exim user owns the store directory.
            make_dir(self.store, 0o770, owner)
        self.mainlog = os.path.join(self.dir, "log", "mainlog")
        self.paniclog = os.path.join(self.dir, "log", "paniclog")
        self.sink_mainlog = os.path.join(self.dir, "sink", "log", "mainlog")
        self.policy = os.path.join(self.etc, "senderwatch.toml")
        write_file(self.policy, policy_text if policy_text is not None else
                   policy_toml(self.store, rules, on_error=on_error, lock_duration=lock_duration))
        self.limits = os.path.join(self.etc, "senderwatch.limits")
        if limits:
            write_file(self.limits, "".join(f"{k}: {v}\n" for k, v in limits.items()))
        pwline = hash_password(DEFAULT_PASSWORD)
        self.users = list(users)
        write_file(os.path.join(self.etc, "passwd.users"),
                   "".join(f"{u}: {pwline}\n" for u in self.users))
        write_file(os.path.join(self.etc, "aliases"),
                   "postmaster: " + self.users[0] + "\n" +
                   "".join(f"{k}: {v}\n" for k, v in (aliases or {}).items()))
        self.port = free_port()
        self.sink_port = free_port()
        self.conf = os.path.join(self.dir, "exim.conf")
        self.sink_conf = os.path.join(self.dir, "sink", "sink.conf")
        site = {
            "SITE_HOSTNAME": "mx.example.test",
            "SITE_DOMAINS": LOCAL_DOMAIN,
            "SITE_INTERFACES": "127.0.0.1",
            "SITE_PORTS": str(self.port),
            "SITE_SPOOL": os.path.join(self.dir, "spool"),
            "SITE_LOGS": os.path.join(self.dir, "log", "%slog"),
            "SITE_PIDFILE": os.path.join(self.dir, "exim.pid"),
            "SITE_DNS_LOOKUPS": "",
            "SITE_AUTH_HOSTS": "*",
            "SITE_USERS": os.path.join(self.etc, "passwd.users"),
            "SITE_ALIASES": os.path.join(self.etc, "aliases"),
            "SITE_MAILSTORE": os.path.join(self.dir, "mail"),
            "SITE_MAILUSER": EXIM_USER,
            "SITE_SMARTHOST": f"127.0.0.1::{self.sink_port}",
            "SENDERWATCH_SNIPPETS": SNIPPETS_DIR,
            "SENDERWATCH_SO": self.plugin,
            "SENDERWATCH_CONFIG": self.policy,
            "SENDERWATCH_LIMITS_FILE": self.limits,
        }
        site.update(macros or {})
        text = ["# Generated by eximlab for test " + name,
                "# = exim-snippets/example-exim4.conf with these site settings.", ""]
        text += [f"{k} = {v}" for k, v in site.items() if v is not None]
        text += ["", "# Test-only main options (not set by the example).",
                 "log_selector = +subject +received_recipients +smtp_connection +incoming_port",
                 "smtp_accept_queue_per_connection = 0",
                 "", f".include {EXAMPLE_CONFIG}", ""]
        write_file(self.conf, "\n".join(text))
        write_file(self.sink_conf, SINK_CONFIG.format(port=self.sink_port,
                                                      dir=os.path.join(self.dir, "sink")))
        trust(self.conf)
        trust(self.sink_conf)
        self.daemon = None
        self.sink = None
        self.with_sink = with_sink

    # -- lifecycle ----------------------------------------------------------

    def check_config(self):
        r = subprocess.run([EXIM, "-C", self.conf, "-bV"], capture_output=True, text=True)
        if r.returncode != 0:
            raise LabError(f"configuration {self.conf} is invalid:\n{r.stdout}{r.stderr}")

    def _start_daemon(self, conf, port, logname):
        out = open(os.path.join(self.dir, logname), "w")
        proc = subprocess.Popen([EXIM, "-C", conf, "-bdf"], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        out.close()

        def listening():
            if proc.poll() is not None:
                raise LabError(f"exim -C {conf} -bdf exited with {proc.returncode}: "
                               + self._read(os.path.join(self.dir, logname)))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until(listening, 15, f"exim daemon on port {port}")
        return proc

    def start(self):
        self.check_config()
        if self.with_sink:
            self.sink = self._start_daemon(self.sink_conf, self.sink_port, "sink-daemon.out")
        self.daemon = self._start_daemon(self.conf, self.port, "daemon.out")
        return self

    def _stop(self, proc, conf):
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Connection and delivery processes of this lab carry "-C conf".
        try:
            wait_until(lambda: not pids_using(conf), 5, "exim processes to finish")
        except LabError:
            for pid in pids_using(conf):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def stop(self):
        self._stop(self.daemon, self.conf)
        if self.with_sink:
            self._stop(self.sink, self.sink_conf)
        self.daemon = self.sink = None

    def cleanup(self, keep=False):
        self.stop()
        if keep or os.environ.get("SENDERWATCH_E2E_KEEP"):
            print(f"\n[eximlab] kept {self.dir}")
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup(keep=exc[0] is not None)

    # -- clients ------------------------------------------------------------

    def session(self, user=None, password=DEFAULT_PASSWORD, source=None, mechanism="PLAIN"):
        """An SMTP session, authenticated when user is given (a failed
        AUTH raises LabError)."""
        s = Session(self.port, source=source)
        if user is not None:
            r = s.auth(user, password, mechanism)
            if r.code != 235:
                s.close()
                raise LabError(f"AUTH {mechanism} as {user} failed: {r}")
        return s

    def submit(self, user, recipients, sender=None, source=None, subject="test", wait=True):
        """One authenticated message. Returns (rcpt replies, data reply, id);
        waits for its delivery to complete when wait is true."""
        with self.session(user, source=source) as s:
            replies, d, msgid = s.send(sender or f"{user}@{LOCAL_DOMAIN}", recipients,
                                       subject=subject)
        if wait and msgid:
            self.wait_completed(msgid)
        return replies, d, msgid

    def exim(self, args, input=None, as_exim_user=False, check=True, timeout=60):
        """Runs exim4 -C <this lab's config> ARGS (as root, or as Debian-exim)."""
        preexec = None
        if as_exim_user:
            uid, gid = self.uid, self.gid

            def preexec():
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
        r = subprocess.run([EXIM, "-C", self.conf] + list(args), input=input, capture_output=True,
                           text=True, preexec_fn=preexec, timeout=timeout)
        if check and r.returncode != 0:
            raise LabError(f"exim {' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r

    def install_as_default(self):
        """Makes this lab's configuration Exim's default one, in the private
        /etc/exim4 (exim4.conf, first on Debian's configuration search path,
        .includes it). Ordinary users then reach this lab by running plain
        `sendmail` or `exim4`, as a web script does: Exim drops root for a
        -C configuration unless the caller is root or the Exim user
        (TRUSTED_CONFIG_LIST only applies to those), so -C cannot test a
        local user's submission. The lab's daemon keeps running with -C.
        Undone by the returned function (the tests register it as a cleanup).
        """
        if _state["trusted"] is None:
            raise LabError("enter_private_etc() was not called")
        default = os.path.join(ETC_EXIM, "exim4.conf")
        if os.path.exists(default):
            raise LabError(f"{default} exists in the private /etc/exim4 (another lab's?)")
        write_file(default, f"# eximlab: {self.name}\n.include {self.conf}\n")
        return lambda: os.path.exists(default) and os.unlink(default)

    def sendmail(self, login, message, args=("-t", "-i"), timeout=60):
        """Runs /usr/sbin/sendmail ARGS as the (unprivileged) system user
        login, without -C, the message on standard input: what PHP's mail()
        does with the default sendmail_path "sendmail -t -i". Needs
        install_as_default(). Returns the CompletedProcess."""
        pw = pwd.getpwnam(login)

        def preexec():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        binary = "/usr/sbin/sendmail" if os.path.exists("/usr/sbin/sendmail") else EXIM
        return subprocess.run([binary] + list(args), input=message, capture_output=True,
                              text=True, preexec_fn=preexec, timeout=timeout, cwd="/",
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": pw.pw_dir})

    def expand(self, expression):
        """exim -be EXPRESSION as the Exim user (so the plugin opens the
        store with the same rights as in production)."""
        return self.exim(["-be", expression], as_exim_user=True).stdout.strip()

    def peek(self, account):
        return self.expand("${dlfunc{%s}{peek_sender}{%s}{config=%s}}"
                           % (self.plugin, account, self.policy))

    def cli(self, args, check=True, cli=None):
        """Runs the senderwatch command against this lab's store and policy."""
        binary = cli or CLI
        if not binary or not os.path.exists(binary):
            raise LabError(f"CLI not found: {binary!r} (set SENDERWATCH_E2E_CLI)")
        r = subprocess.run([binary, "--db", self.store, "--config", self.policy] + list(args),
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise LabError(f"senderwatch {' '.join(args)} failed ({r.returncode}):\n"
                           f"{r.stdout}{r.stderr}")
        return r

    def dump(self):
        """senderwatch dump --json, as {account: record}."""
        return parse_dump(self.cli(["dump", "--json"]).stdout)

    def counters(self, account):
        """{metric: value in the last hour} for an account, from the dump;
        {} when the store has no record of it."""
        return record_counters(self.dump().get(account))

    # -- logs ---------------------------------------------------------------

    @staticmethod
    def _read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log(self):
        return self._read(self.mainlog)

    def panic(self):
        return self._read(self.paniclog)

    def wait_log(self, pattern, timeout=20, path=None):
        """Waits until the main log (or path) matches the regex; returns the match."""
        rx = re.compile(pattern, re.M)
        path = path or self.mainlog
        return wait_until(lambda: rx.search(self._read(path)), timeout,
                          f"/{pattern}/ in {path}\n--- log tail ---\n" + self.tail(path))

    def tail(self, path=None, lines=25):
        return "\n".join(self._read(path or self.mainlog).splitlines()[-lines:])

    def wait_completed(self, msgid, timeout=30):
        return self.wait_log(r"^\S+ \S+ (\[\d+\] )?%s Completed" % re.escape(msgid), timeout)

    def wait_bounce_of(self, msgid, timeout=30):
        """Waits for the bounce Exim generated for msgid to be delivered;
        returns the bounce's id."""
        m = self.wait_log(r"^\S+ \S+ (?:\[\d+\] )?(\S+) <= <> R=%s " % re.escape(msgid), timeout)
        self.wait_completed(m.group(1), timeout)
        return m.group(1)

    def queue_run(self, frozen=False):
        """One forced queue run in the foreground (exim -qf, or -qff to
        include frozen messages), ignoring retry times; returns when its
        deliveries are done."""
        return self.exim(["-qff" if frozen else "-qf"])

    def queue_count(self):
        return int(self.exim(["-bpc"]).stdout.strip() or 0)

    def diag(self):
        """What to print when an assertion fails."""
        out = [f"lab dir: {self.dir}", "--- mainlog (tail) ---", self.tail()]
        panic = self.panic()
        if panic:
            out += ["--- paniclog ---", panic]
        return "\n".join(out)


# ---------------------------------------------------------------------------
# Reading `senderwatch dump --json`
# ---------------------------------------------------------------------------

def parse_dump(text):
    """Parses `senderwatch dump --json` (schema "senderwatch-dump", version 1,
    docs/cli.md) into {account: record}."""
    data = json.loads(text)
    if data.get("schema") != "senderwatch-dump":
        raise LabError(f"unexpected dump schema: {text[:200]}")
    return {rec["account"]: rec for rec in data["records"]}


def record_counters(rec):
    """The last hour's metrics of a dumped record plus its lock state:
    {"recipients": N, "bounces": N, ..., "locked": bool, "rule": str};
    {} when there is no record."""
    if not rec:
        return {}
    out = dict(rec["windows"]["1h"])
    out["locked"] = rec["locked"]
    out["rule"] = rec["lock"]["rule"]
    return out
