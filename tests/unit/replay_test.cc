// Log replay through the Engine: verdict changes at the times the log
// gives, with the rule and values the plugin would have returned, refused
// recipients counted, and a lock that stays. Then the real Exim logs of
// eximlog_samples.h replayed end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "eximlog/joiner.h"
#include "eximlog/limits_file.h"
#include "eximlog/log_line.h"
#include "eximlog/replay.h"
#include "eximlog/tune.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "unit/eximlog_samples.h"

namespace senderwatch::eximlog {
namespace {

constexpr UnixSeconds kT0 = 1795737600;  // 2026-11-27T00:00:00Z

Policy PolicyWith(std::vector<Rule> rules, int64_t lock_duration = 0) {
  Policy policy = DefaultPolicy();
  policy.rules = std::move(rules);
  policy.lock_duration_seconds = lock_duration;
  return policy;
}

// `count` RCPTs of `account` to distinct recipients, as the joiner reports them.
template <typename Sink>
void Rcpts(Sink& sink, UnixSeconds time, AccountRef account, std::string_view ip, int count,
           std::string_view tag = "r") {
  for (int i = 0; i < count; ++i) {
    const std::string recipient = std::string(tag) + std::to_string(i) + "@remote.test";
    sink.OnRecipient(time, account, ip, std::string(account.name) + "@example.test", recipient);
  }
}

struct Harness {
  explicit Harness(const Policy& p)
      : policy(p), replayer(policy, logger, [this](const VerdictChange& c) { changes.push_back(c); }) {}
  AccountRef Account(const char* name) { return AccountRef{index_of(name), name}; }
  uint32_t index_of(std::string_view name) {
    for (uint32_t i = 0; i < names.size(); ++i) if (names[i] == name) return i;
    names.emplace_back(name);
    return static_cast<uint32_t>(names.size() - 1);
  }
  Policy policy;
  NullLogger logger;
  std::vector<VerdictChange> changes;
  std::vector<std::string> names;
  Replayer replayer;
};

TEST(Replay, BounceRatioLocksAtTheEventThatCrossesTheLimit) {
  Harness h(PolicyWith({Rule{"bounce-ratio", Metric::kBounceRatio, 3600, 0.3, 20, Action::kLock, false, std::nullopt}}));
  const AccountRef alice = h.Account("alice");
  Rcpts(h.replayer, kT0, alice, "192.0.2.1", 20);
  for (int i = 0; i < 6; ++i) h.replayer.OnBounce(kT0 + 60 + i, alice, "x@remote.test", "550");
  EXPECT_TRUE(h.changes.empty());  // 6/20 = 0.3 is not above 0.3
  h.replayer.OnBounce(kT0 + 120, alice, "y@remote.test", "550");
  ASSERT_EQ(h.changes.size(), 1u);
  const VerdictChange& lock = h.changes[0];
  EXPECT_EQ(lock.time, kT0 + 120);
  EXPECT_EQ(lock.account, "alice");
  EXPECT_EQ(lock.action, Action::kLock);
  EXPECT_EQ(lock.rule, "bounce-ratio");
  EXPECT_EQ(lock.metric, Metric::kBounceRatio);
  EXPECT_DOUBLE_EQ(lock.value, 7.0 / 20.0);
  EXPECT_DOUBLE_EQ(lock.limit, 0.3);
  EXPECT_EQ(lock.window_seconds, 3600);
  // Locked: every later recipient is refused, and the lock stays (no change)
  // long after the evidence has left the window.
  Rcpts(h.replayer, kT0 + 7200, alice, "192.0.2.1", 5, "later");
  EXPECT_EQ(h.changes.size(), 1u);
  const auto outcomes = h.replayer.Outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].recipients, 25u);
  EXPECT_EQ(outcomes[0].refused, 5u);
  EXPECT_EQ(outcomes[0].bounces, 7u);
  EXPECT_TRUE(outcomes[0].locked);
  EXPECT_EQ(outcomes[0].worst, Action::kLock);
  EXPECT_EQ(outcomes[0].first_worst.time, kT0 + 120);
  const ReplaySummary summary = h.replayer.Summary();
  EXPECT_EQ(summary.accounts, 1u);
  EXPECT_EQ(summary.locked_accounts, 1u);
  EXPECT_EQ(summary.refused_recipients, 5u);
  EXPECT_EQ(summary.engine_errors, 0u);
}

