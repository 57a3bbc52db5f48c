// `senderwatch learn`: the replay into a store of its own (Replayer over a
// borrowed Store), the merge into the real store (MergeLearned,
// MergeReplayed), and the verb end to end on an LMDB store, with `show` and
// `top` marking the learned limit.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/commands.h"
#include "eximlog/joiner.h"
#include "eximlog/learn.h"
#include "eximlog/replay.h"
#include "senderwatch/engine.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"
#include "senderwatch/verdict.h"
#include "testutil/testutil.h"

namespace senderwatch::eximlog {
namespace {

constexpr UnixSeconds kT0 = 1795737600;  // 2026-11-27T00:00:00Z, a Friday
constexpr UnixSeconds kHour = 3600;
constexpr UnixSeconds kDay = 24 * kHour;

// The policy of the end-to-end test: one learned recipients rule, a short
// history requirement.
Policy LearnedPolicy() {
  Policy policy = DefaultPolicy();
  Rule rule;
  rule.name = "rcpt-rate";
  rule.metric = Metric::kRecipients;
  rule.window_seconds = 3600;
  rule.above = 30;  // the fallback
  rule.learned = true;
  rule.floor = 5;
  rule.action = Action::kDefer;
  policy.rules = {rule};
  policy.learn.min_history_seconds = kDay;
  policy.learn.min_active_hours = 4;
  return policy;
}

// Replays `per_hour` recipients of `account` in every hour of
// [from, to) into `replayer`, ten minutes into the hour.
void Hours(Replayer& replayer, AccountRef account, UnixSeconds from, UnixSeconds to,
           int per_hour) {
  for (UnixSeconds h = from; h < to; h += kHour) {
    for (int i = 0; i < per_hour; ++i) {
      replayer.OnRecipient(h + 600, account, "192.0.2.1", std::string(account.name) + "@example.test",
                           "friend" + std::to_string(i) + "@remote.test");
    }
  }
}

AccountRecord Get(Store& store, std::string_view account) {
  auto r = store.Get(account);
  EXPECT_TRUE(r && r->has_value()) << account;
  return r && r->has_value() ? **r : AccountRecord{};
}

double LimitOf(const Policy& policy, const AccountRecord& record, UnixSeconds now) {
  return ReadRules(policy, record, now, {}).front().limit;
}

class LearnTest : public ::testing::Test {
 protected:
  LearnTest()
      : counting_(CountingPolicy(policy_)),
        replayed_(NewMemoryStore()),
        replayer_(counting_, *replayed_, log_),
        store_(NewMemoryStore()) {}

  // The real store's engine, as the plugin would run at `now`.
  Result<Verdict> Check(std::string_view account, UnixSeconds now) {
    ManualClock clock(now);
    Engine engine(policy_, *store_, clock, log_);
    return engine.CheckSender(account, "192.0.2.1");
  }

  LearnReport Merge(UnixSeconds now, bool dry_run = false) {
    MergeOptions options;
    options.now = now;
    options.dry_run = dry_run;
    options.on_account = [&](const LearnedAccount& a) { accounts_.push_back(a); };
    auto report = MergeReplayed(*replayed_, *store_, policy_, options);
    EXPECT_TRUE(report) << report.error().message;
    return report ? *report : LearnReport{};
  }

