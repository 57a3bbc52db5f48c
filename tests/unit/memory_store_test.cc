// The memory store, and the Store contract every backend must honour: log
// replay (memory), the plugin (LMDB) and a cluster (Redis) have to agree on what Update, Prune
// and ForEach do, or replay would predict locks that never happen.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "senderwatch/store.h"
#include "testutil/redis_server.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

constexpr UnixSeconds kNow = 1764237600;  // 2025-11-27T10:00:00Z
constexpr int64_t kRetention = 7 * 24 * 3600;

WriteMode Touch(AccountRecord& record) {
  record.last_seen = kNow;
  if (record.first_seen == 0) record.first_seen = kNow;
  record.Count(Counter::kRecipients, kNow);
  return WriteMode::kSoft;
}

// Builds the store under test: "memory" or "lmdb" (in a temp directory).
class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = NewMemoryStore(kRetention);
      return;
    }
    StoreSettings settings;
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok()) << redis_->error();
      settings.redis = redis_->UnixAddress();
      settings.redis_password = redis_->password();
      settings.redis_timeout_ms = testing::RedisServer::kPatientTimeoutMs;
      settings.retention_seconds = kRetention;
      auto store = OpenRedisStore(settings, clock_, logger_);
      ASSERT_TRUE(store) << store.error().message;
      store_ = std::move(*store);
      return;
    }
    settings.path = dir_.Join("store");
    settings.durability = Durability::kNone;
    settings.retention_seconds = kRetention;
    auto store = OpenLmdbStore(settings, clock_, logger_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::RedisServer> redis_;
  ManualClock clock_{kNow};
  testing::CapturingLogger logger_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContract, UpdateCreatesAndReturnsTheRecord) {
  auto record = store_->Update("alice", Touch);
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->account, "alice");
  EXPECT_EQ(CounterInWindow(*record, Counter::kRecipients, 3600, kNow), 1u);
  record = store_->Update("alice", Touch);
  ASSERT_TRUE(record);
  EXPECT_EQ(CounterInWindow(*record, Counter::kRecipients, 3600, kNow), 2u);

  const auto stored = store_->Get("alice");
  ASSERT_TRUE(stored);
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ(CounterInWindow(**stored, Counter::kRecipients, 3600, kNow), 2u);
  EXPECT_EQ((*stored)->first_seen, kNow);
}

TEST_P(StoreContract, AbsentAccountIsNotAnError) {
  const auto stored = store_->Get("nobody");
  ASSERT_TRUE(stored);
  EXPECT_FALSE(stored->has_value());
  const auto erased = store_->Erase("nobody");
  ASSERT_TRUE(erased);
  EXPECT_FALSE(*erased);
}

TEST_P(StoreContract, SkipWritesNothing) {
  bool called = false;
  auto record = store_->Update("bob", [&](AccountRecord& r) {
    called = true;
    EXPECT_EQ(r.account, "bob");
    r.last_seen = kNow;
    return WriteMode::kSkip;
  });
  ASSERT_TRUE(record);
  EXPECT_TRUE(called);
  EXPECT_EQ(record->last_seen, kNow);  // the caller sees its change...
  const auto stored = store_->Get("bob");
  ASSERT_TRUE(stored);
  EXPECT_FALSE(stored->has_value());  // ...the store does not
}

TEST_P(StoreContract, ForEachVisitsInByteOrderAndStops) {
  for (const char* name : {"zed", "alice", "\xc3\xa4rger", "bob", "Bob"}) {
    ASSERT_TRUE(store_->Update(name, Touch));
  }
  std::vector<std::string> seen;
  auto report = store_->ForEach([&](const AccountRecord& r) {
    seen.push_back(r.account);
    return true;
  });
  ASSERT_TRUE(report);
  EXPECT_EQ(report->records, 5u);
  EXPECT_EQ(report->undecodable, 0u);
  EXPECT_EQ(seen, (std::vector<std::string>{"Bob", "alice", "bob", "zed", "\xc3\xa4rger"}));

  seen.clear();
  report = store_->ForEach([&](const AccountRecord& r) {
    seen.push_back(r.account);
    return seen.size() < 2;
  });
  ASSERT_TRUE(report);
  EXPECT_EQ(seen.size(), 2u);
}

TEST_P(StoreContract, EraseRemovesTheRecord) {
  ASSERT_TRUE(store_->Update("alice", Touch));
  const auto erased = store_->Erase("alice");
  ASSERT_TRUE(erased);
  EXPECT_TRUE(*erased);
  const auto stored = store_->Get("alice");
  ASSERT_TRUE(stored);
  EXPECT_FALSE(stored->has_value());
}

