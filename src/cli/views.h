// How an account looks to a person or a script: the readings of every rule
// ("how close is each rule to firing"), summaries for `top`, and the JSON
// form of a record shared by dump, show, lock and unlock. Everything here is
// computed through the public library (ReadRules, MetricValue,
// CounterInWindow); nothing reads the record format.
#ifndef SENDERWATCH_SRC_CLI_VIEWS_H_
#define SENDERWATCH_SRC_CLI_VIEWS_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "cli/json.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/store.h"
#include "senderwatch/verdict.h"

namespace senderwatch::cli {

// Windows shown for every metric by `show` and in the JSON of a record.
inline constexpr std::array<int64_t, 3> kStandardWindows = {600, 3600, 86400};

// The metrics `top` shows as columns and accepts for --by.
inline constexpr std::array<Metric, 5> kTopMetrics = {Metric::kRecipients, Metric::kBounces,
                                                      Metric::kBounceRatio, Metric::kClientIps,
                                                      Metric::kAuthfails};

// One rule's reading (RuleReading: rule, value, limit, next_limit, enabled,
// fired, learned) with the facts a person needs to judge it.
struct RuleView : RuleReading {
  // How close the rule is to firing: value / limit, scaled down while the
  // `min` evidence is not reached (so 1 bounce of 2 mails is not "166%").
  // >= 1 means at or over the limit; a fired rule is always > 1.
  double pressure = 0;
  // Rule::min is measured in recipients for bounce_ratio, else in the value.
  double min_basis = 0;
  // Lock rules ignore evidence before the last release.
  bool since_release = false;
};

// Where a rule's limit comes from, for people and scripts: "static" (the
// rule's `above`), "learned" (the account's history) or "fallback" (a
// learned rule whose account has too little history yet).
std::string_view LimitSource(const RuleView& view);
// The marker `show` puts after a learned rule's limit: "learned" or
// "fallback: too little history"; empty for static rules.
std::string LimitMarker(const RuleView& view);

std::vector<RuleView> ViewRules(const Policy& policy, const AccountRecord& record, UnixSeconds now);

// One column of `top`: the metric's value against the limit of the rule on
// that metric that is closest to firing (no rule: the last hour, no limit,
// no rule name).
struct MetricView : Evidence {
  bool has_limit = false;
  double pressure = 0;
  bool fired = false;
  bool learned_rule = false;  // the rule is learned (above = "learned")
  bool learned = false;       // ... and its limit comes from the history
};

struct AccountSummary {
  std::string account;
  bool locked = false;         // a lock is in force now
  Action state = Action::kOk;  // kLock when locked, else the strongest fired rule
  double risk = 0;             // the highest pressure of any rule
  std::string risk_rule;       // the rule with that pressure
  std::string lock_rule;       // the rule that locked it (when locked)
  UnixSeconds last_seen = 0;
  std::array<MetricView, kTopMetrics.size()> metrics{};
};

AccountSummary Summarize(const Policy& policy, const AccountRecord& record, UnixSeconds now);

// "LOCKED", "defer", "warn", "ok" as shown in tables.
std::string StateLabel(const AccountSummary& summary);

// One sentence on why an account is locked, from its stored lock:
// "rule bounce-ratio: bounce_ratio 0.45 > 0.3 over 1h" or
// "locked by hand by alice".
std::string LockExplanation(const LockState& lock);

// JSON: an ISO time, or null for 0.
void WriteTime(JsonWriter& json, std::string_view key, UnixSeconds when);
// The stable JSON form of a record (docs/cli.md "Record object").
void WriteRecordJson(JsonWriter& json, const AccountRecord& record, UnixSeconds now);
// The JSON answer of lock and unlock (docs/cli.md): {"action", "account",
// the `flags` in order, "by", "record"}.
struct JsonFlag {
  std::string_view key;
  bool value;
};
std::string AdminActionJson(std::string_view action, const AccountRecord& record,
                            std::initializer_list<JsonFlag> flags, std::string_view by,
                            UnixSeconds now);
// The JSON form of rule readings (docs/cli.md "Rule reading object").
void WriteRulesJson(JsonWriter& json, const std::vector<RuleView>& rules);

// Records the store cannot decode (Store::Undecodable), so that an admin
// sees them: one line each, "ACCOUNT: in place|set aside TIME, N bytes,
// PROBLEM[, locked in the lock journal]", sanitized for the terminal.
std::string DescribeUndecodable(const UndecodableRecord& record, UnixSeconds now);
// JSON: an array of {account, set_aside, set_aside_at, bytes, problem,
// journal_locked} (docs/cli.md).
void WriteUndecodableJson(JsonWriter& json, const std::vector<UndecodableRecord>& records);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_VIEWS_H_