  Policy policy_ = LearnedPolicy();
  Policy counting_;
  NullLogger log_;
  std::unique_ptr<Store> replayed_;
  Replayer replayer_;
  std::unique_ptr<Store> store_;
  std::vector<LearnedAccount> accounts_;
};

TEST_F(LearnTest, ReplayerCountsIntoTheStoreItIsGiven) {
  Hours(replayer_, AccountRef{0, "ordinary"}, kT0, kT0 + 3 * kHour, 4);
  const AccountRecord r = Get(*replayed_, "ordinary");
  EXPECT_EQ(r.first_seen, kT0 + 600);
  EXPECT_EQ(CounterInWindow(r, Counter::kRecipients, 24 * 3600, kT0 + 3 * kHour), 12u);
  EXPECT_EQ(replayer_.Summary().accounts, 1u);
}

TEST_F(LearnTest, CountingPolicyNeverDefersOrLocks) {
  EXPECT_TRUE(counting_.rules.empty());
  EXPECT_EQ(counting_.learn.min_active_hours, 4u);  // learning settings kept
  Hours(replayer_, AccountRef{0, "spammer"}, kT0, kT0 + kHour, 5000);
  for (int i = 0; i < 500; ++i) replayer_.OnBounce(kT0 + 700, AccountRef{0, "spammer"}, "x@y", "");
  const ReplaySummary summary = replayer_.Summary();
  EXPECT_EQ(summary.deferred_accounts + summary.locked_accounts + summary.warned_accounts, 0u);
  EXPECT_FALSE(Get(*replayed_, "spammer").lock.locked);
}

TEST_F(LearnTest, NewAccountGetsItsWholeHistoryAndALearnedLimit) {
  const UnixSeconds now = kT0 + 3 * kDay + 2 * kHour;
  Hours(replayer_, AccountRef{0, "ordinary"}, kT0, kT0 + 3 * kDay, 4);
  Hours(replayer_, AccountRef{1, "heavy"}, kT0, kT0 + 3 * kDay, 50);
  const LearnReport report = Merge(now);
  EXPECT_EQ(report.accounts, 2u);
  EXPECT_EQ(report.added, 2u);
  EXPECT_EQ(report.hours_new, 2u * 72);
  EXPECT_EQ(report.with_learned_limit, 2u);

  const AccountRecord ordinary = Get(*store_, "ordinary");
  EXPECT_EQ(ordinary.first_seen, kT0 + 600);
  EXPECT_DOUBLE_EQ(LimitOf(policy_, ordinary, now), 12);  // 3 x 4
  EXPECT_TRUE(ReadRules(policy_, ordinary, now, {}).front().learned);
  EXPECT_DOUBLE_EQ(LimitOf(policy_, Get(*store_, "heavy"), now), 150);  // 3 x 50, above 30

  // The plugin, from here on: ordinary is deferred after 12 in an hour,
  // far below the static 30; heavy sends 60 without a defer.
  for (int i = 0; i < 12; ++i) ASSERT_EQ(Check("ordinary", now)->action, Action::kOk) << i;
  EXPECT_EQ(Check("ordinary", now)->action, Action::kDefer);
  for (int i = 0; i < 60; ++i) ASSERT_EQ(Check("heavy", now)->action, Action::kOk) << i;
}

TEST_F(LearnTest, WithoutLearningTheSameAccountsGetTheFallback) {
  // The control for the test above: the store alone knows nothing.
  const UnixSeconds now = kT0 + 3 * kDay + 2 * kHour;
  for (int i = 0; i < 30; ++i) ASSERT_EQ(Check("ordinary", now)->action, Action::kOk) << i;
  EXPECT_EQ(Check("ordinary", now)->action, Action::kDefer);
  EXPECT_FALSE(ReadRules(policy_, Get(*store_, "ordinary"), now, {}).front().learned);
}

TEST_F(LearnTest, KnownAccountGetsOnlyTheHoursBeforeItsFirstActivity) {
  // The plugin has counted ordinary for the last two hours; the logs cover
  // the three days before and those same two hours.
  const UnixSeconds plugin_start = kT0 + 3 * kDay;
  const UnixSeconds now = plugin_start + 2 * kHour - 60;
  for (UnixSeconds t = plugin_start + 60; t < now; t += 600) ASSERT_TRUE(Check("ordinary", t));
  const AccountRecord before = Get(*store_, "ordinary");
  EXPECT_FALSE(ReadRules(policy_, before, now, {}).front().learned);
  Hours(replayer_, AccountRef{0, "ordinary"}, kT0, now, 4);

  const LearnReport report = Merge(now);
  EXPECT_EQ(report.extended, 1u);
  EXPECT_EQ(report.hours_extended, 72u);  // not the two hours the plugin saw
  const AccountRecord after = Get(*store_, "ordinary");
  EXPECT_EQ(after.first_seen, kT0 + 600);
  // The windows hold exactly what the plugin counted: nothing old landed in
  // the current slots.
  for (int64_t window : {int64_t{600}, int64_t{3600}, int64_t{7200}}) {
    EXPECT_EQ(CounterInWindow(after, Counter::kRecipients, window, now),
              CounterInWindow(before, Counter::kRecipients, window, now))
        << window;
  }
  EXPECT_TRUE(ReadRules(policy_, after, now, {}).front().learned);
  // 6 an hour in the plugin's own hours, 4 before: p99 of every hour is 6.
  EXPECT_DOUBLE_EQ(LimitOf(policy_, after, now), 18);
}

TEST_F(LearnTest, MergingTheSameLogsTwiceAddsNothing) {
  const UnixSeconds now = kT0 + 3 * kDay + 2 * kHour;
  Hours(replayer_, AccountRef{0, "ordinary"}, kT0, kT0 + 3 * kDay, 4);
  Merge(now);
  const AccountRecord once = Get(*store_, "ordinary");
  const LearnReport again = Merge(now);
  EXPECT_EQ(again.up_to_date, 1u);
  EXPECT_EQ(again.added + again.extended, 0u);
  const AccountRecord twice = Get(*store_, "ordinary");
  EXPECT_EQ(EncodeRecord(twice), EncodeRecord(once));
  EXPECT_EQ(EncodeHistory(twice.history), EncodeHistory(once.history));
}

TEST_F(LearnTest, OlderLogsLengthenTheHistoryOfAStoreThatAlreadyLearned) {
  // First the recent logs, then older ones: the second merge adds only the
  // older days, to the history, at their own hours.
  const UnixSeconds now = kT0 + 6 * kDay + kHour;
  Hours(replayer_, AccountRef{0, "ordinary"}, kT0 + 3 * kDay, kT0 + 6 * kDay, 4);
  Merge(now);
  auto older = NewMemoryStore();
  Replayer older_replayer(counting_, *older, log_);
  Hours(older_replayer, AccountRef{0, "ordinary"}, kT0, kT0 + 3 * kDay, 10);
  MergeOptions options;
  options.now = now;
  auto report = MergeReplayed(*older, *store_, policy_, options);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->extended, 1u);
  EXPECT_EQ(report->hours_extended, 72u);
  const AccountRecord r = Get(*store_, "ordinary");
  EXPECT_EQ(r.first_seen, kT0 + 600);
  EXPECT_EQ(r.history.HourCount(Counter::kRecipients, static_cast<uint32_t>((kT0 + kDay) / kHour)), 10u);
  EXPECT_EQ(r.history.HourCount(Counter::kRecipients, static_cast<uint32_t>((kT0 + 4 * kDay) / kHour)), 4u);
  EXPECT_DOUBLE_EQ(LimitOf(policy_, r, now), 30);  // 3 x 10: the older, busier days count
}

TEST_F(LearnTest, HoursWithinTheLastDayGoIntoTheExactHourRing) {
  // The plugin started an hour ago; the logs hold the 20 hours before it.
  const UnixSeconds plugin_start = kT0 + 2 * kDay;
  const UnixSeconds now = plugin_start + kHour;
  ASSERT_TRUE(Check("ordinary", plugin_start + 60));
  Hours(replayer_, AccountRef{0, "ordinary"}, plugin_start - 20 * kHour, plugin_start, 4);
  EXPECT_EQ(Merge(now).extended, 1u);
  const AccountRecord r = Get(*store_, "ordinary");
  EXPECT_EQ(CounterInWindow(r, Counter::kRecipients, 24 * 3600, now), 81u);
  EXPECT_EQ(CounterInWindow(r, Counter::kRecipients, 3600, now), 1u);
  EXPECT_EQ(r.hours.Sum(Counter::kRecipients, static_cast<uint32_t>((plugin_start - kHour) / kHour),
                        static_cast<uint32_t>((plugin_start - kHour) / kHour)),
            4u);
}

TEST_F(LearnTest, FailedLoginsOnlyAndStaleAccountsAreNotWritten) {
  const UnixSeconds now = kT0 + 30 * kDay;
  replayer_.OnAuthfail(now - kHour, AccountRef{0, "guessed"}, "203.0.113.9");
  Hours(replayer_, AccountRef{1, "gone"}, kT0, kT0 + kDay, 4);  // 29 days ago: retention is 7d
  Hours(replayer_, AccountRef{2, "recent"}, now - 2 * kDay, now - kHour, 4);
  const LearnReport report = Merge(now);
  // A name with failed logins only has a provisional record, which the
  // merge never visits.
  EXPECT_EQ(report.no_mail, 0u);
  EXPECT_EQ(report.stale, 1u);
  EXPECT_EQ(report.added, 1u);
  EXPECT_FALSE(*store_->Get("guessed"));
  EXPECT_FALSE(*store_->Get("gone"));
  EXPECT_TRUE(*store_->Get("recent"));
  ASSERT_EQ(accounts_.size(), 2u);
}

TEST_F(LearnTest, LogsOfYearsCountOnlyTheHoursTheHistoryHolds) {
  // One recipient 400 days ago, then three days of mail: the history holds
  // 14 days, so the old hour is gone; the account is still known since then.
  const UnixSeconds now = kT0 + 3 * kDay + kHour;
  replayer_.OnRecipient(kT0 - 400 * kDay, AccountRef{0, "old"}, "192.0.2.1", "", "x@y.test");
  Hours(replayer_, AccountRef{0, "old"}, kT0, kT0 + 3 * kDay, 4);
  const LearnReport report = Merge(now);
  EXPECT_EQ(report.added, 1u);
  EXPECT_EQ(report.hours_new, 72u);
  EXPECT_EQ(Get(*store_, "old").first_seen, kT0 - 400 * kDay);
}

TEST_F(LearnTest, DryRunWritesNothing) {
  Hours(replayer_, AccountRef{0, "ordinary"}, kT0, kT0 + 3 * kDay, 4);
  const LearnReport report = Merge(kT0 + 3 * kDay, /*dry_run=*/true);
  EXPECT_EQ(report.added, 1u);
  EXPECT_EQ(report.with_learned_limit, 1u);
  EXPECT_FALSE(*store_->Get("ordinary"));
}

TEST_F(LearnTest, ALockStaysAndTheRecipientFilterIsMerged) {
  const UnixSeconds now = kT0 + 3 * kDay;
  {
    ManualClock clock(now - kHour);
    Engine engine(policy_, *store_, clock, log_);
    ASSERT_TRUE(engine.Lock("ordinary", "phished", "jane"));  // first_seen: the lock
  }
  for (UnixSeconds h = kT0; h < now - 2 * kHour; h += kHour) {
    replayer_.OnRecipient(h + 60, AccountRef{0, "ordinary"}, "192.0.2.1", "", "old@friend.test");
  }
  EXPECT_EQ(Merge(now).extended, 1u);
  const AccountRecord r = Get(*store_, "ordinary");
  EXPECT_TRUE(r.IsLocked(now));
  EXPECT_EQ(r.lock.by, "jane");
  EXPECT_EQ(r.first_seen, kT0 + 60);
  // The recipient the logs knew is no longer new to the account.
  AccountRecord copy = r;
  const auto generation_hours = static_cast<uint32_t>(policy_.learn.span_seconds / 7200);
  EXPECT_FALSE(copy.history.NoteRecipient("old@friend.test", static_cast<uint32_t>(now / kHour),
                                          generation_hours));
  EXPECT_TRUE(copy.history.NoteRecipient("new@stranger.test", static_cast<uint32_t>(now / kHour),
                                         generation_hours));
}

// A store whose record of one account cannot be decoded, or that fails
// outright: the seams the merge must handle.
class FaultyStore final : public Store {
 public:
  FaultyStore(Store& inner, std::string undecodable, bool broken = false)
      : inner_(inner), undecodable_(std::move(undecodable)), broken_(broken) {}
  Result<AccountRecord> Update(std::string_view account, const Mutator& mutate) override {
    if (broken_) return MakeError(ErrorKind::kStoreIo, "mdb_put: EIO");
    if (account == undecodable_) return MakeError(ErrorKind::kStoreCorrupt, "undecodable record");
    return inner_.Update(account, mutate);
  }
  Result<void> ModifyProvisional(std::string_view account, const Mutator& mutate) override {
    return inner_.ModifyProvisional(account, mutate);
  }
  Result<std::optional<AccountRecord>> Get(std::string_view account) override {
    return inner_.Get(account);
  }
  Result<ScanReport> ForEach(const Visitor& visit) override { return inner_.ForEach(visit); }
  Result<bool> Erase(std::string_view account) override { return inner_.Erase(account); }
  Result<PruneReport> Prune(UnixSeconds now) override { return inner_.Prune(now); }
  Result<StoreStats> Stats() override { return inner_.Stats(); }
  std::string Location() const override { return "faulty"; }