TEST(Replay, RateLimitDefersAndReleasesAsTheWindowMoves) {
  Harness h(PolicyWith({Rule{"rcpt-rate", Metric::kRecipients, 600, 10, 0, Action::kDefer, false, std::nullopt}}));
  const AccountRef bulk = h.Account("bulk");
  const AccountRef quiet = h.Account("quiet");
  Rcpts(h.replayer, kT0, bulk, "192.0.2.1", 12);
  Rcpts(h.replayer, kT0, quiet, "192.0.2.2", 3);
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0].action, Action::kDefer);
  EXPECT_EQ(h.changes[0].rule, "rcpt-rate");
  EXPECT_DOUBLE_EQ(h.changes[0].value, 11);  // the 11th RCPT is the first refused
  // Ten minutes later the window is empty again.
  Rcpts(h.replayer, kT0 + 660, bulk, "192.0.2.1", 1, "x");
  ASSERT_EQ(h.changes.size(), 2u);
  EXPECT_EQ(h.changes[1].action, Action::kOk);
  EXPECT_EQ(h.changes[1].time, kT0 + 660);
  const auto outcomes = h.replayer.Outcomes();
  EXPECT_EQ(outcomes[0].refused, 2u);
  EXPECT_FALSE(outcomes[0].locked);
  EXPECT_EQ(outcomes[0].worst, Action::kDefer);
  EXPECT_EQ(outcomes[1].worst, Action::kOk);
  EXPECT_EQ(h.replayer.Summary().deferred_accounts, 1u);
}

TEST(Replay, TimedLockEndsByItself) {
  Harness h(PolicyWith({Rule{"bounce-flood", Metric::kBounces, 3600, 2, 0, Action::kLock, false, std::nullopt}}, 1800));
  const AccountRef a = h.Account("a");
  Rcpts(h.replayer, kT0, a, "", 1);
  for (int i = 0; i < 3; ++i) h.replayer.OnBounce(kT0 + i, a, "x@y", "550");
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0].action, Action::kLock);
  Rcpts(h.replayer, kT0 + 1000, a, "", 1, "b");
  EXPECT_EQ(h.changes.size(), 1u);
  Rcpts(h.replayer, kT0 + 1802, a, "", 1, "c");  // lock over; evidence before it ignored
  ASSERT_EQ(h.changes.size(), 2u);
  EXPECT_EQ(h.changes[1].action, Action::kOk);
  EXPECT_FALSE(h.replayer.Outcomes()[0].locked);
}

TEST(Replay, ClockIgnoresSmallStepsBackButFollowsLargeOnes) {
  Harness h(PolicyWith({}));
  const AccountRef a = h.Account("a");
  Rcpts(h.replayer, kT0 + 100, a, "", 1);
  Rcpts(h.replayer, kT0 + 98, a, "", 1);  // another process's line, late
  EXPECT_EQ(h.replayer.now(), kT0 + 100);
  Rcpts(h.replayer, kT0 - 86400, a, "", 1);  // an older file after a newer one
  EXPECT_EQ(h.replayer.now(), kT0 - 86400);
}

TEST(Replay, UnreadableClientAddressStillCountsTheRecipient) {
  Harness h(PolicyWith({}));
  Rcpts(h.replayer, kT0, h.Account("a"), "not-an-ip", 2);
  EXPECT_EQ(h.replayer.Outcomes()[0].recipients, 2u);
  EXPECT_GE(h.replayer.Summary().engine_errors, 1u);
}

