#!/usr/bin/env python3
"""Prints the benchmark results against the targets of docs/performance.md.

    summarize.py build-bench/bench-results/core.json [build-bench/bench-results/exim.json]

core.json is Google Benchmark's JSON output (medians when run with
repetitions), exim.json is exim_bench.py's.
"""

import json
import os
import sys


def load(path):
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def core_table(core):
    """name -> benchmark entry, preferring the median aggregate."""
    table = {}
    for b in core.get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") != "median":
                continue
            name = b["run_name"]
        else:
            name = b.get("run_name", b["name"])
            if name in table:
                continue
        table[name] = b
    return table


UNIT = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def us(b, field="real_time"):
    return b[field] * UNIT[b.get("time_unit", "ns")]


def verdict(ok):
    return "met" if ok else "MISSED"


def main():
    core = load(sys.argv[1] if len(sys.argv) > 1 else None)
    exim = load(sys.argv[2] if len(sys.argv) > 2 else None)
    print("\n== Summary (targets from issue 5, docs/performance.md)")
    if core:
        t = core_table(core)
        ctx = core.get("context", {})
        print(f"Google Benchmark on {ctx.get('num_cpus')} x {ctx.get('mhz_per_cpu')} MHz, "
              f"load {ctx.get('load_avg')}; times are medians, real (wall) time, CPU time in brackets")

        def row(label, name, field_note=""):
            b = t.get(name)
            if b is None:
                print(f"  {label:56s} (not run)")
                return None
            if "{rules}" in label:
                label = label.replace("{rules}", f"{b.get('rules', 0):.0f} rules")
            print(f"  {label:56s} {us(b):9.3f} us  [{us(b, 'cpu_time'):.3f} us cpu]{field_note}")
            return b

        row("window update (count + client network)", "BM_WindowUpdate")
        row("policy evaluation, default policy ({rules})", "BM_EvaluateDefaultPolicy")
        for n in (1, 5, 64):
            row(f"policy evaluation, {n} rule(s)", f"BM_EvaluateRules/{n}")
        row("record encode", "BM_EncodeRecord")
        row("record decode", "BM_DecodeRecord")
        for n in (0, 1, 5, 64):
            label = "default policy ({rules})" if n == 0 else f"{n} rule(s)"
            row(f"Engine::CheckSender, memory store, {label}", f"BM_EngineCheckSenderMemory/{n}")
        for accounts in (1, 10000, 1000000):
            for periodic, dname in ((0, "none"), (1, "periodic")):
                name = f"BM_CheckSenderLmdb/accounts:{accounts}/periodic:{periodic}/rules:0/real_time"
                row(f"Engine::CheckSender, LMDB, {accounts} accounts, {dname}", name)
        print("  (LMDB and Dispatch rows: calls with rcpt= and sender=; accounts have their history)")
        for n in (1, 5, 64):
            row(f"Engine::CheckSender, LMDB, 10^4 accounts, {n} rule(s)",
                f"BM_CheckSenderLmdb/accounts:10000/periodic:0/rules:{n}/real_time")
        for periodic, dname in ((0, "none"), (1, "periodic")):
            row(f"Dispatch(check_sender), 10^4 accounts, {dname}",
                f"BM_DispatchCheckSender/periodic:{periodic}/real_time")
        for accounts in (10000, 1000000):
            b = t.get(f"BM_StoreBytesPerAccount/{accounts}/iterations:1")
            if b:
                per = b["data_mdb_bytes_per_account"]
                print(f"  store size at {accounts} accounts: data.mdb {b['data_mdb_bytes'] / 2**20:.1f} MiB, "
                      f"{per:.0f} bytes/account (target <= 4096: {verdict(per <= 4096)})")
        e1 = t.get("BM_EvaluateRules/1")
        e64 = t.get("BM_EvaluateRules/64")
        l1 = t.get("BM_CheckSenderLmdb/accounts:10000/periodic:0/rules:1/real_time")
        l64 = t.get("BM_CheckSenderLmdb/accounts:10000/periodic:0/rules:64/real_time")
        if e1 and e64:
            print(f"  rules 1 -> 64: evaluation x{us(e64, 'cpu_time') / us(e1, 'cpu_time'):.1f} (linear in rules, "
                  "target 'independent': MISSED)" if us(e64, 'cpu_time') > 2 * us(e1, 'cpu_time') else
                  "  rules 1 -> 64: evaluation cost flat")
        if l1 and l64:
            print(f"  rules 1 -> 64 on LMDB: check_sender +{us(l64, 'cpu_time') - us(l1, 'cpu_time'):.2f} us cpu "
                  f"(x{us(l64, 'cpu_time') / us(l1, 'cpu_time'):.2f})")
    if exim:
        m = exim["machine"]
        print(f"\nThrough Exim on {m['cpu']}, {m['cpus']} CPUs; {m['exim']}"
              + (" (--quick: noisy)" if exim.get("quick") else ""))
        b = exim.get("be_loops")
        if b:
            cs = b["per_call"]["check_sender"]["median_us"]
            rl = b["per_call"]["ratelimit in ${acl}"]["median_us"]
            ratio = b["ratelimit_over_check_sender"]
            print(f"  check_sender marginal per call     {cs:8.2f} us (target <= 15 us: {verdict(cs <= 15)})")
            print(f"  ratelimit condition per call       {rl:8.2f} us")
            print(f"  ratelimit / check_sender           {ratio:8.1f} x  (target >= 30x: {verdict(ratio >= 30)})")
        c = exim.get("cold_start")
        if c:
            for name, v in c["variants"].items():
                if name == "no plugin":
                    continue
                target = f" (target <= 1 ms: {verdict(v['extra_ms'] <= 1.0)})" \
                    if name == "senderwatch.so as built" else ""
                print(f"  cold start, {name:44s} {v['extra_ms']:+6.2f} ms{target}")
        s = exim.get("smtp")
        if s:
            for conc, per in s["by_concurrency"].items():
                ra = per["C"]["median_ratio_to_A"]
                rb = per["B"]["median_ratio_to_A"]
                other = per.get("C shared-rt")
                print(f"  SMTP {conc} conn: A {per['A']['median_msgs_per_s']:.1f} msg/s, "
                      f"B/A {rb:.3f}, C/A {ra:.3f} (target C/A >= 0.95: {verdict(ra >= 0.95)})"
                      + (f", C shared-rt/A {other['median_ratio_to_A']:.3f}" if other else ""))
                if "median_cpu_ms_per_msg" in per["A"]:
                    ca = per["C"]["median_cpu_ratio_to_A"]
                    print(f"           Exim CPU/message: A {per['A']['median_cpu_ms_per_msg']:.2f} ms, "
                          f"B {per['B']['median_cpu_ms_per_msg']:.2f}, C {per['C']['median_cpu_ms_per_msg']:.2f}"
                          + (f", C shared-rt {other['median_cpu_ms_per_msg']:.2f}" if other else "")
                          + f"; capacity C/A {ca:.3f} ({verdict(ca >= 0.95)})"
                          + (f", C shared-rt/A {other['median_cpu_ratio_to_A']:.3f}" if other else ""))
                redis = per.get("C redis")
                if redis:
                    print(f"           Redis backend: {redis['median_msgs_per_s']:.1f} msg/s, "
                          f"C redis/C {redis['median_msgs_per_s'] / per['C']['median_msgs_per_s']:.3f}"
                          f" (Exim CPU/message {redis['median_cpu_ms_per_msg']:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
