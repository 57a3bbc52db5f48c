// A generated Exim main log of a server on which some accounts were
// hijacked at known times, for testing that `senderwatch tune` does not
// learn its limits from the spammers it measures (issue 13) and for
// measuring suggestion methods (docs/replay.md, "Suggested limits").
//
// Honest accounts follow profiles an admin meets: ordinary users (a few
// messages a day, mostly to people they wrote to before, now and then a
// mistyped password), heavy senders (sales, support: a hundred messages a
// day and an occasional mailing of a few hundred), newsletters (a daily
// campaign of up to a few thousand recipients to a stale list: 5-15%
// bounce), travellers (many client networks) and phones with a stale
// password (dozens of failed logins an hour). Hijacked accounts, each with
// its own bounce ratio between 0.35 and 0.75:
//   flood      brute-forced, then 1,500 recipients an hour for two hours
//   slow       15 recipients an hour for 16 hours: never 20 in an hour
//   botnet     400 recipients an hour from 40 client networks
//   heavy      a heavy sender's account, 800 spam recipients an hour on top
//              of its own mail
// Lines are those Exim 4.96 writes with +received_recipients; times are
// UTC without zone. Deterministic for a seed.
#ifndef SENDERWATCH_TESTS_TESTUTIL_SCENARIO_LOG_H_
#define SENDERWATCH_TESTS_TESTUTIL_SCENARIO_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

namespace senderwatch::testing {

struct ScenarioOptions {
  uint32_t accounts = 400;
  uint32_t days = 3;
  // Share of the accounts hijacked (at least one of each kind whenever
  // this gives four or more; at least one account when above 0).
  double compromised_share = 0.05;
  uint64_t seed = 1;
  int64_t start = 1795132800;  // 2026-11-20T00:00:00Z
};

struct CompromisedAccount {
  std::string account;
  std::string kind;  // "flood", "slow", "botnet", "heavy"
  int64_t from = 0;  // first spam recipient
  int64_t until = 0;
  double bounce_ratio = 0;  // share of its spam recipients that bounce
};

struct Scenario {
  std::string log;  // the main log, lines in time order
  uint64_t lines = 0;
  std::vector<std::string> accounts;  // every account, honest and hijacked
  std::vector<CompromisedAccount> compromised;
  // Honest accounts by profile, for tests that look at one.
  std::vector<std::string> heavy_senders;
  std::vector<std::string> newsletters;
  bool IsCompromised(const std::string& account) const;
};

Scenario GenerateScenario(const ScenarioOptions& options);

}  // namespace senderwatch::testing

#endif  // SENDERWATCH_TESTS_TESTUTIL_SCENARIO_LOG_H_
