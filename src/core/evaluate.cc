// Policy evaluation: the same code decides in the plugin, in `show`/`top`
// and in log replay. It reads a record; it never writes one (the engine
// stores locks).
#include <algorithm>
#include <array>
#include <cmath>

#include "senderwatch/verdict.h"

namespace senderwatch {
namespace {

// Hourly count of `counter` in completed hour `hour`: the exact hour ring
// for recent hours not yet absorbed, the long history for older ones.
uint64_t HourValue(const AccountRecord& record, Counter counter, uint32_t hour) {
  const AccountHistory& history = record.history;
  if (history.head_hour == 0 || hour > history.head_hour) {
    return record.hours.Sum(counter, hour, hour);
  }
  if (hour + kHistoryHours <= history.head_hour) return 0;  // older than the history
  const auto& hourly = counter == Counter::kBounces ? history.bounces : history.recipients;
  return DequantizeCount(hourly[hour % kHistoryHours]);
}

bool HasHistory(const LearnSettings& learn, const AccountRecord& record, UnixSeconds now) {
  return record.first_seen > 0 && now - record.first_seen >= learn.min_history_seconds;
}

}  // namespace

std::optional<double> LearnedLimit(const Policy& policy, const Rule& rule,
                                   const AccountRecord& record, UnixSeconds now) {
  const LearnSettings& learn = policy.learn;
  if (!rule.learned || !HasHistory(learn, record, now)) return std::nullopt;
  const Counter counter = rule.metric == Metric::kBounces ? Counter::kBounces : Counter::kRecipients;
  const auto now_hour = static_cast<uint32_t>(now / 3600);
  const auto span_hours = static_cast<uint32_t>(std::min<int64_t>(learn.span_seconds / 3600, kHistoryHours));
  const auto first_hour = std::max(static_cast<uint32_t>(record.first_seen / 3600),
                                   now_hour > span_hours ? now_hour - span_hours : 0u);
  std::array<uint64_t, kHistoryHours> values;
  size_t n = 0;
  uint32_t active = 0;
  for (uint32_t hour = first_hour; hour < now_hour && n < values.size(); ++hour) {
    values[n] = HourValue(record, counter, hour);
    active += values[n] > 0;
    ++n;
  }
  if (n == 0 || active < learn.min_active_hours) return std::nullopt;
  // Nearest-rank percentile over every hour of the span, idle hours included.
  const auto rank = static_cast<size_t>(std::ceil(learn.percentile / 100.0 * static_cast<double>(n)));
  const size_t index = std::clamp<size_t>(rank, 1, n) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.begin() + static_cast<std::ptrdiff_t>(n));
  const double hourly = std::max(rule.floor.value_or(learn.floor),
                                 learn.multiple * static_cast<double>(values[index]));
  const double hours = std::max<double>(1.0, static_cast<double>(rule.window_seconds) / 3600.0);
  return hourly * hours;
}

namespace {

// A metric's value from the counter sums of its window.
double ValueFromSums(const AccountRecord& record, Metric metric,
                     const std::array<uint64_t, kCounterCount>& sums, int64_t window_seconds,
                     UnixSeconds now, UnixSeconds evidence_after, uint64_t* denominator) {
  const auto counter = [&](Counter c) { return static_cast<double>(sums[static_cast<size_t>(c)]); };
  const auto ratio = [&](Counter numerator) {
    const double recipients = counter(Counter::kRecipients);
    if (denominator != nullptr) *denominator = static_cast<uint64_t>(recipients);
    return recipients > 0 ? std::min(1.0, counter(numerator) / recipients) : 0.0;
  };
  switch (metric) {
    case Metric::kRecipients: return counter(Counter::kRecipients);
    case Metric::kBounces: return counter(Counter::kBounces);
    case Metric::kDefers: return counter(Counter::kDefers);
    case Metric::kAuthfails: return counter(Counter::kAuthfails);
    case Metric::kSpamRejects: return counter(Counter::kSpamRejects);
    case Metric::kSenderMismatch: return counter(Counter::kSenderMismatch);
    case Metric::kClientIps:
      return static_cast<double>(NetworksInWindow(record, window_seconds, now, evidence_after));
    case Metric::kBounceRatio: return ratio(Counter::kBounces);
    case Metric::kNewRecipientRatio: return ratio(Counter::kNewRecipients);
  }
  return 0;
}

}  // namespace

double MetricValue(const AccountRecord& record, Metric metric,
                   int64_t window_seconds, UnixSeconds now,
                   UnixSeconds evidence_after, uint64_t* denominator) {
  return ValueFromSums(record, metric,
                       CountersInWindow(record, window_seconds, now, evidence_after),
                       window_seconds, now, evidence_after, denominator);
}

