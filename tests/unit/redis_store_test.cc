// The Redis store against a private redis-server (testutil/redis_server.h):
// what the contract tests (memory_store_test.cc) do not cover: hostile
// names in keys, atomic counting across processes and "hosts", expiry,
// fork, and failing fast and clearly when Redis is wrong or gone.
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "senderwatch/policy.h"
#include "senderwatch/store.h"
#include "store/redis_connection.h"
#include "store/redis_keys.h"
#include "testutil/redis_server.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

using store_internal::ParseRedisAddress;
using store_internal::RedisConnection;
using store_internal::RedisReply;

constexpr UnixSeconds kNow = 1764237600;  // 2025-11-27T10:00:00Z

// One recipient now; a manual lock now.
const Store::Mutator Count = [](AccountRecord& record) {
  record.first_seen = record.first_seen == 0 ? kNow : record.first_seen;
  record.last_seen = kNow;
  record.Count(Counter::kRecipients, kNow);
  return WriteMode::kSoft;
};
const Store::Mutator Lock = [](AccountRecord& record) {
  record.lock.locked = true;
  record.lock.rule = "manual";
  record.lock.since = record.last_seen = kNow;
  return WriteMode::kDurable;
};

uint64_t Recipients(const AccountRecord& record) {
  return CounterInWindow(record, Counter::kRecipients, 3600, kNow);
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.ok()) << redis_.error();
    settings_.redis = redis_.UnixAddress();
    settings_.redis_password = redis_.password();
    settings_.redis_timeout_ms = testing::RedisServer::kPatientTimeoutMs;
  }

  std::unique_ptr<Store> Open(const StoreSettings& settings) {
    auto store = OpenRedisStore(settings, clock_, logger_);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  std::unique_ptr<Store> Open() { return Open(settings_); }

  // A raw connection, to look at what the store wrote.
  RedisConnection Raw() {
    auto connection = RedisConnection::Connect(*ParseRedisAddress(redis_.UnixAddress()), "",
                                               redis_.password(), 1000);
    EXPECT_TRUE(connection) << connection.error().message;
    return std::move(*connection);
  }

  testing::RedisServer redis_;
  StoreSettings settings_;
  ManualClock clock_{kNow};
  testing::CapturingLogger logger_;
};

TEST_F(RedisStoreTest, HostileNamesStayInsideThePrefix) {
  auto store = Open();
  const std::vector<std::string> names = {
      "*", "senderwatch:locks", std::string("a\0b", 3), "x\r\nFLUSHALL\r\n", "\xff\xfe", "{tag}"};
  for (const auto& name : names) ASSERT_TRUE(store->Update(name, Lock)) << name;
  auto raw = Raw();
  auto keys = raw.Command({"KEYS", "*"});
  ASSERT_TRUE(keys);
  // One hash per name, the lock journal: nothing else, nothing outside.
  EXPECT_EQ(keys->elements.size(), names.size() + 1);
  for (const auto& key : keys->elements) {
    ASSERT_TRUE(key.str.starts_with("senderwatch:")) << key.str;
    if (key.str == "senderwatch:locks") continue;
    ASSERT_TRUE(key.str.starts_with("senderwatch:a:")) << key.str;
    EXPECT_TRUE(store_internal::HexDecode(key.str.substr(14))) << key.str;
  }
  for (const auto& name : names) {
    auto got = store->Get(name);
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->account, name);
    EXPECT_TRUE((*got)->lock.locked);
  }
}

TEST_F(RedisStoreTest, PrefixesSeparateClusters) {
  auto one = Open();
  StoreSettings other = settings_;
  other.redis_prefix = "other:";
  auto two = Open(other);
  ASSERT_TRUE(one->Update("alice", Lock));
  auto seen = two->Get("alice");
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->has_value());
}

TEST_F(RedisStoreTest, TwoHostsShareCountsAndLocks) {
  auto host_a = Open();
  auto host_b = Open();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(host_a->Update("alice", Count));
    ASSERT_TRUE(host_b->Update("alice", Count));
  }
  auto seen = host_a->Get("alice");
  ASSERT_TRUE(seen && *seen);
  EXPECT_EQ(Recipients(**seen), 6u);
  ASSERT_TRUE(host_a->Update("alice", Lock));
  seen = host_b->Get("alice");
  ASSERT_TRUE(seen && *seen);
  EXPECT_TRUE((*seen)->lock.locked);
}

