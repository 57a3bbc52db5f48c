// Failed logins of names that never sent (issue 9, item 5): they are kept
// in a bounded table of provisional records, not as records, so invented
// user names cannot crowd out real accounts; their counts and locks join the
// record when the name sends. Every behaviour is checked against both
// stores, which must give the same verdicts.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "senderwatch/engine.h"
#include "senderwatch/store.h"
#include "senderwatch/verdict.h"
#include "store/lock_journal.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

using testing::CapturingLogger;
using testing::TempDir;

constexpr UnixSeconds kT0 = 1'790'000'000;

Rule MakeRule(std::string name, Metric metric, double above, Action action) {
  Rule rule;
  rule.name = std::move(name);
  rule.metric = metric;
  rule.window_seconds = 3600;
  rule.above = above;
  rule.action = action;
  return rule;
}

// Locks a sender after 2 recipients in an hour, and a name after
// `guesses` failed logins.
Policy GuessingPolicy(double guesses, uint64_t provisional_records) {
  Policy policy = DefaultPolicy();
  policy.rules = {MakeRule("two-is-enough", Metric::kRecipients, 2, Action::kLock),
                  MakeRule("guessing", Metric::kAuthfails, guesses, Action::kLock)};
  policy.store.durability = Durability::kNone;
  policy.store.provisional_records = provisional_records;
  return policy;
}

enum class Backend { kMemory, kLmdb };

// One store of either kind with an engine over it.
class Fixture {
 public:
  Fixture(Backend backend, const Policy& policy, const TempDir& dir) : policy_(policy) {
    if (backend == Backend::kMemory) {
      store_ = NewMemoryStore(policy_.store);
    } else {
      policy_.store.path = dir.Join("store");
      auto opened = OpenLmdbStore(policy_.store, clock_, log_);
      if (!opened) throw std::runtime_error(opened.error().message);
      store_ = std::move(*opened);
    }
    engine_ = std::make_unique<Engine>(policy_, *store_, clock_, log_);
  }
  Engine& engine() { return *engine_; }
  Store& store() { return *store_; }
  ManualClock& clock() { return clock_; }
  CapturingLogger& log() { return log_; }
  const std::string& path() const { return policy_.store.path; }

  void Authfail(std::string_view user) {
    auto r = engine_->RecordAuthfail(user, "198.51.100.7");
    ASSERT_TRUE(r) << r.error().message;
  }
  Verdict Check(std::string_view account) {
    auto v = engine_->CheckSender(account, "192.0.2.1");
    EXPECT_TRUE(v) << v.error().message;
    return v.value_or(Verdict{});
  }
  Verdict Peek(std::string_view account) {
    auto v = engine_->PeekSender(account);
    EXPECT_TRUE(v) << v.error().message;
    return v.value_or(Verdict{});
  }
  uint64_t Records() {
    uint64_t n = 0;
    auto scan = store_->ForEach([&](const AccountRecord&) { return ++n, true; });
    EXPECT_TRUE(scan) << scan.error().message;
    return n;
  }
  uint64_t Provisional() {
    auto stats = store_->Stats();
    EXPECT_TRUE(stats) << stats.error().message;
    return stats ? stats->provisional : 0;
  }
  uint64_t Authfails(std::string_view account) {
    auto got = store_->Get(account);
    EXPECT_TRUE(got) << got.error().message;
    if (!got || !got->has_value()) return 0;
    return CounterInWindow(**got, Counter::kAuthfails, 3600, clock_.Now());
  }

 private:
  Policy policy_;
  ManualClock clock_{kT0};
  CapturingLogger log_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Engine> engine_;
};

class Provisional : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<Fixture> Make(const Policy& policy) {
    return std::make_unique<Fixture>(GetParam(), policy, dir_);
  }
  TempDir dir_;
};

std::string Name(std::string_view prefix, int i) {
  return std::string(prefix) + "-" + std::to_string(i) + "@example.org";
}

