// Redis with the local LMDB store behind it (OpenConfiguredStore with
// backend "redis"): an outage fails open, is logged once, loses no lock, and
// ends by itself; locks and releases made meanwhile reach Redis when it
// returns.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "senderwatch/locate.h"
#include "senderwatch/store.h"
#include "store/failover_store.h"
#include "testutil/redis_server.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

using store_internal::kRemoteRetrySeconds;

constexpr UnixSeconds kNow = 1764237600;

WriteMode Count(AccountRecord& record) {
  record.last_seen = kNow;
  record.Count(Counter::kRecipients, kNow);
  return WriteMode::kSoft;
}

Store::Mutator LockAt(UnixSeconds at) {
  return [at](AccountRecord& record) {
    record.last_seen = at;
    record.lock.locked = true;
    record.lock.since = at;
    record.lock.rule = "manual";
    return WriteMode::kDurable;
  };
}

Store::Mutator ReleaseAt(UnixSeconds at) {
  return [at](AccountRecord& record) {
    record.lock = LockState{};
    record.last_release.at = at;
    record.evidence_after = at;
    return WriteMode::kDurable;
  };
}

bool IsLocked(Store& store, std::string_view account) {
  auto found = store.Get(account);
  return found && *found && (*found)->lock.locked;
}

// One "host": its own local store directory, the shared Redis.
struct Host {
  Host(const testing::RedisServer& redis, const Clock& clock) {
    settings.backend = StoreBackend::kRedis;
    settings.redis = redis.UnixAddress();
    settings.redis_password = redis.password();
    settings.redis_timeout_ms = testing::RedisServer::kPatientTimeoutMs;
    settings.path = dir.Join("store");
    settings.durability = Durability::kNone;
    auto opened = OpenConfiguredStore(settings, clock, logger);
    EXPECT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
  }
  // The local store alone, as this host would see it during an outage.
  std::unique_ptr<Store> Local(const Clock& clock) {
    StoreSettings local = settings;
    local.backend = StoreBackend::kLmdb;
    store.reset();  // one LMDB environment per process
    auto opened = OpenLmdbStore(local, clock, logger);
    EXPECT_TRUE(opened) << opened.error().message;
    return std::move(*opened);
  }
  testing::TempDir dir;
  StoreSettings settings;
  testing::CapturingLogger logger;
  std::unique_ptr<Store> store;
};

class FailoverStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.ok()) << redis_.error(); }
  testing::RedisServer redis_;
  ManualClock clock_{kNow};
};

TEST_F(FailoverStoreTest, KeepsACopyOfEveryLockRedisShows) {
  Host a(redis_, clock_);
  Host b(redis_, clock_);
  ASSERT_TRUE(a.store->Update("mallory", LockAt(kNow)));
  EXPECT_TRUE(IsLocked(*b.store, "mallory"));  // seen on host b: kept there
  EXPECT_TRUE(IsLocked(*b.Local(clock_), "mallory"));
}

TEST_F(FailoverStoreTest, AReleaseOnOneHostClearsTheCopiesItMeets) {
  Host a(redis_, clock_);
  Host b(redis_, clock_);
  ASSERT_TRUE(a.store->Update("mallory", LockAt(kNow)));
  ASSERT_TRUE(IsLocked(*b.store, "mallory"));
  ASSERT_TRUE(a.store->Update("mallory", ReleaseAt(kNow + 10)));
  EXPECT_FALSE(IsLocked(*b.store, "mallory"));
  EXPECT_FALSE(IsLocked(*b.Local(clock_), "mallory"));
}

TEST_F(FailoverStoreTest, EveryMinuteAHostCopiesLocksItNeverSaw) {
  Host a(redis_, clock_);
  Host b(redis_, clock_);
  ASSERT_TRUE(b.store->Update("alice", Count));  // b pulls now: nothing locked yet
  ASSERT_TRUE(a.store->Update("mallory", LockAt(kNow)));
  ASSERT_TRUE(a.store->Update("trudy", LockAt(kNow)));
  ASSERT_TRUE(b.store->Get("trudy"));  // b sees trudy's lock, keeps a copy
  ASSERT_TRUE(a.store->Update("trudy", ReleaseAt(kNow + 1)));
  clock_.Advance(store_internal::kLockPullSeconds - 1);
  ASSERT_TRUE(b.store->Update("alice", Count));
  {
    auto local = b.Local(clock_);
    EXPECT_FALSE(IsLocked(*local, "mallory")) << "pulled before the minute was over";
  }
  // Another process of host b, once the minute is over: it pulls.
  auto again = OpenConfiguredStore(b.settings, clock_, b.logger);
  ASSERT_TRUE(again);
  clock_.Advance(1);
  ASSERT_TRUE((*again)->Update("alice", Count));
  again->reset();
  auto local = b.Local(clock_);
  EXPECT_TRUE(IsLocked(*local, "mallory"));
  EXPECT_FALSE(IsLocked(*local, "trudy")) << "a copy of a lock released elsewhere survived";
}

