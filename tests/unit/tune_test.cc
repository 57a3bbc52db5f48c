// tune must not learn its limits from the spammers in the logs (issue 13):
// on generated logs of a server with 1% to 5% of its accounts hijacked at
// known times, the policy tune suggests, replayed on the same logs, locks
// every hijacked account the starting policy locked and no honest one;
// the percentile method tune used before fails that on the same logs. Then
// the parts: the robust body, the lock cap, no suggestion without data, the
// self-check's lists, the event log's faithful replays, and the CLI's
// report and JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/commands.h"
#include "eximlog/joiner.h"
#include "eximlog/replay.h"
#include "eximlog/scan.h"
#include "eximlog/tune.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "testutil/scenario_log.h"
#include "testutil/testutil.h"

namespace senderwatch::eximlog {
namespace {

using senderwatch::testing::GenerateScenario;
using senderwatch::testing::Scenario;
using senderwatch::testing::ScenarioOptions;
using senderwatch::testing::TempDir;

Rule MakeTestRule(std::string name, Metric metric, int64_t window, double above, uint64_t min,
                  Action action) {
  Rule rule;
  rule.name = std::move(name);
  rule.metric = metric;
  rule.window_seconds = window;
  rule.above = above;
  rule.min = min;
  rule.action = action;
  return rule;
}

// The hand-written policy of the issue: it locks the hijacked accounts of
// the scenarios and no honest one.
Policy StartingPolicy() {
  Policy policy = DefaultPolicy();
  policy.rules = {
      MakeTestRule("rcpt-rate", Metric::kRecipients, 3600, 1000, 0, Action::kDefer),
      MakeTestRule("bounce-flood", Metric::kBounces, 3600, 300, 0, Action::kDefer),
      MakeTestRule("bounce-ratio", Metric::kBounceRatio, 3600, 0.3, 20, Action::kLock),
      MakeTestRule("bounce-ratio-slow", Metric::kBounceRatio, 86400, 0.3, 100, Action::kLock),
      MakeTestRule("client-networks", Metric::kClientIps, 3600, 10, 0, Action::kLock),
      MakeTestRule("auth-failures", Metric::kAuthfails, 3600, 30, 0, Action::kWarn),
  };
  return policy;
}

struct Loaded {
  Scenario scenario;
  EventLog events;
};

// The scenario's log written to a file and read as `tune` reads it.
void Load(const ScenarioOptions& options, Loaded& out) {
  out.scenario = GenerateScenario(options);
  TempDir dir;
  const std::string path = dir.Join("mainlog");
  std::ofstream(path, std::ios::binary) << out.scenario.log;
  Joiner joiner(out.events);
  ScanOptions scan;
  scan.zone = TimestampParser::Zone::kUtc;
  auto stats = ScanLogs({path}, joiner, scan);
  ASSERT_TRUE(stats.has_value());
  ASSERT_EQ(stats->lines_not_understood, 0u);
}

std::set<std::string> LockedBy(const Policy& policy, const EventLog& events) {
  NullLogger logger;
  Replayer replayer(policy, logger);
  events.Play(replayer);
  std::set<std::string> locked;
  for (const AccountOutcome& o : replayer.Outcomes()) {
    if (o.worst == Action::kLock) locked.insert(o.account);
  }
  return locked;
}

// The old method, kept here as the baseline the scenario tests must be able
// to tell apart: p99 of every sender's peak (p99.9 from 1000 accounts), no
// screening, no cap.
Policy PercentileSuggestion(const Policy& policy, const EventLog& events) {
  PeakTracker tracker(policy, SeriesOfPolicy(policy));
  events.Play(tracker);
  Policy suggested = policy;
  for (size_t s = 0; s < tracker.series().size(); ++s) {
    const Series& series = tracker.series()[s];
    Distribution d;
    for (size_t a = 0; a < tracker.account_count(); ++a) {
      if (!tracker.seen(a) || (series.metric != Metric::kAuthfails && !tracker.sent(a))) continue;
      d.sorted.push_back(tracker.peak(s, a).value);
    }
    std::sort(d.sorted.begin(), d.sorted.end());
    const double reference = d.Percentile(d.sorted.size() >= 1000 ? 99.9 : 99.0);
    for (Rule& rule : suggested.rules) {
      if (std::find(series.rules.begin(), series.rules.end(), rule.name) == series.rules.end()) continue;
      rule.above = LimitFromReference(reference, rule.metric, rule.action);
    }
  }
  return suggested;
}

struct ScenarioCase {
  double share;
  uint64_t seed;
};

class TuneScenario : public ::testing::TestWithParam<ScenarioCase> {};

TEST_P(TuneScenario, SuggestedPolicyLocksEveryHijackedAccountTheStartingPolicyLockedAndNoHonestOne) {
  Loaded loaded;
  ScenarioOptions options;
  options.compromised_share = GetParam().share;
  options.seed = GetParam().seed;
  ASSERT_NO_FATAL_FAILURE(Load(options, loaded));
  const Scenario& scenario = loaded.scenario;
  ASSERT_FALSE(scenario.compromised.empty());

  const Policy start = StartingPolicy();
  const std::set<std::string> locked_before = LockedBy(start, loaded.events);
  // The premise: the starting policy is a good one on these logs.
  for (const std::string& account : locked_before) {
    EXPECT_TRUE(scenario.IsCompromised(account)) << account << " is honest";
  }
  EXPECT_GE(locked_before.size() * 10, scenario.compromised.size() * 8);

  const TuneReport report = Tune(start, loaded.events);
  const std::set<std::string> locked_after = LockedBy(report.suggested, loaded.events);
  for (const std::string& account : locked_before) {
    EXPECT_TRUE(locked_after.contains(account)) << account << " is no longer locked";
  }
  for (const std::string& account : locked_after) {
    EXPECT_TRUE(scenario.IsCompromised(account)) << account << " is honest but locked";
  }
  // Every suspect is hijacked, and the self-check says what the replay says.
  for (const Suspect& suspect : report.suspects) {
    EXPECT_TRUE(scenario.IsCompromised(suspect.account)) << suspect.account;
  }
  EXPECT_EQ(report.locked_before, locked_before.size());
  EXPECT_EQ(report.locked_after, locked_after.size());
}

INSTANTIATE_TEST_SUITE_P(OneToFivePercent, TuneScenario,
                         ::testing::Values(ScenarioCase{0.01, 1}, ScenarioCase{0.03, 2},
                                           ScenarioCase{0.05, 1}, ScenarioCase{0.05, 2}),
                         [](const auto& param_info) {
                           return "Share" + std::to_string(std::lround(param_info.param.share * 100)) +
                                  "Seed" + std::to_string(param_info.param.seed);
                         });

TEST(TuneScenario, PercentileMethodLetsHijackedAccountsThrough) {
  // The same check on the suggestions of the old method fails: with 5% of
  // the accounts hijacked, its p99 is a spammer and the lock limits move
  // above some of them. So the test above can fail.
  for (const uint64_t seed : {1, 2}) {
    Loaded loaded;
    ScenarioOptions options;
    options.compromised_share = 0.05;
    options.seed = seed;
    ASSERT_NO_FATAL_FAILURE(Load(options, loaded));
    const Policy start = StartingPolicy();
    const std::set<std::string> before = LockedBy(start, loaded.events);
    const std::set<std::string> after = LockedBy(PercentileSuggestion(start, loaded.events), loaded.events);
    size_t lost = 0;
    for (const std::string& account : before) lost += !after.contains(account);
    EXPECT_GT(lost, 0u) << "seed " << seed;
  }
}

TEST(Tune, BodyIsNotMovedByAFewPercentOfSpammers) {
  Distribution honest;
  // Log-normal-ish peaks: 2^(k/10) for k in [0, 100).
  for (int k = 0; k < 100; ++k) honest.sorted.push_back(std::round(10 * std::exp2(k / 20.0)));
  Distribution mixed = honest;
  for (int i = 0; i < 5; ++i) mixed.sorted.push_back(20000 + i);
  std::sort(mixed.sorted.begin(), mixed.sorted.end());
  const Body a = EstimateBody(honest);
  const Body b = EstimateBody(mixed);
  EXPECT_EQ(a.above, 0u);
  EXPECT_EQ(b.above, 5u);
  EXPECT_DOUBLE_EQ(a.top, honest.sorted.back());
  EXPECT_DOUBLE_EQ(b.top, honest.sorted.back());
  EXPECT_LT(b.fence, 20000);
  // The p99 the old method used is a spammer here.
  EXPECT_GE(mixed.Percentile(99), 20000);
  // Zeros are not part of the body's statistics.
  Distribution zeros = honest;
  zeros.sorted.insert(zeros.sorted.begin(), 300, 0.0);
  const Body z = EstimateBody(zeros);
  EXPECT_EQ(z.accounts, 400u);
  EXPECT_EQ(z.nonzero, 100u);
  EXPECT_DOUBLE_EQ(z.median, a.median);
}

TEST(Tune, LockLimitStaysBelowTheLowestValueAnAccountWasLockedAt) {
  Distribution d;
  for (int i = 0; i < 100; ++i) d.sorted.push_back(0.01 * (i % 20 + 1));
  std::sort(d.sorted.begin(), d.sorted.end());
  const Body body = EstimateBody(d);
  const Rule lock = MakeTestRule("ratio", Metric::kBounceRatio, 3600, 0.5, 20, Action::kLock);
  const Suggestion free = Suggest(d, body, lock, std::nullopt, TuneOptions{});
  EXPECT_FALSE(free.kept);
  EXPECT_DOUBLE_EQ(free.limit, 0.35);  // top 0.2 + 0.15
  const Suggestion capped = Suggest(d, body, lock, 0.31, TuneOptions{});
  EXPECT_DOUBLE_EQ(capped.limit, 0.3);
  ASSERT_TRUE(capped.cap.has_value());
  EXPECT_NE(capped.why.find("capped"), std::string::npos) << capped.why;
  // A defer rule is a rate limit, not a detector: no cap.
  Rule defer = lock;
  defer.action = Action::kDefer;
  EXPECT_DOUBLE_EQ(Suggest(d, body, defer, 0.31, TuneOptions{}).limit, 0.3);  // top 0.2 + 0.1
  EXPECT_FALSE(Suggest(d, body, defer, 0.31, TuneOptions{}).cap.has_value());
  // Counters: an account locked at 12 keeps the limit at 11.
  Distribution counts;
  for (int i = 0; i < 100; ++i) counts.sorted.push_back(1 + i % 4);
  std::sort(counts.sorted.begin(), counts.sorted.end());
  const Rule networks = MakeTestRule("networks", Metric::kClientIps, 3600, 10, 0, Action::kLock);
  EXPECT_DOUBLE_EQ(Suggest(counts, EstimateBody(counts), networks, 12, TuneOptions{}).limit, 11);
  EXPECT_DOUBLE_EQ(Suggest(counts, EstimateBody(counts), networks, std::nullopt, TuneOptions{}).limit, 15);
}

TEST(Tune, NoSuggestionWithoutData) {
  const Rule rule = MakeTestRule("new", Metric::kNewRecipientRatio, 3600, 0.95, 100, Action::kDefer);
  Distribution zeros;
  zeros.sorted.assign(200, 0.0);
  const Suggestion none = Suggest(zeros, EstimateBody(zeros), rule, std::nullopt, TuneOptions{});
  EXPECT_TRUE(none.kept);
  EXPECT_DOUBLE_EQ(none.limit, 0.95);
  EXPECT_NE(none.why.find("no account has a non-zero peak"), std::string::npos) << none.why;
  Distribution few;
  few.sorted = {0.1, 0.2, 0.3};
  const Suggestion small = Suggest(few, EstimateBody(few), rule, std::nullopt, TuneOptions{});
  EXPECT_TRUE(small.kept);
  EXPECT_NE(small.why.find("only 3 accounts measured"), std::string::npos) << small.why;
  Distribution sparse;
  sparse.sorted.assign(100, 0.0);
  for (int i = 0; i < 5; ++i) sparse.sorted.push_back(0.5);
  const Suggestion thin = Suggest(sparse, EstimateBody(sparse), rule, std::nullopt, TuneOptions{});
  EXPECT_TRUE(thin.kept);
  EXPECT_NE(thin.why.find("only 5 accounts with a non-zero peak"), std::string::npos) << thin.why;
}

TEST(Tune, DefaultPolicyKeepsNewRecipientRatioWhenEveryPeakIsZero) {
  // Three days are less history than learning needs: new_recipient_ratio
  // reads 0 for every account, and its rule keeps its limit.
  Loaded loaded;
  ScenarioOptions options;
  options.accounts = 200;
  options.days = 2;
  ASSERT_NO_FATAL_FAILURE(Load(options, loaded));
  const Policy policy = DefaultPolicy();
  const TuneReport report = Tune(policy, loaded.events);
  bool seen = false;
  for (const SeriesReport& sr : report.series) {
    for (const RuleReport& r : sr.rules) {
      if (policy.rules[r.rule].metric != Metric::kNewRecipientRatio) continue;
      seen = true;
      EXPECT_TRUE(r.suggestion.kept) << r.suggestion.why;
      EXPECT_DOUBLE_EQ(report.suggested.rules[r.rule].above, policy.rules[r.rule].above);
    }
  }
  EXPECT_TRUE(seen);
}

// `count` RCPTs of `account` at `time` to distinct recipients.
void Send(EventSink& sink, UnixSeconds time, AccountRef account, int count) {
  for (int i = 0; i < count; ++i) {
    sink.OnRecipient(time, account, "192.0.2.1", "", "r" + std::to_string(i) + "@remote.test");
  }
}

TEST(Tune, SelfCheckNamesTheAccountsASuggestionNewlyLetsThroughOrStops) {
  // A rate limit of 5 defers most of 40 ordinary accounts (1 to 40
  // recipients in an hour); the suggestion raises it and lets them through.
  // A bounce lock rule at 1000 is lowered to the body (1 or 2 bounces) and
  // newly locks the one account with 60 bounces.
  constexpr UnixSeconds kT0 = 1795737600;
  EventLog events;
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) names.push_back("a" + std::to_string(i));
  for (uint32_t i = 0; i < names.size(); ++i) Send(events, kT0, AccountRef{i, names[i]}, 1 + static_cast<int>(i % 8));
  for (uint32_t i = 0; i < names.size(); ++i) {
    const int bounces = i == 0 ? 60 : static_cast<int>(i % 3);
    for (int b = 0; b < bounces; ++b) events.OnBounce(kT0 + 60, AccountRef{i, names[i]}, "x@remote.test", "550 5.1.1 unknown");
  }
  Send(events, kT0 + 120, AccountRef{0, names[0]}, 1);
  Policy policy = DefaultPolicy();
  policy.rules = {MakeTestRule("rate", Metric::kRecipients, 3600, 5, 0, Action::kDefer),
                  MakeTestRule("bounces", Metric::kBounces, 3600, 1000, 0, Action::kLock)};
  const TuneReport report = Tune(policy, events);
  const RuleReport* rate = nullptr;
  const RuleReport* bounces = nullptr;
  for (const SeriesReport& sr : report.series) {
    for (const RuleReport& r : sr.rules) (r.rule == 0 ? rate : bounces) = &r;
  }
  ASSERT_NE(rate, nullptr);
  ASSERT_NE(bounces, nullptr);
  EXPECT_GT(rate->suggestion.limit, 8);
  // Accounts with 6, 7, 8 recipients were deferred by "rate".
  std::set<std::string> let_through;
  for (const VerdictDiff& d : rate->newly_let_through) {
    let_through.insert(d.account);
    EXPECT_EQ(d.before, Action::kDefer);
    EXPECT_EQ(d.before_rule, "rate");
    EXPECT_EQ(d.after, Action::kOk);
  }
  EXPECT_EQ(let_through.size(), 15u);  // i % 8 in {5, 6, 7}: 6 to 8 recipients
  EXPECT_TRUE(let_through.contains("a5"));
  EXPECT_FALSE(let_through.contains("a4"));  // 5 recipients: never above 5
  EXPECT_LT(bounces->suggestion.limit, 60);
  ASSERT_EQ(bounces->newly_stopped.size(), 1u);
  EXPECT_EQ(bounces->newly_stopped[0].account, "a0");
  EXPECT_EQ(bounces->newly_stopped[0].before, Action::kOk);
  EXPECT_EQ(bounces->newly_stopped[0].after, Action::kLock);
  EXPECT_EQ(bounces->newly_stopped[0].after_rule, "bounces");
  EXPECT_EQ(report.changes.size(), let_through.size() + 1);
}

TEST(Tune, EventLogReplaysExactlyWhatTheJoinerReported) {
  Loaded loaded;
  ScenarioOptions options;
  options.accounts = 100;
  options.days = 2;
  ASSERT_NO_FATAL_FAILURE(Load(options, loaded));
  // Read the same log straight into a Replayer.
  TempDir dir;
  const std::string path = dir.Join("mainlog");
  std::ofstream(path, std::ios::binary) << loaded.scenario.log;
  const Policy policy = StartingPolicy();
  NullLogger logger;
  Replayer direct(policy, logger);
  Joiner joiner(direct);
  ScanOptions scan;
  scan.zone = TimestampParser::Zone::kUtc;
  ASSERT_TRUE(ScanLogs({path}, joiner, scan).has_value());
  Replayer played(policy, logger);
  loaded.events.Play(played);
  const auto a = direct.Outcomes();
  const auto b = played.Outcomes();
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 50u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].account, b[i].account);
    EXPECT_EQ(a[i].recipients, b[i].recipients);
    EXPECT_EQ(a[i].bounces, b[i].bounces);
    EXPECT_EQ(a[i].authfails, b[i].authfails);
    EXPECT_EQ(a[i].worst, b[i].worst);
    EXPECT_EQ(a[i].first_worst.time, b[i].first_worst.time);
  }
}