TEST_P(Provisional, FailedLoginsOfUnknownNamesMakeNoRecord) {
  auto f = Make(GuessingPolicy(20, 1000));
  for (int i = 0; i < 3; ++i) f->Authfail("ghost@example.org");
  EXPECT_EQ(f->Records(), 0u);
  EXPECT_EQ(f->Provisional(), 1u);
  EXPECT_EQ(f->Authfails("ghost@example.org"), 3u);  // Get sees it
  // A name with a record counts in the record, as before.
  f->Check("alice@example.org");
  f->Authfail("alice@example.org");
  EXPECT_EQ(f->Records(), 1u);
  EXPECT_EQ(f->Provisional(), 1u);
  EXPECT_EQ(f->Authfails("alice@example.org"), 1u);
}

TEST_P(Provisional, TableIsCappedAndAFloodEvictsItselfBeforeAGuessedName) {
  auto f = Make(GuessingPolicy(20, 200));
  for (int i = 0; i < 5; ++i) f->Authfail("bob@example.org");
  for (int i = 0; i < 20000; ++i) {
    f->Authfail(Name("invented", i));
    if (i % 1000 == 0) f->clock().Advance(1);
  }
  EXPECT_LE(f->Provisional(), 200u);
  EXPECT_GE(f->Provisional(), 200u - 200u / 16);
  EXPECT_EQ(f->Records(), 0u);
  EXPECT_EQ(f->Authfails("bob@example.org"), 5u);   // kept: being guessed at
  EXPECT_EQ(f->Authfails(Name("invented", 0)), 0u);  // evicted
}

TEST_P(Provisional, FailedLoginsJoinTheRecordWhenTheNameSends) {
  auto f = Make(GuessingPolicy(20, 1000));
  for (int i = 0; i < 3; ++i) f->Authfail("carol@example.org");
  EXPECT_EQ(f->Check("carol@example.org").action, Action::kOk);
  EXPECT_EQ(f->Records(), 1u);
  EXPECT_EQ(f->Provisional(), 0u);
  EXPECT_EQ(f->Authfails("carol@example.org"), 3u);
  f->Authfail("carol@example.org");
  EXPECT_EQ(f->Authfails("carol@example.org"), 4u);
}

TEST_P(Provisional, LockOfANameThatNeverSentHoldsAndJoinsTheRecord) {
  auto f = Make(GuessingPolicy(2, 1000));
  for (int i = 0; i < 3; ++i) f->Authfail("dave@example.org");
  EXPECT_TRUE(f->log().Contains("account dave@example.org locked by rule guessing"));
  EXPECT_EQ(f->Records(), 0u);
  EXPECT_EQ(f->Peek("dave@example.org").action, Action::kLock);
  f->clock().Advance(2 * 24 * 3600);  // the evidence is gone; the lock is not
  EXPECT_EQ(f->Peek("dave@example.org").action, Action::kLock);
  // The password was guessed: the name sends, and is locked.
  const Verdict v = f->Check("dave@example.org");
  EXPECT_EQ(v.action, Action::kLock);
  EXPECT_EQ(v.rule, "guessing");
  EXPECT_EQ(f->Records(), 1u);
  EXPECT_EQ(f->Provisional(), 0u);
  if (GetParam() == Backend::kLmdb) {
    // Now a record's lock, it is in the lock journal.
    auto journal = store_internal::ReadJournal(f->path());
    ASSERT_TRUE(journal) << journal.error().message;
    ASSERT_EQ(journal->entries.size(), 1u);
    EXPECT_EQ(journal->entries[0].account, "dave@example.org");
  }
}

// A flood of invented names each reaching the lock: the locks stay in the
// bounded table, never become records, never reach the lock journal.
TEST_P(Provisional, LocksOfInventedNamesAreBoundedToo) {
  auto f = Make(GuessingPolicy(0, 64));
  for (int i = 0; i < 3; ++i) f->Check("eve@example.org");  // a real lock
  for (int i = 0; i < 500; ++i) f->Authfail(Name("locked", i));
  EXPECT_LE(f->Provisional(), 64u);
  EXPECT_EQ(f->Records(), 1u);
  EXPECT_EQ(f->Check("eve@example.org").action, Action::kLock);
  // The newest locks are kept, the oldest went.
  EXPECT_EQ(f->Peek(Name("locked", 499)).action, Action::kLock);
  EXPECT_EQ(f->Peek(Name("locked", 0)).action, Action::kOk);
  if (GetParam() == Backend::kLmdb) {
    auto journal = store_internal::ReadJournal(f->path());
    ASSERT_TRUE(journal) << journal.error().message;
    EXPECT_EQ(journal->entries.size(), 1u);  // eve only
  }
}