TEST_F(RedisStoreTest, ConcurrentProcessesCountExactly) {
  constexpr int kProcesses = 6;
  constexpr int kEach = 150;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ManualClock clock(kNow);
      NullLogger quiet;
      auto store = OpenRedisStore(settings_, clock, quiet);
      int failures = 0;
      // A failed update says why (a timeout and lost races read differently).
      auto count = [&](const std::string& account) {
        auto counted = (*store)->Modify(account, Count);
        if (counted) return;
        ++failures;
        std::fprintf(stderr, "child %d: %s\n", p, counted.error().message.c_str());
      };
      for (int i = 0; store && i < kEach; ++i) {
        count("hot");
        count("own" + std::to_string(p));
      }
      _exit(store && failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto store = Open();
  auto hot = store->Get("hot");
  ASSERT_TRUE(hot && *hot);
  EXPECT_EQ(Recipients(**hot), uint64_t{kProcesses} * kEach);
  auto own = store->Get("own0");
  ASSERT_TRUE(own && *own);
  EXPECT_EQ(Recipients(**own), uint64_t{kEach});
}

TEST_F(RedisStoreTest, RecordsExpireWithTheRetentionUnlessLocked) {
  auto store = Open();
  ASSERT_TRUE(store->Update("alice", Count));
  ASSERT_TRUE(store->Update("mallory", Lock));
  auto raw = Raw();
  auto ttl = raw.Command({"TTL", "senderwatch:a:" + store_internal::HexEncode("alice")});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, settings_.retention_seconds - 60);
  EXPECT_LE(ttl->integer, settings_.retention_seconds);
  ttl = raw.Command({"TTL", "senderwatch:a:" + store_internal::HexEncode("mallory")});
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->integer, -1);  // a lock without end never expires
  // Released: it expires again.
  ASSERT_TRUE(store->Update("mallory", [](AccountRecord& r) {
    r.lock = LockState{};
    return WriteMode::kDurable;
  }));
  ttl = raw.Command({"TTL", "senderwatch:a:" + store_internal::HexEncode("mallory")});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 0);
}

TEST_F(RedisStoreTest, KeepsHistoryBesideTheRecord) {
  auto store = Open();
  ASSERT_TRUE(store->Update("alice", [](AccountRecord& r) {
    r.last_seen = kNow;
    r.history.head_hour = 490000;
    r.history.recipients[5] = 17;
    return WriteMode::kSoft;
  }));
  auto again = Open();
  auto seen = again->Get("alice");
  ASSERT_TRUE(seen && *seen);
  EXPECT_EQ((*seen)->history.head_hour, 490000u);
  EXPECT_EQ((*seen)->history.recipients[5], 17);
}

TEST_F(RedisStoreTest, ForkedChildMakesItsOwnConnection) {
  auto store = Open();
  ASSERT_TRUE(store->Update("alice", Count));
  std::string out;
  const int code = testing::RunInChild(
      [&](std::string& message) {
        auto counted = store->Update("alice", Count);
        if (!counted) message = counted.error().message;
        return counted ? 0 : 1;
      },
      &out, 10);
  EXPECT_EQ(code, 0) << out;
  auto seen = store->Get("alice");  // the parent's connection still works
  ASSERT_TRUE(seen && *seen) << (seen ? "" : seen.error().message);
  EXPECT_EQ(Recipients(**seen), 2u);
}

TEST_F(RedisStoreTest, WrongPasswordIsAClearOpenError) {
  settings_.redis_password = "wrong";
  auto store = Open();
  auto result = store->Update("alice", Count);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kStoreOpen);
  EXPECT_NE(result.error().message.find("AUTH refused"), std::string::npos) << result.error().message;
  EXPECT_EQ(result.error().message.find("wrong"), std::string::npos) << "the password leaked";
}

TEST_F(RedisStoreTest, NoServerIsAClearOpenError) {
  settings_.redis = "unix:" + redis_.dir() + "/absent.sock";
  auto store = Open();
  auto result = store->Get("alice");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kStoreOpen);
  EXPECT_NE(result.error().message.find("absent.sock: connect"), std::string::npos)
      << result.error().message;
}

