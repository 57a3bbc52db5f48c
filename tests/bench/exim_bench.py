#!/usr/bin/env python3
"""Benchmarks through the real Exim (Debian's exim4 4.96): what senderwatch
costs the mail server, measured in one interleaved run on one machine.

    exim_bench.py --build BUILD_DIR [--quick] [--json OUT.json]

tests/bench/run builds BUILD_DIR and calls this; docs/performance.md reports
its output. Three parts:

1. `exim -be` loops: N calls of check_sender (the built-in default policy on
   an LMDB store, durability "periodic") against N ratelimit conditions
   (`ratelimit = ... / per_cmd / strict / KEY` inside ${acl}, Exim's hints
   database in the same spool directory, on the same disk), both over the
   same 100 keys, minus a loop doing nothing. per_cmd because per_rcpt and
   per_mail are errors outside a message; the hints-database work (open,
   lock, read, write, close) is the same. Marginal cost per call = (wall time
   of the process - wall time of the empty loop) / N, median of the rounds.

2. Cold start: the extra wall time of an `exim -be` process whose first (and
   only) expansion calls check_sender, against one that expands a constant.
   Also for a dependency-free C module (the floor) and for the plugin linked
   as it used to be (tests/bench/CMakeLists.txt). Medians of interleaved runs.

3. SMTP load through a real Exim daemon on 127.0.0.1 (eximlab.py's Lab with
   exim-snippets/example-exim4.conf), messages queued (-odq) so that only
   reception is measured: (A) no checks, (B) the original request's two
   ratelimit stanzas in the RCPT ACL (and its acl_not_smtp one), (C) the
   shipped senderwatch snippets with the built-in default policy, and
   (C shared-rt) the same with the plugin linked as it used to be, with the
   shared C++ runtime (tests/bench/CMakeLists.txt: senderwatch-shared-rt.so),
   and (C redis) the same with backend = "redis" on a private redis-server
   over a unix socket (when redis-server is installed).
   Each
   message: connect, EHLO, AUTH PLAIN, MAIL, 3 RCPT, DATA, QUIT (not waiting
   for the 221, see SmtpClient.message), from one of 50 accounts. 1 and 8 concurrent connections. Throughput ratio to (A),
   median over rounds that run A, B and C back to back in shuffled order.

Runs as root inside a private mount namespace (eximlab's, so /etc/exim4 is
never touched); only 127.0.0.1 is used.
"""

import argparse
import base64
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import eximlab  # noqa: E402

EXIM = eximlab.EXIM
SHARED_RT = "earlier link: shared libstdc++, libtomlplusplus"
ACCOUNTS = 50
RCPTS_PER_MESSAGE = 3


def log(text):
    print(text, flush=True)


def median(values):
    return statistics.median(values) if values else float("nan")


def as_exim_user():
    uid, gid = eximlab.exim_ids()

    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return drop


# ---------------------------------------------------------------------------
# exim -be: a configuration of our own (no daemon, no trusted_configs needed)
# ---------------------------------------------------------------------------

BE_CONFIG = """\
# exim -be benchmark configuration (written by exim_bench.py)
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
keep_environment =

begin acl
ratelimited:
  accept ratelimit = 1000000 / 1h / per_cmd / strict / $acl_arg1
nothing:
  accept
"""