TEST(Replay, LimitsFileMustBeARegularFile) {
  // A directory or a FIFO named by --limits gives an error, never an empty
  // file (which would replay without the exceptions) or a hang.
  auto loaded = LoadLimitsFile("/");
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().message.find("not a regular file"), std::string::npos)
      << loaded.error().message;
}

TEST(Replay, PerAccountOverridesApplyAsInTheAcl) {
  auto overrides = ParseLimitsFile(
      "# exceptions\n"
      "Newsletter:   rcpt-rate=100\n"
      "helpdesk rcpt-rate=off\n"
      "\"quoted user\": rcpt-rate=50,\n"
      "   bounce-flood=5\n"
      "newsletter: rcpt-rate=1\n",  // a second line for a key is never read
      "limits");
  ASSERT_TRUE(overrides.has_value()) << overrides.error().message;
  ASSERT_EQ(overrides->size(), 3u);
  EXPECT_EQ(overrides->at("newsletter").limits.at("rcpt-rate"), 100);
  EXPECT_FALSE(overrides->at("helpdesk").limits.at("rcpt-rate").has_value());
  EXPECT_EQ(overrides->at("quoted user").limits.at("bounce-flood"), 5);
  auto bad = ParseLimitsFile("x: rcpt-rate=lots\n", "limits");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("limits:1"), std::string::npos) << bad.error().message;
  // lsearch skips an indented line after an empty one; so does replay.
  bad = ParseLimitsFile("x: rcpt-rate=1\n\n  rcpt-rate=lots\ny: rcpt-rate=lots\n", "limits");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("limits:4"), std::string::npos) << bad.error().message;

  Harness h(PolicyWith({Rule{"rcpt-rate", Metric::kRecipients, 3600, 10, 0, Action::kDefer, false, std::nullopt}}));
  h.replayer.set_overrides(*overrides);
  Rcpts(h.replayer, kT0, h.Account("newsletter"), "192.0.2.1", 20);
  Rcpts(h.replayer, kT0, h.Account("helpdesk"), "192.0.2.1", 20);
  Rcpts(h.replayer, kT0, h.Account("other"), "192.0.2.1", 20);
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0].account, "other");
  EXPECT_EQ(h.replayer.Summary().refused_recipients, 10u);
}

void Replay(Joiner& joiner, std::string_view log) {
  TimestampParser times(TimestampParser::Zone::kUtc);
  LogLine line;
  while (!log.empty()) {
    const size_t nl = log.find('\n');
    ParseLine(log.substr(0, nl), times, line);
    joiner.Feed(line);
    if (nl == std::string_view::npos) break;
    log.remove_prefix(nl + 1);
  }
}

