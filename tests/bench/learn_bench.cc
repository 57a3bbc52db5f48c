// What learning costs (docs/performance.md, "Learning: store size and
// cost"): the store bytes an account's long-term history adds, and the CPU
// a learned rule adds to each check_sender against the same rule with a
// static limit, on the in-memory store and on LMDB (durability "none").
//
//   build/tests/bench/senderwatch_bench --benchmark_filter='Learn'
//
// Accounts are prepared as a fortnight of traffic leaves them: a full
// 14-day hourly history (336 hours of varied counts), 37 known recipients,
// first seen 14 days ago, so a learned limit reads every hour of its span.
// Each call goes to one of the account's known recipients, so the history
// is read but not rewritten (the steady state of an honest account).
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "senderwatch/engine.h"
#include "senderwatch/history.h"
#include "senderwatch/network.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/store.h"
#include "store/lmdb_env.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

constexpr uint64_t kAccounts = 10'000;
constexpr int kFriends = 37;  // recipients per account, as in BM_DispatchCheckSender

std::string Name(uint64_t i) { return "user" + std::to_string(i) + "@example.org"; }
std::string Friend(uint64_t i) { return "friend" + std::to_string(i % kFriends) + "@remote.test"; }

uint32_t GenerationHours(const Policy& policy) {
  return static_cast<uint32_t>(std::max<int64_t>(policy.learn.span_seconds / 7200, 1));
}

// Fills `store` with kAccounts accounts active in the current hour. With
// `past`, each has 14 days of hourly counts behind it (first seen 14 days
// ago) and its friends in the recipient filter: a full history. Without, it
// is new (first seen now); with `friends` it has already written to its
// friends (so it has a history, the recipient filter), without it has none.
Result<void> Fill(Store& store, UnixSeconds now, bool past, bool friends = true) {
  const Policy policy = DefaultPolicy();
  const auto now_hour = static_cast<uint32_t>(now / 3600);
  ClientNetwork network;
  network.family = 4;
  network.prefix = {198, 51, 100, 0, 0, 0, 0, 0};
  std::mt19937_64 rng(11);
  for (uint64_t i = 0; i < kAccounts; ++i) {
    auto r = store.Update(Name(i), [&](AccountRecord& record) {
      record.Count(Counter::kRecipients, now);
      record.SeeNetwork(network, now);
      for (int f = 0; (past || friends) && f < kFriends; ++f) {
        record.history.NoteRecipient(Friend(static_cast<uint64_t>(f)), now_hour,
                                     GenerationHours(policy));
      }
      if (past) {
        record.first_seen = now - 14 * 86400;
        record.history.head_hour = now_hour - 1;
        for (int h = 0; h < kHistoryHours; ++h) {
          const uint64_t count = (h % 24 >= 8 && h % 24 < 18) ? rng() % 40 : rng() % 3;
          record.history.recipients[static_cast<size_t>(h)] = QuantizeCount(count);
          record.history.bounces[static_cast<size_t>(h)] = QuantizeCount(count / 20);
        }
      }
      return WriteMode::kSoft;
    });
    if (!r) return std::unexpected(r.error());
  }
  return {};
}

StoreSettings LmdbSettings(const std::string& path) {
  StoreSettings s;
  s.path = path;
  s.max_size = uint64_t{1} << 30;
  s.durability = Durability::kNone;
  return s;
}

struct Sizes {
  uint64_t file_bytes = 0;     // size of data.mdb
  uint64_t disk_bytes = 0;     // blocks allocated to it (du)
  uint64_t used_bytes = 0;     // LMDB pages in use
  uint64_t records_bytes = 0;  // pages of the "records" database
  uint64_t history_bytes = 0;  // pages of the "history" database
};

// Pages of the named databases, read as another program would (mdb_stat -a):
// only while no Store of the directory is open in this process.
void DatabasePages(const std::string& path, Sizes& sizes) {
  auto env = lmdb::Env::Create();
  if (!env || !env->SetMaxDbs(4) || !env->Open(path, MDB_RDONLY | MDB_NOTLS, 0660)) return;
  auto txn = lmdb::Txn::Begin(*env, MDB_RDONLY);
  if (!txn) return;
  const auto bytes = [&](const char* name) -> uint64_t {
    auto dbi = txn->OpenDbi(name, 0);
    if (!dbi || !*dbi) return 0;
    auto stat = txn->Stat(**dbi);
    if (!stat) return 0;
    return (stat->ms_branch_pages + stat->ms_leaf_pages + stat->ms_overflow_pages) *
           uint64_t{stat->ms_psize};
  };
  sizes.records_bytes = bytes("records");
  sizes.history_bytes = bytes("history");
}