TEST(Tune, CliReportsSuspectsSuggestionsAndTheSelfCheck) {
  TempDir dir;
  ScenarioOptions options;
  options.accounts = 200;
  options.compromised_share = 0.04;
  const Scenario scenario = GenerateScenario(options);
  const std::string log = dir.Join("mainlog"), config = dir.Join("policy.toml"), out = dir.Join("candidate.toml");
  std::ofstream(log, std::ios::binary) << scenario.log;
  std::ofstream(config) << FormatPolicy(StartingPolicy());
  const auto run = [&](std::vector<std::string> args, std::string& output) {
    args.insert(args.begin(), {"--config", config, "tune", "--utc", "--no-progress"});
    ::testing::internal::CaptureStdout();
    const int code = cli::RunCli(args);
    output = ::testing::internal::GetCapturedStdout();
    return code;
  };
  std::string json, text;
  ASSERT_EQ(run({"--json", "-o", out, log}, json), cli::kExitOk);
  for (const auto& c : scenario.compromised) {
    EXPECT_NE(json.find("\"account\": \"" + c.account + "\",\n      \"locked_by\""), std::string::npos)
        << c.account << "\n" << json;
  }
  for (const char* key : {"\"self_check\"", "\"locked_current\"", "\"locked_suggested\"", "\"suspects_excluded\"",
                          "\"newly_stopped\"", "\"newly_let_through\"", "\"body\"", "\"kept\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key;
  }
  auto written = LoadPolicyFile(out);
  ASSERT_TRUE(written.has_value()) << written.error().message;
  const auto suggested_lock = LockedBy(*written, [&] {
    EventLog events;
    Joiner joiner(events);
    ScanOptions scan;
    scan.zone = TimestampParser::Zone::kUtc;
    EXPECT_TRUE(ScanLogs({log}, joiner, scan).has_value());
    return events;
  }());
  for (const auto& account : suggested_lock) EXPECT_TRUE(scenario.IsCompromised(account)) << account;

  ASSERT_EQ(run({log}, text), cli::kExitOk);
  EXPECT_NE(text.find("Suspected compromised, excluded"), std::string::npos) << text;
  EXPECT_NE(text.find("Self-check: the suggested policy replayed on the same logs locks"), std::string::npos)
      << text;
  EXPECT_NE(text.find("suspected, excluded:"), std::string::npos) << text;
}

}  // namespace
}  // namespace senderwatch::eximlog