// A Redis that accepts but never answers costs the timeout, not a hang.
// (The bound is generous: this checks that the timeout applies at all;
// the cost itself is measured by the benchmarks.)
TEST_F(RedisStoreTest, ServerThatNeverAnswersTimesOut) {
  settings_.redis_timeout_ms = 50;
  auto store = Open();
  ASSERT_TRUE(store->Update("alice", Count));
  redis_.Pause();
  const auto start = std::chrono::steady_clock::now();
  auto result = store->Update("alice", Count);
  const auto took = std::chrono::steady_clock::now() - start;
  redis_.Resume();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kStoreOpen);
  EXPECT_NE(result.error().message.find("no answer within 50ms"), std::string::npos)
      << result.error().message;
  EXPECT_LT(took, std::chrono::seconds(2));
  // And the next call reconnects.
  auto again = store->Update("alice", Count);
  ASSERT_TRUE(again) << again.error().message;
}

TEST(RedisAddress, ParsesSocketsAndUrls) {
  auto unix_socket = ParseRedisAddress("unix:/run/redis/redis.sock");
  ASSERT_TRUE(unix_socket);
  EXPECT_EQ(unix_socket->socket_path, "/run/redis/redis.sock");
  auto tcp = ParseRedisAddress("redis://10.0.0.5:6380/3");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->host, "10.0.0.5");
  EXPECT_EQ(tcp->port, 6380);
  EXPECT_EQ(tcp->db, 3);
  auto v6 = ParseRedisAddress("redis://[::1]");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6379);
  for (const char* bad : {"unix:relative", "http://x", "redis://:6379", "redis://h:0",
                          "redis://h:99999", "redis://h/x", "redis://user:pw@h"}) {
    EXPECT_FALSE(ParseRedisAddress(bad)) << bad;
  }
}

TEST(RedisPolicy, ParsesTheStoreKeys) {
  const std::string text = std::string("[store]\nbackend = \"redis\"\n") +
                           "redis = \"redis://127.0.0.1:6379/2\"\nredis_prefix = \"mx:\"\n" +
                           "redis_timeout = \"20ms\"\n";
  auto policy = ParsePolicy(text, "test");
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(policy->store.backend, StoreBackend::kRedis);
  EXPECT_EQ(policy->store.redis, "redis://127.0.0.1:6379/2");
  EXPECT_EQ(policy->store.redis_prefix, "mx:");
  EXPECT_EQ(policy->store.redis_timeout_ms, 20);
  auto again = ParsePolicy(FormatPolicy(*policy), "formatted");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->store.redis_timeout_ms, 20);
  EXPECT_FALSE(ParsePolicy("[store]\nbackend = \"redis\"\n", "test"));
  EXPECT_FALSE(ParsePolicy("[store]\nbackend = \"mysql\"\n", "test"));
  EXPECT_FALSE(ParsePolicy("[store]\nredis = \"tcp://x\"\n", "test"));
  EXPECT_FALSE(ParsePolicy("[store]\nredis_timeout = \"0ms\"\n", "test"));
}

TEST(RedisPolicy, ReadsThePasswordFileUnderTrustAndNeverPrintsIt) {
  testing::TempDir dir;
  const std::string file = dir.Join("redis.pw");
  {
    std::ofstream out(file);
    out << "exim s3cret\n";
  }
  ::chmod(file.c_str(), 0600);
  const std::string path = dir.Join("senderwatch.toml");
  {
    std::ofstream out(path);
    out << "[store]\nbackend = \"redis\"\nredis = \"unix:/x\"\nredis_password_file = \"" << file
        << "\"\n";
  }
  auto policy = LoadPolicyFile(path, DefaultFileTrust());
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(policy->store.redis_user, "exim");
  EXPECT_EQ(policy->store.redis_password, "s3cret");
  EXPECT_EQ(FormatPolicy(*policy).find("s3cret"), std::string::npos);
  // Writable by others: refused like a policy file.
  ::chmod(file.c_str(), 0666);
  auto refused = LoadPolicyFile(path, DefaultFileTrust());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message.find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace senderwatch