// The store's bytes per account for kAccounts accounts without a history
// (0: new, counted without rcpt=, so the store keeps no history for them)
// and with a full one (1: 14 days behind each), and the part of them in
// each database. Runs once: it measures size, not time.
void BM_LearnStoreBytesPerAccount(benchmark::State& state) {
  const bool history = state.range(0) != 0;
  senderwatch::testing::TempDir dir;
  SystemClock clock;
  NullLogger log;
  Sizes sizes;
  {
    auto store = OpenLmdbStore(LmdbSettings(dir.Join("db")), clock, log);
    if (!store) {
      state.SkipWithError(store.error().message.c_str());
      return;
    }
    if (auto r = Fill(**store, clock.Now(), /*past=*/history, /*friends=*/false); !r) {
      state.SkipWithError(r.error().message.c_str());
      return;
    }
    if (auto stats = (*store)->Stats()) sizes.used_bytes = stats->used_bytes;
  }
  struct stat st{};
  if (stat(dir.Join("db/data.mdb").c_str(), &st) == 0) {
    sizes.file_bytes = static_cast<uint64_t>(st.st_size);
    sizes.disk_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  }
  DatabasePages(dir.Join("db"), sizes);
  for (auto _ : state) benchmark::DoNotOptimize(sizes);
  const auto per = [](uint64_t bytes) { return static_cast<double>(bytes) / kAccounts; };
  state.counters["accounts"] = static_cast<double>(kAccounts);
  state.counters["data_mdb_bytes_per_account"] = per(sizes.file_bytes);
  state.counters["du_bytes_per_account"] = per(sizes.disk_bytes);
  state.counters["used_bytes_per_account"] = per(sizes.used_bytes);
  state.counters["records_db_bytes_per_account"] = per(sizes.records_bytes);
  state.counters["history_db_bytes_per_account"] = per(sizes.history_bytes);
}
BENCHMARK(BM_LearnStoreBytesPerAccount)->ArgName("history")->Arg(0)->Arg(1)->Iterations(1);

// Engine::CheckSender as the shipped ACL calls it (client address, rcpt=,
// sender=) with the built-in default policy, whose rcpt-rate is learned.
// Args: store (0 memory, 1 LMDB with durability "none"); rule (0: rcpt-rate
// made static, above = 1000; 1: learned, every account with a full history,
// so LearnedLimit reads all 336 hours; 2: learned, accounts too new for it,
// so the fallback applies after a first-seen check).
void BM_LearnCheckSender(benchmark::State& state) {
  const bool lmdb = state.range(0) != 0;
  const int64_t rule = state.range(1);
  Policy policy = DefaultPolicy();
  for (Rule& r : policy.rules) {
    if (r.name == "rcpt-rate" && rule == 0) {
      r.learned = false;
      r.above = 1000;
    }
  }
  senderwatch::testing::TempDir dir;
  SystemClock clock;
  NullLogger log;
  std::unique_ptr<Store> store;
  if (lmdb) {
    auto opened = OpenLmdbStore(LmdbSettings(dir.Join("db")), clock, log);
    if (!opened) {
      state.SkipWithError(opened.error().message.c_str());
      return;
    }
    store = std::move(*opened);
  } else {
    store = NewMemoryStore();
  }
  if (auto r = Fill(*store, clock.Now(), /*past=*/rule != 2); !r) {
    state.SkipWithError(r.error().message.c_str());
    return;
  }
  Engine engine(policy, *store, clock, log);
  struct Call {
    std::string account, rcpt;
  };
  std::vector<Call> calls;
  std::mt19937_64 rng(7);
  for (int i = 0; i < (1 << 16); ++i) {
    const uint64_t a = rng() % kAccounts;
    calls.push_back({Name(a), Friend(rng())});
  }
  uint64_t i = 0;
  uint64_t not_ok = 0;
  for (auto _ : state) {
    const Call& c = calls[i++ % calls.size()];
    auto v = engine.CheckSender(c.account, "198.51.100.7", {}, CheckContext{c.rcpt, c.account});
    if (!v || v->action != Action::kOk) ++not_ok;
    benchmark::DoNotOptimize(v);
  }
  if (not_ok != 0) state.SkipWithError("CheckSender did not answer ok");
  // Confirms which limit the rule used: learned or not.
  auto sample = store->Get(Name(0));
  if (sample && *sample) {
    const auto readings = ReadRules(policy, **sample, clock.Now(), {});
    for (const RuleReading& reading : readings) {
      if (reading.rule->name == "rcpt-rate") {
        state.counters["limit"] = reading.limit;
        state.counters["learned"] = reading.learned ? 1 : 0;
      }
    }
  }
}
BENCHMARK(BM_LearnCheckSender)
    ->ArgNames({"lmdb", "rule"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({0, 2})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace senderwatch