TEST(Replay, RealEximLogLocksTheAccountWhoseMessagesBounced) {
  // alice's failures: someone@, nosuchuser@, bad1@ at 14:55:42, bad3@ at
  // 14:55:44; bob's: bad2@. Lock at more than 3 bounces in an hour.
  const Policy policy =
      PolicyWith({Rule{"bounce-flood", Metric::kBounces, 3600, 3, 0, Action::kLock, false, std::nullopt},
                  Rule{"auth-failures", Metric::kAuthfails, 3600, 0, 0, Action::kWarn, false, std::nullopt}});
  for (const std::string_view log : {senderwatch::testing::kDefaultSelectorLog,
                                     senderwatch::testing::kAllSelectorLog}) {
    NullLogger logger;
    std::vector<VerdictChange> changes;
    Replayer replayer(policy, logger, [&](const VerdictChange& c) { changes.push_back(c); });
    Joiner joiner(replayer);
    Replay(joiner, log);
    const bool all = log == senderwatch::testing::kAllSelectorLog;
    // alice failed to log in once, then sent: warn at her next RCPT; the
    // fourth bounce locks her. bob failed to log in but never sent again, so
    // no check_sender ever answered him "warn".
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].account, "alice");
    EXPECT_EQ(changes[0].action, Action::kWarn);
    EXPECT_EQ(changes[0].rule, "auth-failures");
    EXPECT_EQ(changes[0].time % 86400, 14 * 3600 + 55 * 60 + (all ? 50 : 43));
    EXPECT_EQ(changes[1].account, "alice");
    EXPECT_EQ(changes[1].action, Action::kLock);
    EXPECT_EQ(changes[1].rule, "bounce-flood");
    EXPECT_DOUBLE_EQ(changes[1].value, 4);
    EXPECT_DOUBLE_EQ(changes[1].limit, 3);
    EXPECT_EQ(changes[1].time % 86400, 14 * 3600 + 55 * 60 + (all ? 51 : 44));
    const ReplaySummary summary = replayer.Summary();
    EXPECT_EQ(summary.accounts, 2u);
    EXPECT_EQ(summary.locked_accounts, 1u);
    EXPECT_EQ(summary.warned_accounts, 0u);
    // After the lock: alice's remaining RCPT (none in these logs) would be
    // refused; the message to bad3 was already accepted.
    EXPECT_EQ(summary.refused_recipients, 0u);
  }
}

TEST(Tune, PeaksAreTheHighestValuesARuleWouldHaveSeen) {
  const Policy policy = PolicyWith({
      Rule{"rate", Metric::kRecipients, 600, 100, 0, Action::kDefer, false, std::nullopt},
      Rule{"ratio", Metric::kBounceRatio, 3600, 0.3, 4, Action::kLock, false, std::nullopt},
  });
  PeakTracker tracker(policy, SeriesOfPolicy(policy));
  // 2 from rules, then one for each metric no rule reads.
  ASSERT_EQ(tracker.series().size(), kAllMetrics.size());
  EXPECT_EQ(tracker.series()[0].rules, std::vector<std::string>{"rate"});
  const AccountRef a{0, "a"};
  Rcpts(tracker, kT0, a, "192.0.2.1", 5);
  Rcpts(tracker, kT0 + 60, a, "198.51.100.1", 5, "s");
  Rcpts(tracker, kT0 + 1800, a, "192.0.2.1", 3, "t");  // the first 10 left the 10m window
  tracker.OnBounce(kT0 + 1800, a, "x", "550");
  tracker.OnBounce(kT0 + 1801, a, "x", "550");
  EXPECT_DOUBLE_EQ(tracker.peak(0, 0).value, 10);
  EXPECT_EQ(tracker.peak(0, 0).at, kT0 + 60);
  EXPECT_DOUBLE_EQ(tracker.peak(1, 0).value, 2.0 / 13.0);
  // A ratio is read after each recipient: 1 bounce of 4 recipients (the
  // first moment min=4 holds) beats 1 of 5 even though counting went on.
  const AccountRef b{1, "b"};
  Rcpts(tracker, kT0, b, "", 3);
  tracker.OnBounce(kT0, b, "x", "550");
  Rcpts(tracker, kT0 + 1, b, "", 2, "u");
  EXPECT_DOUBLE_EQ(tracker.peak(1, 1).value, 0.25);
  // client_ips (added after bounces and defers, 1h): two /24 networks for a.
  ASSERT_EQ(tracker.series()[4].metric, Metric::kClientIps);
  EXPECT_EQ(tracker.series()[4].window_seconds, 3600);
  EXPECT_DOUBLE_EQ(tracker.peak(4, 0).value, 2);
}

