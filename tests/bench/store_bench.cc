// Google Benchmark for check_sender on the real LMDB store: Engine over an
// LMDB store holding 1, 10^4 or 10^6 accounts, with durability "none" and
// "periodic", and the whole plugin path (Dispatch, as the C ABI calls it,
// minus Exim's own ${dlfunc} overhead). Calls carry rcpt= and sender= as
// the shipped ACL passes them, so every account has its recipient history,
// as in production. Also reports how many bytes of data.mdb each account
// costs.
//
// Stores live under $TMPDIR (tests/bench/run points it at the build tree, on
// the same disk as Exim's hints databases in the Exim benchmark). The 10^6
// store takes a while to fill; SENDERWATCH_BENCH_MAX_ACCOUNTS caps the sizes
// for a quick run.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "exim/dispatch.h"
#include "senderwatch/engine.h"
#include "senderwatch/network.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/store.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

uint64_t MaxAccounts() {
  const char* cap = std::getenv("SENDERWATCH_BENCH_MAX_ACCOUNTS");
  return cap != nullptr && *cap != '\0' ? std::strtoull(cap, nullptr, 10) : 1'000'000;
}

std::string AccountName(uint64_t i) { return "user" + std::to_string(i) + "@example.org"; }

uint64_t FileSize(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Writes what earlier benchmarks left dirty in the page cache, untimed:
// otherwise the first periodic sync of the next benchmark would pay for
// gigabytes it did not write.
void FlushStore(const std::string& dir) {
  if (const int fd = ::open((dir + "/data.mdb").c_str(), O_RDONLY); fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

StoreSettings Settings(const std::string& path, Durability durability) {
  StoreSettings s;
  s.path = path;
  s.max_size = uint64_t{8} << 30;  // virtual; 10^6 accounts need about 2 GiB
  s.durability = durability;
  return s;
}

// A directory holding a store of `accounts` active accounts, each created
// the way the shipped ACL creates it: one check_sender with a client
// address, rcpt= and sender=, which also gives the account its recipient
// history (docs/performance.md, "Learning"). Built once per size and shared
// by the benchmarks (a process must not open one LMDB environment twice at
// the same time: every benchmark closes its store before the next opens it).
struct PreparedStore {
  std::unique_ptr<testing::TempDir> dir;
  uint64_t accounts = 0;
  uint64_t data_bytes = 0;  // data.mdb after filling
  uint64_t used_bytes = 0;  // pages in use, as LMDB reports them
  std::string error;
};

std::string Recipient(uint64_t i) { return "friend" + std::to_string(i % 37) + "@remote.test"; }

const PreparedStore& Prepared(uint64_t accounts) {
  static std::map<uint64_t, PreparedStore> cache;
  auto [it, inserted] = cache.try_emplace(accounts);
  PreparedStore& p = it->second;
  if (!inserted) return p;
  p.dir = std::make_unique<testing::TempDir>();
  p.accounts = accounts;
  SystemClock clock;
  NullLogger log;
  auto store = OpenLmdbStore(Settings(p.dir->Join("db"), Durability::kNone), clock, log);
  if (!store) {
    p.error = store.error().message;
    return p;
  }
  const Policy policy = DefaultPolicy();
  Engine engine(policy, **store, clock, log);
  for (uint64_t i = 0; i < accounts; ++i) {
    const std::string name = AccountName(i);
    const std::string rcpt = Recipient(i);
    auto v = engine.CheckSender(name, "198.51.100.7", {}, CheckContext{rcpt, name});
    if (!v) {
      p.error = v.error().message;
      return p;
    }
  }
  if (auto stats = (*store)->Stats()) p.used_bytes = stats->used_bytes;
  store->reset();
  p.data_bytes = FileSize(p.dir->Join("db/data.mdb"));
  return p;
}

// Engine::CheckSender on an LMDB store. Args: accounts, durability
// (0 none, 1 periodic), rules (0: built-in default policy, else synthetic).
void BM_CheckSenderLmdb(benchmark::State& state) {
  const uint64_t accounts = static_cast<uint64_t>(state.range(0));
  if (accounts > MaxAccounts()) {
    state.SkipWithError("skipped: SENDERWATCH_BENCH_MAX_ACCOUNTS");
    return;
  }
  const PreparedStore& prepared = Prepared(accounts);
  if (!prepared.error.empty()) {
    state.SkipWithError(prepared.error.c_str());
    return;
  }
  const Durability durability = state.range(1) == 0 ? Durability::kNone : Durability::kPeriodic;
  Policy policy = DefaultPolicy();
  if (state.range(2) > 0) {
    // Same construction as core_bench's PolicyWithRules: nothing fires.
    policy.rules.clear();
    for (int64_t i = 0; i < state.range(2); ++i) {
      Rule rule;
      rule.name = "rule-" + std::to_string(i);
      rule.metric = static_cast<Metric>(i % 6);
      rule.window_seconds = i % 2 == 0 ? 3600 : 6 * 3600;
      rule.above = rule.metric == Metric::kBounceRatio ? 0.9
                   : rule.metric == Metric::kClientIps ? 15
                                                       : 1e9;
      rule.action = i % 3 == 0 ? Action::kLock : Action::kDefer;
      policy.rules.push_back(rule);
    }
  }
  SystemClock clock;
  NullLogger log;
  FlushStore(prepared.dir->Join("db"));
  auto store = OpenLmdbStore(Settings(prepared.dir->Join("db"), durability), clock, log);
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  Engine engine(policy, **store, clock, log);
  // As the shipped ACL calls it: with rcpt= (one of the account's known
  // recipients: the history is read, not grown) and sender=.
  struct Call {
    std::string account, rcpt;
  };
  std::vector<Call> calls;
  const uint64_t distinct = std::min<uint64_t>(accounts, 1 << 16);
  std::mt19937_64 rng(42);
  for (uint64_t i = 0; i < distinct; ++i) {
    const uint64_t a = rng() % accounts;
    calls.push_back({AccountName(a), Recipient(a)});
  }
  uint64_t i = 0;
  uint64_t errors = 0;
  for (auto _ : state) {
    const Call& c = calls[i++ % calls.size()];
    auto v = engine.CheckSender(c.account, "192.0.2.7", {}, CheckContext{c.rcpt, c.account});
    if (!v) ++errors;
    benchmark::DoNotOptimize(v);
  }
  if (errors != 0) state.SkipWithError("CheckSender failed");
  state.counters["accounts"] = static_cast<double>(accounts);
  state.counters["data_mdb_bytes_per_account"] =
      static_cast<double>(prepared.data_bytes) / static_cast<double>(accounts);
  state.counters["used_bytes_per_account"] =
      static_cast<double>(prepared.used_bytes) / static_cast<double>(accounts);
  state.counters["rules"] = static_cast<double>(policy.rules.size());
}
BENCHMARK(BM_CheckSenderLmdb)
    ->ArgNames({"accounts", "periodic", "rules"})
    ->Args({1, 0, 0})
    ->Args({1, 1, 0})
    ->Args({10'000, 0, 0})
    ->Args({10'000, 1, 0})
    ->Args({1'000'000, 0, 0})
    ->Args({1'000'000, 1, 0})
    ->Args({10'000, 0, 1})
    ->Args({10'000, 0, 5})
    ->Args({10'000, 0, 64})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// The store's size cost per active account: fills a fresh store and reports
// data.mdb / accounts. (BM_CheckSenderLmdb reports it too, for the sizes it
// uses; this one runs once and does not depend on the timing loop.)
void BM_StoreBytesPerAccount(benchmark::State& state) {
  const uint64_t accounts = static_cast<uint64_t>(state.range(0));
  if (accounts > MaxAccounts()) {
    state.SkipWithError("skipped: SENDERWATCH_BENCH_MAX_ACCOUNTS");
    return;
  }
  const PreparedStore& prepared = Prepared(accounts);
  for (auto _ : state) benchmark::DoNotOptimize(prepared.data_bytes);
  state.counters["accounts"] = static_cast<double>(accounts);
  state.counters["data_mdb_bytes"] = static_cast<double>(prepared.data_bytes);
  state.counters["data_mdb_bytes_per_account"] =
      static_cast<double>(prepared.data_bytes) / static_cast<double>(accounts);
  state.counters["used_bytes_per_account"] =
      static_cast<double>(prepared.used_bytes) / static_cast<double>(accounts);
}
BENCHMARK(BM_StoreBytesPerAccount)->Arg(10'000)->Arg(1'000'000)->Iterations(1);

// The plugin path without Exim: Dispatch(kCheckSender) exactly as the C ABI
// calls it with the snippets' arguments, the built-in default policy from a
// config= file, on a store of 10^4 accounts. Arg: durability (0 none,
// 1 periodic).
class BenchHost final : public exim::Host {
 public:
  explicit BenchHost(std::string spool) : spool_(std::move(spool)) {}
  void LogMain(std::string_view) noexcept override { ++lines_; }
  std::string SpoolDirectory() noexcept override { return spool_; }
  std::string EximUid() noexcept override { return std::to_string(::geteuid()); }
  std::string EximGid() noexcept override { return std::to_string(::getegid()); }
  uint64_t lines() const { return lines_; }

 private:
  std::string spool_;
  uint64_t lines_ = 0;
};

void BM_DispatchCheckSender(benchmark::State& state) {
  // Dispatch keeps its store open for the process, so it gets stores of its
  // own (never one a BM_CheckSenderLmdb benchmark opens).
  static std::map<int64_t, std::unique_ptr<testing::TempDir>> dirs;
  auto& dir = dirs[state.range(0)];
  const bool fresh = dir == nullptr;
  if (fresh) dir = std::make_unique<testing::TempDir>();
  const std::string config = dir->Join("senderwatch.toml");
  if (fresh) {
    FILE* f = std::fopen(config.c_str(), "w");
    if (f == nullptr) {
      state.SkipWithError("cannot write config");
      return;
    }
    std::fprintf(f, "[store]\npath = \"%s/db\"\ndurability = \"%s\"\nmax_size = \"1GiB\"\n",
                 dir->path().c_str(), state.range(0) == 0 ? "none" : "periodic");
    std::fclose(f);
  }
  BenchHost host(dir->path());
  const std::string config_arg = "config=" + config;
  // The arguments exim-snippets/acl-rcpt.conf passes: account, client
  // address, overrides (none), rcpt=, sender=, config=.
  struct Call {
    std::string account, rcpt, sender;
  };
  std::vector<Call> calls;
  for (int i = 0; i < 10'000; ++i) {
    const std::string name = AccountName(static_cast<uint64_t>(i));
    calls.push_back({name, "rcpt=friend" + std::to_string(i % 37) + "@remote.test", "sender=" + name});
  }
  const auto dispatch = [&](const Call& c) {
    const char* argv[] = {c.account.c_str(), "192.0.2.7", "", c.rcpt.c_str(), c.sender.c_str(),
                          config_arg.c_str()};
    return exim::Dispatch(exim::Function::kCheckSender, 6, argv, host);
  };
  if (fresh) {
    for (const auto& c : calls) (void)dispatch(c);
  }
  std::mt19937_64 rng(7);
  std::vector<size_t> order(1 << 16);
  for (auto& o : order) o = rng() % calls.size();
  uint64_t i = 0;
  uint64_t not_ok = 0;
  for (auto _ : state) {
    std::string result = dispatch(calls[order[i++ % order.size()]]);
    if (result != "verdict=ok") ++not_ok;
    benchmark::DoNotOptimize(result);
  }
  if (not_ok != 0 || host.lines() != 0) state.SkipWithError("check_sender did not answer verdict=ok");
}
BENCHMARK(BM_DispatchCheckSender)
    ->ArgName("periodic")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace senderwatch