TEST_P(StoreContract, PruneRemovesOnlyStaleUnlockedRecords) {
  const UnixSeconds old = kNow - kRetention - 10;
  auto at = [](UnixSeconds t, bool locked, UnixSeconds until) {
    return [=](AccountRecord& r) {
      r.last_seen = t;
      r.lock.locked = locked;
      r.lock.since = locked ? t : 0;
      r.lock.until = until;
      return WriteMode::kSoft;
    };
  };
  ASSERT_TRUE(store_->Update("fresh", at(kNow - 60, false, 0)));
  ASSERT_TRUE(store_->Update("stale", at(old, false, 0)));
  ASSERT_TRUE(store_->Update("stale-locked", at(old, true, 0)));
  ASSERT_TRUE(store_->Update("stale-lock-ended", at(old, true, kNow - 1)));
  ASSERT_TRUE(store_->Update("stale-lock-running", at(old, true, kNow + 3600)));
  ASSERT_TRUE(store_->Update("edge", at(kNow - kRetention, false, 0)));  // not older

  const auto report = store_->Prune(kNow);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->examined, 6u);
  EXPECT_EQ(report->removed, 2u);
  EXPECT_GT(report->bytes_freed, 0u);
  std::vector<std::string> left;
  ASSERT_TRUE(store_->ForEach([&](const AccountRecord& r) {
    left.push_back(r.account);
    return true;
  }));
  EXPECT_EQ(left, (std::vector<std::string>{"edge", "fresh", "stale-lock-running",
                                            "stale-locked"}));
}

// Enough names to grow the memory store's hash index several times, with
// removals by Erase and by Prune in between: every name still finds its own
// record, and a removed name none (nor a stale one when it comes back).
TEST_P(StoreContract, FindsEveryRecordAfterGrowthEraseAndPrune) {
  const UnixSeconds old = kNow - kRetention - 10;
  const auto name = [](int i) { return "user" + std::to_string(i) + "@example.net"; };
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(store_->Update(name(i), [&](AccountRecord& r) {
      r.last_seen = i % 3 == 0 ? old : kNow;  // every third is pruned
      r.lock_count = static_cast<uint32_t>(i);
      return WriteMode::kSoft;
    }));
  }
  for (int i = 1; i < 300; i += 3) ASSERT_TRUE(store_->Erase(name(i)));
  const auto report = store_->Prune(kNow);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->removed, 100u);
  for (int i = 0; i < 300; ++i) {
    const auto stored = store_->Get(name(i));
    ASSERT_TRUE(stored) << stored.error().message;
    if (i % 3 == 2) {
      ASSERT_TRUE(stored->has_value()) << name(i);
      EXPECT_EQ((*stored)->account, name(i));
      EXPECT_EQ((*stored)->lock_count, static_cast<uint32_t>(i));
    } else {
      EXPECT_FALSE(stored->has_value()) << name(i);
    }
  }
  const auto back = store_->Update(name(0), Touch);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->lock_count, 0u);
}

TEST_P(StoreContract, RejectsEmptyAndOverlongKeys) {
  auto empty = store_->Update("", Touch);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::kInvalidArgument);
  auto huge = store_->Get(std::string(512, 'a'));
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(store_->Update(std::string(511, 'a'), Touch));
}

TEST_P(StoreContract, StatsCountRecordsAndLocks) {
  ASSERT_TRUE(store_->Update("a", Touch));
  ASSERT_TRUE(store_->Update("b", [](AccountRecord& r) {
    r.last_seen = kNow - 100;
    r.lock.locked = true;
    r.lock.since = kNow - 100;
    return WriteMode::kDurable;
  }));
  const auto stats = store_->Stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->records, 2u);
  EXPECT_EQ(stats->locked, 1u);
  EXPECT_EQ(stats->oldest_activity, kNow - 100);
  EXPECT_EQ(stats->location, store_->Location());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("memory", "lmdb", "redis"),
                         [](const auto& test_param) { return test_param.param; });

TEST(MemoryStore, NamesItselfMemory) {
  auto store = NewMemoryStore();
  EXPECT_EQ(store->Location(), "memory");
}

TEST(MemoryStore, ReturnsCopiesNotReferences) {
  auto store = NewMemoryStore();
  auto record = store->Update("alice", Touch);
  ASSERT_TRUE(record);
  record->lock.locked = true;  // changing the copy changes nothing stored
  const auto stored = store->Get("alice");
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_FALSE((*stored)->lock.locked);
}

}  // namespace
}  // namespace senderwatch