TEST_P(Provisional, PruneAndEraseRemoveProvisionalRecords) {
  auto f = Make(GuessingPolicy(20, 1000));
  f->Authfail("old@example.org");
  f->clock().Advance(8 * 24 * 3600);
  f->Authfail("new@example.org");
  auto pruned = f->store().Prune(f->clock().Now());
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(pruned->removed, 1u);
  EXPECT_EQ(f->Provisional(), 1u);
  auto erased = f->store().Erase("new@example.org");
  ASSERT_TRUE(erased) << erased.error().message;
  EXPECT_TRUE(*erased);
  EXPECT_EQ(f->Provisional(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Stores, Provisional,
                         ::testing::Values(Backend::kMemory, Backend::kLmdb),
                         [](const auto& param_info) {
                           return param_info.param == Backend::kMemory ? "Memory" : "Lmdb";
                         });

// The same events, through an engine over each store, give the same
// verdicts for every name, evictions included (log replay uses the memory
// store to tell what the plugin would have done).
TEST(ProvisionalStores, MemoryAndLmdbGiveTheSameVerdicts) {
  TempDir dir;
  const Policy policy = GuessingPolicy(3, 150);
  Fixture memory(Backend::kMemory, policy, dir);
  Fixture lmdb(Backend::kLmdb, policy, dir);
  std::mt19937 random(9);
  std::vector<std::string> names;
  for (int i = 0; i < 600; ++i) names.push_back(Name("n", i));
  for (int step = 0; step < 20000; ++step) {
    const std::string& name = names[random() % (step < 10000 ? 600 : 60)];
    const bool sends = random() % 50 == 0;
    for (Fixture* f : {&memory, &lmdb}) {
      if (sends) {
        f->Check(name);
      } else {
        f->Authfail(name);
      }
      if (step % 97 == 0) f->clock().Advance(61);
    }
  }
  int locked = 0;
  for (const auto& name : names) {
    const Verdict a = memory.Peek(name);
    const Verdict b = lmdb.Peek(name);
    EXPECT_EQ(FormatVerdict(a), FormatVerdict(b)) << name;
    locked += a.action == Action::kLock;
  }
  EXPECT_GT(locked, 0);
  EXPECT_EQ(memory.Records(), lmdb.Records());
  EXPECT_EQ(memory.Provisional(), lmdb.Provisional());
}

// When the map fills up, provisional records make room: real records and
// a lock are still written.
TEST(ProvisionalLmdb, AFullMapEvictsProvisionalRecordsForRealOnesAndLocks) {
  TempDir dir;
  Policy policy = GuessingPolicy(20, 100000);
  policy.store.max_size = uint64_t{256} << 10;  // cap: 64 entries
  Fixture f(Backend::kLmdb, policy, dir);
  const std::string padding(200, 'x');
  for (int i = 0; i < 64; ++i) f.Authfail(Name("guess" + padding, i));
  ASSERT_EQ(f.Provisional(), 64u);
  auto real = [&](int i) { return Name("real" + padding, i); };
  int written = 0;
  while (f.Provisional() == 64 && written < 5000) {
    auto v = f.engine().CheckSender(real(written), "192.0.2.1");
    ASSERT_TRUE(v) << "record " << written << ": " << v.error().message;
    ++written;
  }
  ASSERT_LT(written, 5000) << "the map never filled";
  EXPECT_TRUE(f.log().Contains("evicted")) << "no eviction logged";
  // The map is full: new records and a lock still get in.
  for (int i = 0; i < 10; ++i) {
    auto v = f.engine().CheckSender(real(written + i), "192.0.2.1");
    EXPECT_TRUE(v) << v.error().message;
  }
  for (int i = 0; i < 2; ++i) f.Check(real(0));
  auto got = f.store().Get(real(0));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_TRUE((*got)->lock.locked);
}

}  // namespace
}  // namespace senderwatch