TEST(Tune, DistributionsAndSuggestions) {
  Distribution d;
  for (int i = 1; i <= 100; ++i) d.sorted.push_back(i);
  EXPECT_DOUBLE_EQ(d.Percentile(50), 50);
  EXPECT_DOUBLE_EQ(d.Percentile(99), 99);
  EXPECT_DOUBLE_EQ(d.Percentile(100), 100);
  EXPECT_EQ(d.CountAbove(99), 1u);
  EXPECT_EQ(d.CountAbove(0), 100u);
  EXPECT_DOUBLE_EQ(NiceCeil(99, false), 100);
  EXPECT_DOUBLE_EQ(NiceCeil(101, false), 200);
  EXPECT_DOUBLE_EQ(NiceCeil(201, false), 500);
  EXPECT_DOUBLE_EQ(NiceCeil(0.31, true), 0.35);
  EXPECT_DOUBLE_EQ(LimitFromReference(99, Metric::kRecipients, Action::kDefer), 200);  // 99*2
  EXPECT_DOUBLE_EQ(LimitFromReference(99, Metric::kRecipients, Action::kLock), 500);   // 99*3
  EXPECT_DOUBLE_EQ(LimitFromReference(99, Metric::kClientIps, Action::kLock), 15);     // at most 15
  EXPECT_DOUBLE_EQ(LimitFromReference(2, Metric::kBounces, Action::kDefer), 10);       // at least 10
  EXPECT_DOUBLE_EQ(LimitFromReference(0.05, Metric::kBounceRatio, Action::kLock), 0.2);
  EXPECT_DOUBLE_EQ(LimitFromReference(0.5, Metric::kBounceRatio, Action::kLock), 0.65);
  EXPECT_DOUBLE_EQ(LimitFromReference(0.9, Metric::kBounceRatio, Action::kDefer), 0.9);
  const auto candidates = CandidateLimits(d, false, {1000});
  EXPECT_NE(std::find(candidates.begin(), candidates.end(), 1000), candidates.end());
  EXPECT_TRUE(std::is_sorted(candidates.begin(), candidates.end()));
}

TEST(Tune, HistogramBinsCoverPeaksAndMarkedLimits) {
  Distribution d;
  d.sorted = {0, 0, 1, 3, 3, 12};
  const auto bins = MakeHistogram(d, Metric::kBounces, 50);
  // 0, 1, 2-3, 4-7, 8-15, 16-31, 32-63: up to the marked limit 50.
  ASSERT_EQ(bins.size(), 7u);
  EXPECT_EQ(bins[0].label, "0");
  EXPECT_EQ(bins[0].count, 2u);
  EXPECT_EQ(bins[2].label, "2-3");
  EXPECT_EQ(bins[2].count, 2u);
  EXPECT_EQ(bins[4].count, 1u);
  EXPECT_EQ(bins[6].label, "32-63");
  uint64_t total = 0;
  for (const auto& bin : bins) total += bin.count;
  EXPECT_EQ(total, d.sorted.size());
  // A limit of 3 fires from 4 on: the marker sits at the end of bin 2-3.
  EXPECT_DOUBLE_EQ(HistogramPosition(bins, 3, Metric::kBounces), 3.0);
  EXPECT_DOUBLE_EQ(HistogramPosition(bins, 0, Metric::kBounces), 1.0);
  EXPECT_DOUBLE_EQ(HistogramPosition(bins, 5, Metric::kBounces), 3.5);

  Distribution ratios;
  ratios.sorted = {0.0, 0.05, 0.3, 0.31};
  const auto ratio_bins = MakeHistogram(ratios, Metric::kBounceRatio, 0.3);
  ASSERT_EQ(ratio_bins.size(), 8u);  // up to 0.35-0.40
  EXPECT_EQ(ratio_bins[0].count, 1u);
  EXPECT_EQ(ratio_bins[1].count, 1u);
  EXPECT_EQ(ratio_bins[6].label, "0.30-0.35");
  EXPECT_EQ(ratio_bins[6].count, 2u);
  // The limit 0.3 marks the start of the bin whose values fire.
  EXPECT_NEAR(HistogramPosition(ratio_bins, 0.3, Metric::kBounceRatio), 6.0, 1e-9);
}

}  // namespace
}  // namespace senderwatch::eximlog