 private:
  Store& inner_;
  std::string undecodable_;
  bool broken_;
};

TEST_F(LearnTest, AnUndecodableRecordIsSkippedAndAStoreErrorStops) {
  const UnixSeconds now = kT0 + 3 * kDay;
  Hours(replayer_, AccountRef{0, "alice"}, kT0, now - kHour, 4);
  Hours(replayer_, AccountRef{1, "bob"}, kT0, now - kHour, 4);
  MergeOptions options;
  options.now = now;
  FaultyStore faulty(*store_, "alice");
  auto report = MergeReplayed(*replayed_, faulty, policy_, options);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->unreadable, 1u);
  EXPECT_EQ(report->added, 1u);
  EXPECT_TRUE(*store_->Get("bob"));

  FaultyStore broken(*store_, "", /*broken=*/true);
  auto failed = MergeReplayed(*replayed_, broken, policy_, options);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::kStoreIo);
}

}  // namespace
}  // namespace senderwatch::eximlog

// ---------------------------------------------------------------------------
// The verb, on an LMDB store in a temporary directory.
// ---------------------------------------------------------------------------

namespace senderwatch::cli {
namespace {

class LearnCliTest : public ::testing::Test {
 protected:
  LearnCliTest() {
    std::ofstream(policy_path_) << "[store]\ndurability = \"none\"\n\n"
                                   "[learn]\nmin_history = \"1d\"\nmin_active_hours = 4\n\n"
                                   "[[rule]]\nname = \"rcpt-rate\"\nmetric = \"recipients\"\n"
                                   "window = \"1h\"\nabove = \"learned\"\nfallback = 30\n"
                                   "floor = 5\naction = \"defer\"\n";
    setenv("NO_COLOR", "1", 1);
  }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", dir_.path(), "--config", policy_path_});
    ::testing::internal::CaptureStdout();
    const int code = RunCli(args);
    out_ = ::testing::internal::GetCapturedStdout();
    return code;
  }

