// check_sender on the Redis store (issue 15): Engine::CheckSender per call
// on LMDB, on Redis over a unix socket and over loopback TCP, with the
// median and the 99th percentile of single calls (a mean hides the tail an
// SMTP session waits for), and the cold cost an Exim process pays on its
// first call: connect, AUTH and one read. Targets (docs/performance.md):
// <= 200 us per call on loopback, a cold connect <= 1 ms.
//
// Starts its own redis-server (testutil/redis_server.h: a temporary
// directory, unix socket and a loopback port, requirepass set); skipped
// where redis-server is not installed.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "senderwatch/engine.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"
#include "testutil/redis_server.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

constexpr uint64_t kAccounts = 10'000;

enum Backend { kLmdb = 0, kRedisUnix = 1, kRedisTcp = 2 };

testing::RedisServer* Server() {
  static std::unique_ptr<testing::RedisServer> server;
  if (!server && testing::RedisServer::Available()) {
    server = std::make_unique<testing::RedisServer>(/*tcp=*/true);
  }
  return server && server->ok() ? server.get() : nullptr;
}

StoreSettings RedisSettings(Backend backend) {
  StoreSettings s;
  s.backend = StoreBackend::kRedis;
  s.redis = backend == kRedisTcp ? Server()->TcpAddress() : Server()->UnixAddress();
  s.redis_password = Server()->password();
  s.redis_timeout_ms = 1000;  // a measurement, not a deployment: never fail over
  return s;
}

std::string Name(uint64_t i) { return "user" + std::to_string(i) + "@example.org"; }
std::string Recipient(uint64_t i) { return "friend" + std::to_string(i % 37) + "@remote.test"; }

// Adds median and p99 of `samples` (nanoseconds) as counters in microseconds.
void ReportPercentiles(benchmark::State& state, std::vector<int64_t>& samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return static_cast<double>(samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1))]) / 1000.0;
  };
  state.counters["median_us"] = at(0.5);
  state.counters["p99_us"] = at(0.99);
}

// Engine::CheckSender as the shipped ACL calls it, one call timed at a time.
void BM_CheckSenderPerCall(benchmark::State& state) {
  const auto backend = static_cast<Backend>(state.range(0));
  if (backend != kLmdb && Server() == nullptr) {
    state.SkipWithError("redis-server is not available");
    return;
  }
  testing::TempDir dir;
  SystemClock clock;
  NullLogger log;
  StoreSettings settings;
  settings.path = dir.Join("db");
  settings.durability = Durability::kNone;
  auto store = backend == kLmdb ? OpenLmdbStore(settings, clock, log)
                                : OpenRedisStore(RedisSettings(backend), clock, log);
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  const Policy policy = DefaultPolicy();
  Engine engine(policy, **store, clock, log);
  for (uint64_t i = 0; i < kAccounts; ++i) {  // every account known, with history
    (void)engine.CheckSender(Name(i), "198.51.100.7", {}, CheckContext{Recipient(i), Name(i)});
  }
  std::mt19937_64 rng(42);
  std::vector<int64_t> samples;
  samples.reserve(1 << 20);
  uint64_t errors = 0;
  for (auto _ : state) {
    const uint64_t a = rng() % kAccounts;
    const std::string name = Name(a);
    const std::string rcpt = Recipient(a);
    const auto start = std::chrono::steady_clock::now();
    auto v = engine.CheckSender(name, "192.0.2.7", {}, CheckContext{rcpt, name});
    samples.push_back((std::chrono::steady_clock::now() - start).count());
    if (!v) ++errors;
    benchmark::DoNotOptimize(v);
  }
  if (errors != 0) state.SkipWithError("CheckSender failed");
  ReportPercentiles(state, samples);
}
BENCHMARK(BM_CheckSenderPerCall)
    ->ArgName("backend")  // 0 lmdb, 1 redis over a unix socket, 2 redis over loopback TCP
    ->Arg(kLmdb)
    ->Arg(kRedisUnix)
    ->Arg(kRedisTcp)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// What a new Exim process pays on its first call: connect, AUTH, one read
// (the store connects lazily, so opening it costs nothing by itself).
void BM_RedisColdConnect(benchmark::State& state) {
  const auto backend = static_cast<Backend>(state.range(0));
  if (Server() == nullptr) {
    state.SkipWithError("redis-server is not available");
    return;
  }
  SystemClock clock;
  NullLogger log;
  const StoreSettings settings = RedisSettings(backend);
  std::vector<int64_t> samples;
  uint64_t errors = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto store = OpenRedisStore(settings, clock, log);
    auto got = store ? (*store)->Get("user1@example.org") : Result<std::optional<AccountRecord>>();
    samples.push_back((std::chrono::steady_clock::now() - start).count());
    if (!store || !got) ++errors;
  }
  if (errors != 0) state.SkipWithError("connect failed");
  ReportPercentiles(state, samples);
}
BENCHMARK(BM_RedisColdConnect)
    ->ArgName("backend")
    ->Arg(kRedisUnix)
    ->Arg(kRedisTcp)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace senderwatch
