// Google Benchmark for the pure core: what one check_sender costs before any
// I/O. Sliding-window updates and sums, policy evaluation (and how it scales
// with the number of rules), the record codec, account normalisation and the
// engine on the in-memory store. docs/performance.md reports these numbers;
// tests/bench/run produces them.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "senderwatch/account.h"
#include "senderwatch/engine.h"
#include "senderwatch/network.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/store.h"
#include "senderwatch/verdict.h"

namespace senderwatch {
namespace {

constexpr UnixSeconds kT0 = 1'790'000'000;

// A record as an active account has it after an hour of traffic: every
// minute slot used, a few networks, a few bounces.
AccountRecord BusyRecord() {
  AccountRecord r;
  r.account = "alice@example.org";
  for (int minute = 0; minute < 60; ++minute) {
    const UnixSeconds t = kT0 - 3600 + minute * 60;
    r.Count(Counter::kRecipients, t, 7);
    if (minute % 10 == 0) r.Count(Counter::kBounces, t);
    if (minute % 20 == 0) r.Count(Counter::kDefers, t);
  }
  for (uint8_t i = 0; i < 4; ++i) {
    ClientNetwork n;
    n.family = 4;
    n.prefix = {192, 0, i, 0, 0, 0, 0, 0};
    r.SeeNetwork(n, kT0 - 600 * i);
  }
  return r;
}

// A policy of `n` rules cycling through every metric, none of which fires
// on BusyRecord (the worst case: every rule is read, none short-cuts).
Policy PolicyWithRules(int n) {
  Policy p = DefaultPolicy();
  p.rules.clear();
  const Metric metrics[] = {Metric::kRecipients, Metric::kBounces,   Metric::kDefers,
                            Metric::kBounceRatio, Metric::kClientIps, Metric::kAuthfails};
  for (int i = 0; i < n; ++i) {
    Rule rule;
    rule.name = "rule-" + std::to_string(i);
    rule.metric = metrics[i % 6];
    // Alternate minute-slot and hour-slot windows.
    rule.window_seconds = (i % 2 == 0) ? 3600 : 6 * 3600;
    rule.above = rule.metric == Metric::kBounceRatio ? 0.9 : rule.metric == Metric::kClientIps ? 15 : 1e6;
    rule.action = i % 3 == 0 ? Action::kLock : Action::kDefer;
    p.rules.push_back(rule);
  }
  return p;
}

void BM_SlotRingAdd(benchmark::State& state) {
  MinuteRing ring;
  uint32_t minute = static_cast<uint32_t>(kT0 / 60);
  uint64_t i = 0;
  for (auto _ : state) {
    // A new minute every 16 calls: mostly same-slot adds, some advances.
    ring.Add(Counter::kRecipients, minute + static_cast<uint32_t>(i++ / 16), 1);
    benchmark::DoNotOptimize(ring.data());
  }
}
BENCHMARK(BM_SlotRingAdd);

void BM_SlotRingSumHour(benchmark::State& state) {
  const AccountRecord r = BusyRecord();
  const uint32_t last = r.minutes.head();
  for (auto _ : state) {
    benchmark::DoNotOptimize(r.minutes.Sum(Counter::kRecipients, last - 59, last));
  }
}
BENCHMARK(BM_SlotRingSumHour);

// One check_sender's worth of window work: count a recipient in both rings
// and remember the client network.
void BM_WindowUpdate(benchmark::State& state) {
  AccountRecord r = BusyRecord();
  ClientNetwork n;
  n.family = 4;
  n.prefix = {192, 0, 2, 0, 0, 0, 0, 0};
  UnixSeconds now = kT0;
  for (auto _ : state) {
    r.Count(Counter::kRecipients, now);
    r.SeeNetwork(n, now);
    now += 1;
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_WindowUpdate);

void BM_EvaluateDefaultPolicy(benchmark::State& state) {
  const Policy policy = DefaultPolicy();
  const AccountRecord r = BusyRecord();
  const LimitOverrides none;
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(policy, r, kT0, none));
  state.counters["rules"] = static_cast<double>(policy.rules.size());
}
BENCHMARK(BM_EvaluateDefaultPolicy);

// Evaluation cost against the number of rules (1, 5, 64 = the parser's
// maximum). ReadRules is linear in the rules, so this is expected to grow.
void BM_EvaluateRules(benchmark::State& state) {
  const Policy policy = PolicyWithRules(static_cast<int>(state.range(0)));
  const AccountRecord r = BusyRecord();
  const LimitOverrides none;
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(policy, r, kT0, none));
  state.counters["rules"] = static_cast<double>(policy.rules.size());
}
BENCHMARK(BM_EvaluateRules)->Arg(1)->Arg(5)->Arg(64);

void BM_EvaluateWithOverrides(benchmark::State& state) {
  const Policy policy = DefaultPolicy();
  const AccountRecord r = BusyRecord();
  auto overrides = ParseLimitOverrides("rcpt-rate=20000 bounce-flood=500 client-networks=off");
  if (!overrides) {
    state.SkipWithError("overrides do not parse");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(policy, r, kT0, *overrides));
}
BENCHMARK(BM_EvaluateWithOverrides);

void BM_EncodeRecord(benchmark::State& state) {
  const AccountRecord r = BusyRecord();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string encoded = EncodeRecord(r);
    bytes = encoded.size();
    benchmark::DoNotOptimize(encoded);
  }
  state.counters["record_bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_EncodeRecord);

void BM_DecodeRecord(benchmark::State& state) {
  const std::string encoded = EncodeRecord(BusyRecord());
  for (auto _ : state) {
    auto decoded = DecodeRecord(encoded, "alice@example.org");
    benchmark::DoNotOptimize(decoded);
  }
  state.counters["record_bytes"] = static_cast<double>(encoded.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * encoded.size()));
}
BENCHMARK(BM_DecodeRecord);

void BM_NormalizeAccount(benchmark::State& state) {
  const std::string raw = "  Alice.Example@Example.ORG ";
  for (auto _ : state) benchmark::DoNotOptimize(NormalizeAccount(raw));
}
BENCHMARK(BM_NormalizeAccount);

void BM_FormatVerdictDefer(benchmark::State& state) {
  Verdict v;
  v.action = Action::kDefer;
  v.rule = "bounce-flood";
  v.metric = Metric::kBounces;
  v.value = 63;
  v.limit = 50;
  v.window_seconds = 3600;
  for (auto _ : state) benchmark::DoNotOptimize(FormatVerdict(v));
}
BENCHMARK(BM_FormatVerdictDefer);

// The engine without I/O: normalise, parse the client address, read-modify-
// write the record in the memory store, evaluate. Arg: number of rules
// (0 = the built-in default policy).
void BM_EngineCheckSenderMemory(benchmark::State& state) {
  const Policy policy = state.range(0) == 0 ? DefaultPolicy()
                                            : PolicyWithRules(static_cast<int>(state.range(0)));
  auto store = NewMemoryStore();
  ManualClock clock(kT0);
  NullLogger log;
  Engine engine(policy, *store, clock, log);
  std::vector<std::string> accounts;
  for (int a = 0; a < 1000; ++a) accounts.push_back("user" + std::to_string(a));
  uint64_t i = 0;
  for (auto _ : state) {
    // 1000 accounts, one second per 100 calls: stays under every limit.
    auto v = engine.CheckSender(accounts[i % accounts.size()], "192.0.2.7");
    benchmark::DoNotOptimize(v);
    if (++i % 100 == 0) clock.Advance(1);
  }
  state.counters["rules"] = static_cast<double>(policy.rules.size());
}
BENCHMARK(BM_EngineCheckSenderMemory)->Arg(0)->Arg(1)->Arg(5)->Arg(64);

}  // namespace
}  // namespace senderwatch

BENCHMARK_MAIN();