namespace {

// Computes each rule's reading in policy order and hands it to `visit`.
// Allocates nothing: Evaluate runs on every check_sender, and `show`,
// `top` and replay call it for every record (docs/performance.md).
template <typename Visit>
void VisitRules(const Policy& policy, const AccountRecord& record, UnixSeconds now,
                const LimitOverrides& overrides, Visit&& visit) {
  // Repeat offenders: lock rules trip sooner after each earlier lock. While
  // a lock is in force it is one of lock_count: the limits that applied to
  // it are those of the locks before it; the next lock's are one step on.
  const uint32_t earlier_locks =
      record.IsLocked(now) && record.lock_count > 0 ? record.lock_count - 1 : record.lock_count;
  const double escalation = std::pow(policy.escalation, std::min<uint32_t>(earlier_locks, 3));
  const double next_step = earlier_locks < 3 ? policy.escalation : 1.0;
  // Rules mostly share a window (and an evidence floor): sum each distinct
  // pair once, so the cost grows with windows, not with rules. A policy
  // with more distinct pairs than the cache holds sums the rest per rule.
  struct Sums {
    int64_t window;
    UnixSeconds floor;
    std::array<uint64_t, kCounterCount> totals;
  };
  std::array<Sums, 8> cache;
  size_t cached = 0;
  Sums uncached;
  const auto sums_for = [&](int64_t window, UnixSeconds floor) -> const std::array<uint64_t, kCounterCount>& {
    for (size_t i = 0; i < cached; ++i) {
      if (cache[i].window == window && cache[i].floor == floor) return cache[i].totals;
    }
    Sums& slot = cached < cache.size() ? cache[cached++] : uncached;
    slot = {window, floor, CountersInWindow(record, window, now, floor)};
    return slot.totals;
  };
  for (const Rule& rule : policy.rules) {
    RuleReading reading;
    reading.rule = &rule;
    reading.limit = rule.above;
    if (rule.learned) {
      if (auto learned = LearnedLimit(policy, rule, record, now)) {
        reading.limit = *learned;
        reading.learned = true;
      }
    }
    reading.next_limit = reading.limit;
    if (rule.action == Action::kLock) {
      reading.limit *= escalation;
      reading.next_limit = reading.limit * (record.IsLocked(now) ? next_step : 1.0);
    }
    if (overrides.origin != Origin::kAny && rule.applies_to != Origin::kAny &&
        rule.applies_to != overrides.origin) {
      reading.enabled = false;  // a rule for the other kind of submission
    }
    if (!overrides.limits.empty()) {
      if (auto it = overrides.limits.find(rule.name); it != overrides.limits.end()) {
        reading.enabled = reading.enabled && it->second.has_value();
        if (it->second) reading.limit = reading.next_limit = *it->second;
      }
    }
    // A release wipes the slate for lock rules only: rate limits (defer)
    // keep counting what really happened.
    const UnixSeconds floor = rule.action == Action::kLock ? record.evidence_after : 0;
    uint64_t denominator = 0;
    reading.value = ValueFromSums(record, rule.metric, sums_for(rule.window_seconds, floor),
                                  rule.window_seconds, now, floor, &denominator);
    // Every recipient of a new account is new: the ratio means nothing yet.
    if (rule.metric == Metric::kNewRecipientRatio && !HasHistory(policy.learn, record, now)) {
      reading.value = 0;
    }
    const bool is_ratio =
        rule.metric == Metric::kBounceRatio || rule.metric == Metric::kNewRecipientRatio;
    const double min_basis = is_ratio ? static_cast<double>(denominator) : reading.value;
    reading.fired = reading.enabled && reading.value > reading.limit &&
                    min_basis >= static_cast<double>(rule.min);
    visit(reading);
  }
}

}  // namespace

std::vector<RuleReading> ReadRules(const Policy& policy,
                                   const AccountRecord& record, UnixSeconds now,
                                   const LimitOverrides& overrides) {
  std::vector<RuleReading> readings;
  readings.reserve(policy.rules.size());
  VisitRules(policy, record, now, overrides,
             [&](const RuleReading& reading) { readings.push_back(reading); });
  return readings;
}

Evidence EvidenceOf(const RuleReading& reading) {
  Evidence evidence;
  evidence.rule = reading.rule->name;
  evidence.metric = reading.rule->metric;
  evidence.value = reading.value;
  evidence.limit = reading.limit;
  evidence.window_seconds = reading.rule->window_seconds;
  return evidence;
}

Verdict Evaluate(const Policy& policy, const AccountRecord& record,
                 UnixSeconds now, const LimitOverrides& overrides) {
  Verdict verdict;
  if (record.IsLocked(now)) {
    const LockState& lock = record.lock;
    verdict.action = Action::kLock;
    verdict.CopyEvidence(lock);
    verdict.since = lock.since;
    verdict.reason = lock.reason;
    return verdict;
  }
  const RuleReading* strongest = nullptr;
  RuleReading chosen;
  VisitRules(policy, record, now, overrides, [&](const RuleReading& reading) {
    if (!reading.fired) return;
    if (strongest != nullptr && reading.rule->action <= strongest->rule->action) return;
    chosen = reading;
    strongest = &chosen;
  });
  if (strongest == nullptr || strongest->rule->action <= Action::kOk) return verdict;
  verdict.action = strongest->rule->action;
  verdict.CopyEvidence(EvidenceOf(*strongest));  // the rule name copied once, for the winner only
  return verdict;
}

}  // namespace senderwatch