TEST_F(FailoverStoreTest, OutageFailsOpenLogsOnceAndKeepsLocks) {
  Host a(redis_, clock_);
  ASSERT_TRUE(a.store->Update("mallory", LockAt(kNow)));
  ASSERT_TRUE(a.store->Update("alice", Count));
  redis_.Stop();
  auto counted = a.store->Update("alice", Count);
  ASSERT_TRUE(counted) << counted.error().message;  // the local store answers
  EXPECT_TRUE(IsLocked(*a.store, "mallory"));
  EXPECT_TRUE(IsLocked(*a.store, "mallory"));
  int outage_lines = 0;
  for (const auto& line : a.logger.lines()) {
    if (line.text.find("using the local store") != std::string::npos) ++outage_lines;
  }
  EXPECT_EQ(outage_lines, 1);
  struct stat st{};
  ASSERT_EQ(::stat((a.settings.path + "/redis.down").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, kNow + kRemoteRetrySeconds);
  auto stats = a.store->Stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->backend, "redis");
  EXPECT_FALSE(stats->reachable);
  EXPECT_NE(stats->problem.find(redis_.UnixAddress()), std::string::npos) << stats->problem;
}

// The back-off file is written aside under a name with the pid in it. A
// FIFO another user of the store directory left at that name used to hang
// the process (root included) in open(2) for good: an SMTP session stuck.
TEST_F(FailoverStoreTest, AFifoAtTheBackoffNameNeitherHangsNorIsWrittenThrough) {
  Host a(redis_, clock_);
  ASSERT_TRUE(a.store->Update("alice", Count));
  redis_.Stop();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string fifo = a.settings.path + "/redis.down.tmp" + std::to_string(::getpid());
    if (::mkfifo(fifo.c_str(), 0666) != 0) _exit(2);
    // A forked child opens its own store (the parent's is left alone).
    (void)a.store.release();
    auto own = OpenConfiguredStore(a.settings, clock_, a.logger);
    if (!own) _exit(3);
    auto counted = (*own)->Update("alice", Count);
    struct stat st{};
    const bool stamped = ::stat((a.settings.path + "/redis.down").c_str(), &st) == 0 &&
                         S_ISREG(st.st_mode) && st.st_mtime == kNow + kRemoteRetrySeconds;
    if (!counted) fprintf(stderr, "child: %s\n", counted.error().message.c_str());
    _exit(counted && stamped ? 0 : 1);
  }
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 200 && done == 0; ++i) {
    done = ::waitpid(child, &status, WNOHANG);
    if (done == 0) ::usleep(50'000);
  }
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "the update hung on the FIFO for 10 s";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: update failed or back-off file not written; 2: mkfifo; 3: open";
}

TEST_F(FailoverStoreTest, OtherProcessesHonourTheBackoff) {
  Host a(redis_, clock_);
  redis_.Stop();
  ASSERT_TRUE(a.store->Update("alice", Count));
  // Another process of the same host: it does not try Redis at all.
  testing::CapturingLogger logger;
  a.store.reset();
  auto second = OpenConfiguredStore(a.settings, clock_, logger);
  ASSERT_TRUE(second);
  ASSERT_TRUE((*second)->Update("alice", Count));
  EXPECT_FALSE(logger.Contains("connect")) << "paid the connect although another process found Redis down";
}

TEST_F(FailoverStoreTest, ReturnsToRedisAndWritesBackLocalLockChanges) {
  Host a(redis_, clock_);
  Host b(redis_, clock_);
  ASSERT_TRUE(a.store->Update("released-during-outage", LockAt(kNow)));
  redis_.Pause();
  // Host a, cut off: locks one account, releases another.
  clock_.Advance(1);
  ASSERT_TRUE(a.store->Update("locked-during-outage", LockAt(kNow + 1)));
  ASSERT_TRUE(a.store->Update("released-during-outage", ReleaseAt(kNow + 1)));
  redis_.Resume();
  // Within the back-off, host a stays local.
  ASSERT_TRUE(a.store->Update("alice", Count));
  EXPECT_FALSE(b.store->Get("alice").value().has_value());
  clock_.Advance(kRemoteRetrySeconds);
  ASSERT_TRUE(a.store->Update("alice", Count));
  EXPECT_TRUE(b.store->Get("alice").value().has_value());
  EXPECT_TRUE(IsLocked(*b.store, "locked-during-outage"));
  EXPECT_FALSE(IsLocked(*b.store, "released-during-outage"));
  EXPECT_TRUE(a.logger.Contains("1 lock change(s)") || a.logger.Contains("2 lock change(s)"));
}

TEST_F(FailoverStoreTest, WriteBackNeverUndoesANewerReleaseOnRedis) {
  AccountRecord local;
  local.lock.locked = true;
  local.lock.since = kNow;
  AccountRecord remote;
  remote.last_release.at = kNow + 5;  // released elsewhere after the local copy was taken
  EXPECT_FALSE(store_internal::LocalLockStateIsNewer(local, remote));
  remote.last_release.at = kNow - 5;
  EXPECT_TRUE(store_internal::LocalLockStateIsNewer(local, remote));
  AccountRecord same = local;
  EXPECT_FALSE(store_internal::LocalLockStateIsNewer(local, same));
}

}  // namespace
}  // namespace senderwatch
