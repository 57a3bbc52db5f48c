// Policy evaluation: the same code decides in the plugin, in `show`/`top`
// and in log replay. It reads a record; it never writes one (the engine
// stores locks).
#include <cstdio>

#include "senderwatch/verdict.h"

namespace senderwatch {

double MetricValue(const AccountRecord& record, Metric metric,
                   int64_t window_seconds, UnixSeconds now,
                   UnixSeconds evidence_after, uint64_t* denominator) {
  const auto counter = [&](Counter c) {
    return static_cast<double>(
        CounterInWindow(record, c, window_seconds, now, evidence_after));
  };
  switch (metric) {
    case Metric::kRecipients: return counter(Counter::kRecipients);
    case Metric::kBounces: return counter(Counter::kBounces);
    case Metric::kDefers: return counter(Counter::kDefers);
    case Metric::kAuthfails: return counter(Counter::kAuthfails);
    case Metric::kClientIps:
      return static_cast<double>(NetworksInWindow(record, window_seconds, now, evidence_after));
    case Metric::kBounceRatio: {
      const double recipients = counter(Counter::kRecipients);
      if (denominator != nullptr) *denominator = static_cast<uint64_t>(recipients);
      return recipients > 0 ? counter(Counter::kBounces) / recipients : 0.0;
    }
  }
  return 0;
}

std::vector<RuleReading> ReadRules(const Policy& policy,
                                   const AccountRecord& record, UnixSeconds now,
                                   const LimitOverrides& overrides) {
  std::vector<RuleReading> readings;
  readings.reserve(policy.rules.size());
  for (const Rule& rule : policy.rules) {
    RuleReading reading;
    reading.rule = &rule;
    reading.limit = rule.above;
    if (!overrides.empty()) {
      if (auto it = overrides.limits.find(rule.name); it != overrides.limits.end()) {
        reading.enabled = it->second.has_value();
        if (it->second) reading.limit = *it->second;
      }
    }
    // A release wipes the slate for lock rules only: rate limits (defer)
    // keep counting what really happened.
    const UnixSeconds floor = rule.action == Action::kLock ? record.evidence_after : 0;
    uint64_t denominator = 0;
    reading.value = MetricValue(record, rule.metric, rule.window_seconds, now, floor, &denominator);
    const double min_basis =
        rule.metric == Metric::kBounceRatio ? static_cast<double>(denominator) : reading.value;
    reading.fired = reading.enabled && reading.value > reading.limit &&
                    min_basis >= static_cast<double>(rule.min);
    readings.push_back(reading);
  }
  return readings;
}

Verdict Evaluate(const Policy& policy, const AccountRecord& record,
                 UnixSeconds now, const LimitOverrides& overrides) {
  Verdict verdict;
  if (record.IsLocked(now)) {
    const LockState& lock = record.lock;
    verdict.action = Action::kLock;
    verdict.rule = lock.rule;
    verdict.metric = lock.metric;
    verdict.value = lock.value;
    verdict.limit = lock.limit;
    verdict.window_seconds = lock.window_seconds;
    verdict.since = lock.since;
    verdict.reason = lock.reason;
    return verdict;
  }
  for (const RuleReading& reading : ReadRules(policy, record, now, overrides)) {
    if (!reading.fired || reading.rule->action <= verdict.action) continue;
    verdict.action = reading.rule->action;
    verdict.rule = reading.rule->name;
    verdict.metric = reading.rule->metric;
    verdict.value = reading.value;
    verdict.limit = reading.limit;
    verdict.window_seconds = reading.rule->window_seconds;
  }
  return verdict;
}

}  // namespace senderwatch