class BeBench:
    def __init__(self, base, plugin):
        self.dir = tempfile.mkdtemp(prefix="be-", dir=base)
        os.chmod(self.dir, 0o755)
        uid, gid = eximlab.exim_ids()
        for d in ("spool", "spool/db", "log", "store"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
            os.chown(os.path.join(self.dir, d), uid, gid)
        self.conf = os.path.join(self.dir, "be.conf")
        eximlab.write_file(self.conf, BE_CONFIG.format(dir=self.dir))
        eximlab.trust(self.conf)  # as in production: Exim keeps its privileges
        self.policy = os.path.join(self.dir, "senderwatch.toml")
        # The built-in default policy; only the store location is ours.
        eximlab.write_file(self.policy, f'[store]\npath = "{self.dir}/store/db"\n')
        self.plugin = plugin

    def run(self, expression, stdin=None):
        """Wall time (s) and output of one exim -be process as Debian-exim."""
        elapsed, _, out = self.run_timed(expression, stdin)
        return elapsed, out

    def run_timed(self, expression, stdin=None):
        """Wall time (s), CPU time (s: user + system of the process) and
        output of one exim -be process as Debian-exim. The CPU time is what
        the process cost, whatever else the machine was doing."""
        args = [EXIM, "-C", self.conf, "-be"] + ([expression] if expression else [])
        t0 = time.perf_counter()
        # Reaped with wait4() for its resource usage, so no communicate()
        # (which reaps); the input is small and written before reading.
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, preexec_fn=as_exim_user())
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.close()
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"exim -be failed ({proc.returncode}): {out[-1000:]}")
        return elapsed, usage.ru_utime + usage.ru_stime, out

    def check_sender(self, account, plugin=None):
        """The call exim-snippets/acl-rcpt.conf makes (no per-account
        overrides): account, client address, overrides, rcpt=, sender=."""
        return ("${dlfunc{%s}{check_sender}{%s}{192.0.2.1}{}{rcpt=r-%s@remote.test}"
                "{sender=%s@example.test}{config=%s}}"
                % (plugin or self.plugin, account, account, account, self.policy))