namespace senderwatch::eximlog {
namespace {

// The measurements behind docs/replay.md, "How the method was chosen". Not
// a test (it asserts nothing); run it by hand:
//   build/tests/unit/senderwatch_unit_tests --gtest_also_run_disabled_tests
//     --gtest_filter='TuneMeasure.*'
// For each generated log: hijacked accounts the starting policy locks, and
// for each method the hijacked ones its suggestion still locks, the honest
// ones it locks, and the honest ones it stops at all (defer or lock).
TEST(TuneMeasure, DISABLED_MethodsOnGeneratedLogs) {
  std::printf("share seed hijacked start | method: hijacked-locked honest-locked honest-stopped\n");
  for (const double share : {0.01, 0.03, 0.05}) {
    for (const uint64_t seed : {1, 2, 3}) {
      Loaded loaded;
      ScenarioOptions options;
      options.compromised_share = share;
      options.seed = seed;
      ASSERT_NO_FATAL_FAILURE(Load(options, loaded));
      const Policy start = StartingPolicy();
      const auto count = [&](const Policy& policy) {
        NullLogger logger;
        Replayer replayer(policy, logger);
        loaded.events.Play(replayer);
        int hijacked = 0, honest_locked = 0, honest_stopped = 0;
        for (const AccountOutcome& o : replayer.Outcomes()) {
          const bool bad = loaded.scenario.IsCompromised(o.account);
          hijacked += bad && o.worst == Action::kLock;
          honest_locked += !bad && o.worst == Action::kLock;
          honest_stopped += !bad && o.worst >= Action::kDefer;
        }
        return std::to_string(hijacked) + " " + std::to_string(honest_locked) + " " +
               std::to_string(honest_stopped);
      };
      TuneOptions body;
      body.rate_reference = TuneOptions::RateReference::kBody;
      std::printf("%.2f %llu %zu %s | percentile: %s | tune: %s | tune, rates from body: %s\n", share,
                  static_cast<unsigned long long>(seed), loaded.scenario.compromised.size(),
                  count(start).c_str(), count(PercentileSuggestion(start, loaded.events)).c_str(),
                  count(Tune(start, loaded.events).suggested).c_str(),
                  count(Tune(start, loaded.events, body).suggested).c_str());
    }
  }
}

}  // namespace
}  // namespace senderwatch::eximlog
