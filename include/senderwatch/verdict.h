// What the plugin tells Exim, and what `replay` reports: the verdict and the
// evidence behind it, rendered as ${extract}-friendly key=value pairs.
#ifndef SENDERWATCH_VERDICT_H_
#define SENDERWATCH_VERDICT_H_

#include <optional>
#include <string>
#include <vector>

#include "senderwatch/clock.h"
#include "senderwatch/evidence.h"
#include "senderwatch/metric.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"

namespace senderwatch {

// The evidence (evidence.h) is that of the deciding rule; its rule is empty
// when action is kOk.
struct Verdict : Evidence {
  Action action = Action::kOk;
  // Lock verdicts only: when the lock began and why.
  UnixSeconds since = 0;
  std::string reason;
  // Set when the verdict is a fail-open (or on_error=defer) answer to an
  // internal error, or when bad input (an invalid recipient, say) was left
  // out of the count; the text names the cause. The action stays what the
  // account's record says: an error never turns a lock into ok.
  std::string error;
};

// "verdict=defer rule=bounce-flood metric=bounces value=63 limit=50 window=1h"
// Values with spaces are double-quoted; quotes and control characters never
// appear inside values, so Exim's ${extract} always parses the result.
std::string FormatVerdict(const Verdict& verdict);

// One rule's reading for an account at a moment: what `show` and `top`
// display and what evaluation decides on.
struct RuleReading {
  const Rule* rule = nullptr;
  double value = 0;
  double limit = 0;        // after learning, escalation and per-call overrides
  // While the account is locked: the limit of a lock rule once it is
  // released (escalated for the lock in force); else equal to `limit`.
  double next_limit = 0;
  bool enabled = true;     // false when an override turned the rule off
  bool fired = false;
  // Learned rules: true when the limit came from the account's history,
  // false while the static fallback applies.
  bool learned = false;
};

// What the reading would give as evidence if its rule fired.
Evidence EvidenceOf(const RuleReading& reading);

// The learned limit of `rule` for this account at `now`, or nullopt while
// the account has too little history (then the rule's fallback applies).
std::optional<double> LearnedLimit(const Policy& policy, const Rule& rule,
                                   const AccountRecord& record, UnixSeconds now);

// The value of `metric` for `record` over `window_seconds` ending at `now`.
// Only evidence after `evidence_after` counts (0: all). For bounce_ratio,
// `denominator` receives the recipients in the window (may be null).
double MetricValue(const AccountRecord& record, Metric metric,
                   int64_t window_seconds, UnixSeconds now,
                   UnixSeconds evidence_after = 0,
                   uint64_t* denominator = nullptr);

// Reads every rule of the policy. Lock rules ignore evidence from before the
// last release. Cost is linear in the number of rules.
std::vector<RuleReading> ReadRules(const Policy& policy,
                                   const AccountRecord& record, UnixSeconds now,
                                   const LimitOverrides& overrides);

// The strongest verdict over all rules (the first rule in policy order wins
// a tie). An account already locked yields its stored lock verdict.
Verdict Evaluate(const Policy& policy, const AccountRecord& record,
                 UnixSeconds now, const LimitOverrides& overrides);

}  // namespace senderwatch

#endif  // SENDERWATCH_VERDICT_H_