  // A main log (UTC, +received_recipients) of the three days before the
  // last full hour: `per_hour` recipients of `account` every hour.
  std::string WriteLog(const std::string& name, const std::string& account, int per_hour) {
    const UnixSeconds end = (std::time(nullptr) / 3600 - 1) * 3600;
    std::ofstream log(dir_.Join(name));
    int n = 0;
    for (UnixSeconds h = end - 3 * 86400; h < end; h += 3600) {
      char stamp[32];
      const std::time_t t = h + 600;
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
      char id[32];
      std::snprintf(id, sizeof id, "1xW%03d-%06d-1X", n % 1000, n);
      ++n;
      log << stamp << ' ' << id << " <= " << account << "@example.test H=(client.test) [192.0.2.1]"
          << " P=esmtpa A=plain:" << account << " S=500 id=" << id << "@client.test for";
      for (int i = 0; i < per_hour; ++i) log << " friend" << i << "@remote.test";
      log << '\n' << stamp << ' ' << id << " Completed\n";
    }
    return dir_.Join(name);
  }

  senderwatch::testing::TempDir dir_;
  std::string policy_path_ = dir_.Join("senderwatch.toml");
  std::string out_;
};

TEST_F(LearnCliTest, LearnsIntoTheStoreAndShowMarksTheLearnedLimit) {
  const std::string log = WriteLog("mainlog", "ordinary", 4);
  ASSERT_EQ(Run({"learn", "--utc", "--no-progress", log}), kExitOk) << out_;
  EXPECT_NE(out_.find("New         1 account the store had no activity of: 72 hours with mail"),
            std::string::npos)
      << out_;
  EXPECT_NE(out_.find("Learned limits (rcpt-rate) now apply to 1 of these 1 account"),
            std::string::npos)
      << out_;

  ASSERT_EQ(Run({"show", "ordinary"}), kExitOk);
  EXPECT_NE(out_.find("12 (learned)"), std::string::npos) << out_;
  ASSERT_EQ(Run({"show", "ordinary", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("limit": 12,)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("learned": true,)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("limit_source": "learned")"), std::string::npos) << out_;
  ASSERT_EQ(Run({"top", "--all"}), kExitOk);
  EXPECT_NE(out_.find("0/12L"), std::string::npos) << out_;
  EXPECT_NE(out_.find("L: learned limit"), std::string::npos) << out_;

  // Again: nothing to add.
  ASSERT_EQ(Run({"learn", "--utc", "--no-progress", "--json", log}), kExitOk) << out_;
  EXPECT_NE(out_.find(R"("up_to_date": 1,)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("new": 0,)"), std::string::npos) << out_;
}

TEST_F(LearnCliTest, ShowAndTopMarkTheFallbackOfANewAccount) {
  ASSERT_EQ(Run({"lock", "newbie", "--reason", "creates the record"}), kExitOk);
  ASSERT_EQ(Run({"show", "newbie"}), kExitOk);
  EXPECT_NE(out_.find("30 (fallback: too little history)"), std::string::npos) << out_;
  ASSERT_EQ(Run({"show", "newbie", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("learned": false,)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("limit_source": "fallback")"), std::string::npos) << out_;
  ASSERT_EQ(Run({"top", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("limit_source": "fallback")"), std::string::npos) << out_;
  ASSERT_EQ(Run({"top"}), kExitOk);
  EXPECT_NE(out_.find("0/30F"), std::string::npos) << out_;
  EXPECT_NE(out_.find("F: fallback limit"), std::string::npos) << out_;
}

TEST_F(LearnCliTest, DryRunLeavesTheStoreAlone) {
  const std::string log = WriteLog("mainlog", "ordinary", 4);
  ASSERT_EQ(Run({"learn", "--utc", "--no-progress", "--dry-run", "--json", log}), kExitOk);
  EXPECT_NE(out_.find(R"("new": 1,)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("dry_run": true)"), std::string::npos) << out_;
  EXPECT_EQ(Run({"show", "ordinary"}), kExitNotFound);
}

TEST_F(LearnCliTest, ExitCodes) {
  EXPECT_EQ(Run({"learn"}), kExitUsage);
  EXPECT_EQ(Run({"learn", "--no-progress", dir_.Join("absent.log")}), kExitNotFound);
}

}  // namespace
}  // namespace senderwatch::cli