def loop_expression(body, calls):
    """${reduce} nested twice: `calls` evaluations of body, $item cycling
    over 100 keys u0..u99."""
    outer = ":".join(["1"] * (calls // 100))
    inner = ":".join(f"u{i}" for i in range(100))
    return "${reduce{%s}{}{${reduce{%s}{}{%s}}}}\n" % (outer, inner, body)


def bench_be_loops(be, rounds, calls):
    variants = {
        "empty loop": "${length_1:$item}",
        "empty ${acl}": "${acl{nothing}{$item}}",
        "ratelimit in ${acl}": "${acl{ratelimited}{$item}}",
        "check_sender": be.check_sender("$item"),
    }
    # Warm up: the page cache, the store and the hints database exist.
    for body in variants.values():
        be.run(None, loop_expression(body, 100))
    times = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    for r in range(rounds):
        order = list(variants)
        random.shuffle(order)
        for name in order:
            elapsed, cpu_s, out = be.run_timed(None, loop_expression(variants[name], calls))
            if name == "check_sender" and "verdict=" not in out:
                raise RuntimeError(f"check_sender did not answer: {out[-300:]}")
            times[name].append(elapsed)
            cpu[name].append(cpu_s)
        log(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{n} {times[n][-1]:.3f}s ({cpu[n][-1]:.3f}s cpu)" for n in variants))
    per_call = {}
    for name in variants:
        marginal = [(t - b) / calls for t, b in zip(times[name], times["empty loop"])]
        marginal_cpu = [(t - b) / calls for t, b in zip(cpu[name], cpu["empty loop"])]
        per_call[name] = {"median_us": median(marginal) * 1e6,
                          "rounds_us": [m * 1e6 for m in marginal],
                          "median_cpu_us": median(marginal_cpu) * 1e6,
                          "rounds_cpu_us": [m * 1e6 for m in marginal_cpu],
                          "process_s": times[name], "process_cpu_s": cpu[name]}
    cs = per_call["check_sender"]["median_us"]
    rl = per_call["ratelimit in ${acl}"]["median_us"]
    cs_cpu = per_call["check_sender"]["median_cpu_us"]
    rl_cpu = per_call["ratelimit in ${acl}"]["median_cpu_us"]
    return {"calls_per_process": calls, "rounds": rounds, "per_call": per_call,
            "ratelimit_over_check_sender": rl / cs if cs > 0 else float("inf"),
            "ratelimit_over_check_sender_cpu": rl_cpu / cs_cpu if cs_cpu > 0 else float("inf")}


def bench_cold_start(be, runs, variants):
    """variants: name -> expression. Returns the medians of each exim -be
    process's wall and CPU time and the extra over 'no plugin'."""
    for expr in variants.values():  # warm-up, creates the store
        be.run(expr)
    samples = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    names = list(variants)
    for i in range(runs):
        random.shuffle(names)
        for name in names:
            elapsed, cpu_s, _ = be.run_timed(variants[name])
            samples[name].append(elapsed)
            cpu[name].append(cpu_s)
    base = median(samples["no plugin"])
    base_cpu = median(cpu["no plugin"])
    out = {}
    for name in variants:
        q = statistics.quantiles(samples[name], n=4)
        qc = statistics.quantiles(cpu[name], n=4)
        out[name] = {"median_ms": median(samples[name]) * 1e3,
                     "p25_ms": q[0] * 1e3, "p75_ms": q[2] * 1e3,
                     "extra_ms": (median(samples[name]) - base) * 1e3,
                     "median_cpu_ms": median(cpu[name]) * 1e3,
                     "p25_cpu_ms": qc[0] * 1e3, "p75_cpu_ms": qc[2] * 1e3,
                     "extra_cpu_ms": (median(cpu[name]) - base_cpu) * 1e3}
    return {"runs": runs, "variants": out}


def cold_phases(be, plugin):
    """Expressions that stop after each phase of the plugin's start-up:
    preload without a policy file (load, relocation, initialisers, the
    built-in policy), preload with one (+ TOML parse), peek_sender (+ store
    open with its reader check, a read transaction), check_sender (+ a write
    transaction)."""
    return {
        "phase 1: load + init (preload, built-in policy)": "${dlfunc{%s}{preload}}" % plugin,
        "phase 2: + policy parse (preload config=)": "${dlfunc{%s}{preload}{config=%s}}" % (plugin, be.policy),
        "phase 3: + store open, read txn (peek_sender)":
            "${dlfunc{%s}{peek_sender}{alice}{config=%s}}" % (plugin, be.policy),
        "phase 4: + write txn (check_sender)": be.check_sender("alice", plugin),
    }


def bench_dlopen(build, plugins, runs, be):
    """dlopen() + first check_sender of each module in a fresh process of a
    program that, like exim4, does not link libstdc++ itself."""
    timer = os.path.join(build, "tests", "bench", "senderwatch_dlopen_timer")
    out = {}
    for name, so in plugins.items():
        dl, call = [], []
        for _ in range(runs):
            args = [timer, so]
            if name != "C module, no dependencies":
                args += ["check_sender", "alice", "192.0.2.1", f"config={be.policy}"]
            else:
                args += ["noop"]
            r = subprocess.run(args, capture_output=True, text=True, preexec_fn=as_exim_user())
            fields = dict(kv.split("=") for kv in r.stdout.split())
            dl.append(float(fields["dlopen_ms"]))
            call.append(float(fields["first_call_ms"]))
        needed = subprocess.run(["readelf", "-d", so], capture_output=True, text=True).stdout
        libs = [line.split("[")[1].rstrip("]") for line in needed.splitlines() if "(NEEDED)" in line]
        out[name] = {"dlopen_ms": median(dl), "first_call_ms": median(call),
                     "needed": libs, "size_bytes": os.path.getsize(so)}
    return out


# ---------------------------------------------------------------------------
# SMTP load
# ---------------------------------------------------------------------------

RCPT_B = """\
# (B) The original request's checks (exim-users, "identifying compromised
# accounts"), written by exim_bench.py.
  defer message = $sender_address causing bounces: $sender_rate
        authenticated = *
        ratelimit = 50 / 60m / per_mail / readonly / bounce_$sender_address

  defer message = $sender_address sending at high volume: $sender_rate
        authenticated = *
        ratelimit = 1000 / 60m / per_rcpt / strict / $sender_address
"""

NOT_SMTP_B = """\
  warn ratelimit = 100 / 60m / per_mail / strict / bounce_$recipients
       log_message = bounce rate exceeded: $recipients
"""

NEUTRAL_MACROS = {
    "SENDERWATCH_PRELOAD": "",
    "SENDERWATCH_MAIN_EVENT": "",
    "SENDERWATCH_SMTP_EVENT": "",
    "SENDERWATCH_AUTHFAIL_PLAIN": "no",
    "SENDERWATCH_AUTHFAIL_LOGIN": "no",
}


def snippets_dir(base, name, rcpt, not_smtp):
    d = os.path.join(base, "snippets-" + name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    shutil.copy(os.path.join(SOURCE_DIR, "exim-snippets", "senderwatch.macros"), d)
    eximlab.write_file(os.path.join(d, "acl-rcpt.conf"), rcpt)
    eximlab.write_file(os.path.join(d, "acl-not-smtp.conf"), not_smtp)
    return d


class QueueOnlyLab(eximlab.Lab):
    """The e2e Lab with its daemon queueing every message (-odq): the load
    test measures reception, where the checks run."""

    def _start_daemon(self, conf, port, logname):
        out = open(os.path.join(self.dir, logname), "w")
        proc = subprocess.Popen([EXIM, "-C", conf, "-bdf", "-odq"], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()

        def listening():
            if proc.poll() is not None:
                raise eximlab.LabError(f"exim -bdf -odq exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        eximlab.wait_until(listening, 15, f"exim daemon on port {port}")
        return proc

    def clear_queue(self):
        for sub in ("input", "msglog"):
            d = os.path.join(self.dir, "spool", sub)
            if os.path.isdir(d):
                for name in os.listdir(d):
                    try:
                        os.unlink(os.path.join(d, name))
                    except (IsADirectoryError, FileNotFoundError):
                        pass


def make_labs(base, plugin, other_plugin=None, redis=None):
    users = [f"user{i}" for i in range(ACCOUNTS)]
    a = snippets_dir(base, "A", "# (A) no checks\n", "")
    b = snippets_dir(base, "B", RCPT_B, NOT_SMTP_B)
    labs = {}
    labs["A"] = QueueOnlyLab("bench-A", [], users=users, plugin=plugin, with_sink=False,
                             macros=dict(NEUTRAL_MACROS, SENDERWATCH_SNIPPETS=a))
    labs["B"] = QueueOnlyLab("bench-B", [], users=users, plugin=plugin, with_sink=False,
                             macros=dict(NEUTRAL_MACROS, SENDERWATCH_SNIPPETS=b,
                                         SENDERWATCH_LOCAL_BOUNCES="yes"))
    # (C): the shipped snippets, the built-in default policy, durability
    # "periodic" (the default); only the store location is set.
    lab_c = QueueOnlyLab("bench-C", [], users=users, plugin=plugin, with_sink=False,
                         policy_text="")
    eximlab.write_file(lab_c.policy, f'[store]\npath = "{lab_c.store}"\n')
    labs["C"] = lab_c
    # (C no preload): the same without the daemon's warm-up, so each SMTP
    # connection loads the plugin and reads the policy itself.
    lab = QueueOnlyLab("bench-C-no-preload", [], users=users, plugin=plugin, with_sink=False,
                       policy_text="", macros={"SENDERWATCH_PRELOAD": ""})
    eximlab.write_file(lab.policy, f'[store]\npath = "{lab.store}"\n')
    labs["C no preload"] = lab
    if redis is not None:
        # (C redis): the same with backend = "redis" over a unix socket, to
        # see what sharing the store between hosts costs a host.
        lab = QueueOnlyLab("bench-C-redis", [], users=users, plugin=plugin, with_sink=False,
                           policy_text="")
        secret = os.path.join(lab.etc, "senderwatch.redis")
        eximlab.write_file(secret, eximlab.REDIS_PASSWORD + "\n", mode=0o640, owner=(0, lab.gid))
        eximlab.write_file(lab.policy, f'[store]\npath = "{lab.store}"\nbackend = "redis"\n'
                                       f'redis = "{redis.address}"\n'
                                       f'redis_password_file = "{secret}"\nredis_timeout = "1s"\n')
        labs["C redis"] = lab
    if other_plugin:
        # (C shared-rt): the same with the plugin linked as it used to be
        # (shared libstdc++ and libtomlplusplus), to see what the link saves.
        lab = QueueOnlyLab("bench-C-shared-rt", [], users=users, plugin=other_plugin,
                           with_sink=False, policy_text="")
        eximlab.write_file(lab.policy, f'[store]\npath = "{lab.store}"\n')
        labs["C shared-rt"] = lab
    return labs


class SmtpClient:
    """A minimal SMTP client on a raw socket: cheap enough that 8 of them on
    2 cores measure the server, not Python."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.expect(220)

    def reply(self):
        while True:
            lines = self.buf.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if len(line) >= 4 and line[3:4] == b" ":
                    self.buf = b"\r\n".join(lines[i + 1:])
                    return int(line[:3]), b"\r\n".join(lines[:i + 1])
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def expect(self, code, command=None):
        if command is not None:
            self.sock.sendall(command)
        got, text = self.reply()
        if got != code:
            raise RuntimeError(f"expected {code}, got {got}: {text[:200]!r} after {command!r}")
        return text

    def message(self, user, recipients):
        self.expect(250, b"EHLO client.test\r\n")
        token = base64.b64encode(f"\0{user}\0{eximlab.DEFAULT_PASSWORD}".encode())
        self.expect(235, b"AUTH PLAIN " + token + b"\r\n")
        sender = f"{user}@{eximlab.LOCAL_DOMAIN}".encode()
        self.expect(250, b"MAIL FROM:<" + sender + b">\r\n")
        for r in recipients:
            self.expect(250, b"RCPT TO:<" + r.encode() + b">\r\n")
        self.expect(354, b"DATA\r\n")
        body = (b"From: <" + sender + b">\r\nTo: undisclosed-recipients:;\r\n"
                b"Subject: load\r\n\r\n" + b"x" * 1000 + b"\r\n.\r\n")
        self.expect(250, body)
        # QUIT without waiting for the 221: Exim 4.96 waits up to 200 ms
        # after a QUIT for more (pipelined) input before it answers, which
        # would make every connection last 200 ms whatever the checks cost.
        # Closing at once lets it answer (into a closed socket) and exit.
        self.sock.sendall(b"QUIT\r\n")
        self.sock.close()


def exim_cpu_seconds(lab):
    """CPU time of the lab's daemon and of its reaped children (every SMTP
    connection process), from /proc/PID/stat: what reception cost Exim,
    whatever else the machine was doing."""
    with open(f"/proc/{lab.daemon.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def wait_for_children(lab):
    """Until the daemon has reaped every connection process of the run."""
    eximlab.wait_until(lambda: len(eximlab.pids_using(lab.conf)) <= 1, 30,
                       f"the connection processes of {lab.name} to end")


def load_run(lab, messages, concurrency, first_index):
    """Returns (messages per second, Exim CPU milliseconds per message)."""
    wait_for_children(lab)
    cpu0 = exim_cpu_seconds(lab)
    counter = {"next": 0}
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                i = counter["next"]
                if i >= messages:
                    return
                counter["next"] = i + 1
            n = first_index + i
            user = f"user{n % ACCOUNTS}"
            rcpts = [f"r{n}.{k}@{eximlab.REMOTE_DOMAIN}" for k in range(RCPTS_PER_MESSAGE)]
            try:
                SmtpClient(lab.port).message(user, rcpts)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"{user}: {e}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"lab {lab.name}: {len(errors)} failed messages, e.g. {errors[0]}")
    wait_for_children(lab)
    cpu_ms = (exim_cpu_seconds(lab) - cpu0) * 1e3 / messages
    return messages / elapsed, cpu_ms


def bench_smtp(base, plugin, rounds, messages, concurrencies, other_plugin=None):
    redis = None
    if os.path.exists(eximlab.REDIS_SERVER):
        redis = eximlab.RedisServer()
        redis.start()
    try:
        return _bench_smtp(base, plugin, rounds, messages, concurrencies, other_plugin, redis)
    finally:
        if redis is not None:
            redis.cleanup()


def _bench_smtp(base, plugin, rounds, messages, concurrencies, other_plugin, redis):
    labs = make_labs(base, plugin, other_plugin, redis)
    results = {c: {name: [] for name in labs} for c in concurrencies}
    cpu = {c: {name: [] for name in labs} for c in concurrencies}
    try:
        for lab in labs.values():
            lab.start()
        # Warm-up: every account has authenticated and been checked once.
        for lab in labs.values():
            load_run(lab, ACCOUNTS, 4, 0)
            lab.clear_queue()
        index = ACCOUNTS
        for r in range(rounds):
            for c in concurrencies:
                order = list(labs)
                random.shuffle(order)
                for name in order:
                    rate, cpu_ms = load_run(labs[name], messages, c, index)
                    index += messages
                    labs[name].clear_queue()
                    results[c][name].append(rate)
                    cpu[c][name].append(cpu_ms)
                log(f"  round {r + 1}/{rounds}, {c} connection(s): " + ", ".join(
                    f"{n} {results[c][n][-1]:.1f}/s {cpu[c][n][-1]:.2f} ms cpu" for n in labs))
        panics = {n: lab.panic() for n, lab in labs.items() if lab.panic().strip()}
        verdicts_ok = all("senderwatch:" not in labs[n].log() for n in ("C", "C redis") if n in labs)
    finally:
        for lab in labs.values():
            lab.cleanup()
    out = {"rounds": rounds, "messages_per_run": messages,
           "recipients_per_message": RCPTS_PER_MESSAGE, "accounts": ACCOUNTS,
           "panic_log": panics, "no_senderwatch_errors_logged": verdicts_ok, "by_concurrency": {}}
    for c in concurrencies:
        per = {}
        for name in labs:
            ratios = [x / a for x, a in zip(results[c][name], results[c]["A"])]
            # Capacity when CPU-bound: A's CPU per message over this one's.
            cpu_ratios = [a / x for x, a in zip(cpu[c][name], cpu[c]["A"]) if x > 0]
            per[name] = {"median_msgs_per_s": median(results[c][name]),
                         "runs_msgs_per_s": results[c][name],
                         "median_ratio_to_A": median(ratios), "ratios_to_A": ratios,
                         "median_cpu_ms_per_msg": median(cpu[c][name]),
                         "runs_cpu_ms_per_msg": cpu[c][name],
                         "median_cpu_ratio_to_A": median(cpu_ratios)}
        out["by_concurrency"][str(c)] = per
    return out


# ---------------------------------------------------------------------------

def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    exim_version = subprocess.run([EXIM, "-bV"], capture_output=True, text=True).stdout.splitlines()[0]
    df = subprocess.run(["df", "-hT", SOURCE_DIR], capture_output=True, text=True).stdout.splitlines()[-1]
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "load_average_at_start": load,
            "exim": exim_version, "disk": df}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="build directory with the plugin and bench targets")
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test, noisy)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--only", choices=["be", "cold", "smtp"], action="append",
                    help="run only these parts (default: all)")
    args = ap.parse_args()

    reason = eximlab.skip_reason()
    if reason:
        print(f"SKIPPED: {reason}")
        return 77
    reason = eximlab.run_in_private_namespace(__file__)
    if reason:
        print(f"SKIPPED: {reason}")
        return 77

    build = os.path.abspath(args.build)
    plugin = os.path.join(build, "src", "exim", "senderwatch.so")
    bench_dir = os.path.join(build, "tests", "bench")
    variants = {
        "C module, no dependencies": os.path.join(bench_dir, "senderwatch_bench_noop.so"),
        "senderwatch.so as built": plugin,
        SHARED_RT: os.path.join(bench_dir, "senderwatch-shared-rt.so"),
        "earlier link + -static-libstdc++ -static-libgcc": os.path.join(bench_dir, "senderwatch-static-rt.so"),
    }
    # The earlier links are comparisons only: without them (a build of just
    # the plugin and the floor) the rest still runs.
    optional = {SHARED_RT, "earlier link + -static-libstdc++ -static-libgcc"}
    for name, so in list(variants.items()):
        if not os.path.exists(so):
            if name in optional:
                log(f"(skipping {name}: {so} not built)")
                del variants[name]
                continue
            print(f"missing {so}: build the bench targets first (tests/bench/run does)")
            return 1
    eximlab.PLUGIN = plugin
    base = eximlab.enter_private_etc(prefix="senderwatch-bench-")
    parts = args.only or ["be", "cold", "smtp"]
    quick = args.quick
    results = {"machine": machine(), "quick": quick}
    try:
        be = BeBench(base, plugin)
        if "be" in parts:
            log("== exim -be: check_sender vs ratelimit, marginal cost per call")
            results["be_loops"] = bench_be_loops(be, rounds=3 if quick else 7,
                                                 calls=2000 if quick else 10000)
        if "cold" in parts:
            log("== cold start: first expansion calls the plugin")
            exprs = {"no plugin": "x",
                     "C module, no dependencies": "${dlfunc{%s}{noop}}" % variants["C module, no dependencies"]}
            for name, so in variants.items():
                if name != "C module, no dependencies":
                    exprs[name] = be.check_sender("alice", so)
            # The parts of senderwatch.so's start-up, each variant one phase
            # more than the one before (docs/performance.md, "Per process").
            exprs.update(cold_phases(be, plugin))
            results["cold_start"] = bench_cold_start(be, runs=30 if quick else 200, variants=exprs)
            results["dlopen"] = bench_dlopen(build, variants, runs=10 if quick else 50, be=be)
        if "smtp" in parts:
            log("== SMTP load: (A) no checks, (B) original ratelimits, (C) senderwatch snippets")
            results["smtp"] = bench_smtp(
                base, plugin, rounds=2 if quick else 7, messages=48 if quick else 240,
                concurrencies=[1, 8])
    finally:
        # Our own directories in the work directory; the labs remove theirs.
        for entry in os.listdir(base):
            if entry.startswith(("be-", "snippets-")):
                shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
        eximlab.leave_private_etc()
    results["machine"]["load_average_at_end"] = open("/proc/loadavg").read().split()[:3]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print_summary(results)
    return 0


def print_summary(r):
    m = r["machine"]
    log("")
    log(f"machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"load {' '.join(m['load_average_at_start'])} -> {' '.join(m.get('load_average_at_end', []))}")
    log(f"         {m['exim']}; disk: {m['disk']}")
    if "be_loops" in r:
        b = r["be_loops"]
        log(f"\nexim -be, {b['calls_per_process']} calls per process, median of {b['rounds']} rounds "
            "(marginal wall time per call):")
        for name, v in b["per_call"].items():
            if name != "empty loop":
                log(f"  {name:24s} {v['median_us']:9.2f} us wall, {v['median_cpu_us']:9.2f} us CPU")
        log(f"  one ratelimit condition costs {b['ratelimit_over_check_sender']:.1f}x one check_sender "
            f"by wall time ({b['ratelimit_over_check_sender_cpu']:.1f}x by CPU) "
            "(target >= 30x; check_sender target <= 11 us)")
    if "cold_start" in r:
        c = r["cold_start"]
        log(f"\ncold start: exim -be process, median of {c['runs']} interleaved runs (wall; CPU):")
        for name, v in c["variants"].items():
            log(f"  {name:52s} {v['median_ms']:7.2f} ms extra {v['extra_ms']:+6.2f};"
                f" CPU {v['median_cpu_ms']:7.2f} ms extra {v['extra_cpu_ms']:+6.2f}")
        log("  (target: <= 0.3 ms CPU beyond the C module per process)")
    if "dlopen" in r:
        log("\ndlopen() and first check_sender in a fresh process (median):")
        for name, v in r["dlopen"].items():
            log(f"  {name:48s} dlopen {v['dlopen_ms']:.3f} ms, first call {v['first_call_ms']:.3f} ms; "
                f"needs {', '.join(v['needed']) or '-'}")
    if "smtp" in r:
        s = r["smtp"]
        log(f"\nSMTP reception throughput, {s['messages_per_run']} messages x {s['recipients_per_message']} "
            f"recipients per run, median of {s['rounds']} rounds (ratio to A paired per round):")
        for c, per in s["by_concurrency"].items():
            log(f"  {c} connection(s): " + "; ".join(
                f"{n} {v['median_msgs_per_s']:.1f} msg/s (x{v['median_ratio_to_A']:.3f})" for n, v in per.items()))
            log("      Exim CPU per message: " + "; ".join(
                f"{n} {v['median_cpu_ms_per_msg']:.2f} ms (capacity x{v['median_cpu_ratio_to_A']:.3f})"
                for n, v in per.items()))
        log("  (target: C >= 0.95 x A)")
        if s["panic_log"]:
            log(f"  PANIC LOG not empty: {s['panic_log']}")


if __name__ == "__main__":
    sys.exit(main())
