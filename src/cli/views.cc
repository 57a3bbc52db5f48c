// Account views for top/show/dump; see views.h.
#include "cli/views.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "cli/format.h"
#include "senderwatch/network.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {
namespace {

// Sorting needs a finite number for "limit 0 and something counted".
constexpr double kInfinitePressure = 1e9;

double Pressure(double value, double limit, bool enabled, uint64_t min, double min_basis) {
  if (!enabled) return 0;
  double pressure;
  if (limit > 0) {
    pressure = value / limit;
  } else {
    pressure = value > 0 ? kInfinitePressure : 0;
  }
  if (min > 0 && min_basis < static_cast<double>(min)) {
    pressure = std::min(pressure, 1.0) * (min_basis / static_cast<double>(min));
  }
  return std::min(pressure, kInfinitePressure);
}

}  // namespace

std::vector<RuleView> ViewRules(const Policy& policy, const AccountRecord& record,
                                UnixSeconds now) {
  std::vector<RuleView> views;
  const std::vector<RuleReading> readings = ReadRules(policy, record, now, LimitOverrides{});
  views.reserve(readings.size());
  for (const RuleReading& reading : readings) {
    RuleView view;
    view.RuleReading::operator=(reading);
    const Rule& rule = *reading.rule;
    view.since_release = rule.action == Action::kLock && record.evidence_after > 0;
    if (rule.metric == Metric::kBounceRatio) {
      uint64_t recipients = 0;
      MetricValue(record, rule.metric, rule.window_seconds, now,
                  view.since_release ? record.evidence_after : 0, &recipients);
      view.min_basis = static_cast<double>(recipients);
    } else {
      view.min_basis = reading.value;
    }
    view.pressure = Pressure(view.value, view.limit, view.enabled, rule.min, view.min_basis);
    views.push_back(view);
  }
  return views;
}

std::string_view LimitSource(const RuleView& view) {
  if (!view.rule->learned) return "static";
  return view.learned ? "learned" : "fallback";
}

std::string LimitMarker(const RuleView& view) {
  if (!view.rule->learned) return "";
  return view.learned ? "learned" : "fallback: too little history";
}

AccountSummary Summarize(const Policy& policy, const AccountRecord& record, UnixSeconds now) {
  AccountSummary summary;
  summary.account = record.account;
  summary.locked = record.IsLocked(now);
  summary.last_seen = record.last_seen;
  const std::vector<RuleView> rules = ViewRules(policy, record, now);
  for (const RuleView& view : rules) {
    if (view.fired && view.rule->action > summary.state) summary.state = view.rule->action;
    if (view.pressure > summary.risk) {
      summary.risk = view.pressure;
      summary.risk_rule = view.rule->name;
    }
  }
  if (summary.locked) {
    summary.state = Action::kLock;
    summary.lock_rule = record.lock.rule;
  }
  for (size_t i = 0; i < kTopMetrics.size(); ++i) {
    MetricView& column = summary.metrics[i];
    column.metric = kTopMetrics[i];
    const RuleView* best = nullptr;
    for (const RuleView& view : rules) {
      if (view.rule->metric != column.metric || !view.enabled) continue;
      if (best == nullptr || view.pressure > best->pressure) best = &view;
    }
    if (best != nullptr) {
      column.CopyEvidence(EvidenceOf(*best));
      column.has_limit = true;
      column.pressure = best->pressure;
      column.fired = best->fired;
      column.learned_rule = best->rule->learned;
      column.learned = best->learned;
    } else {
      column.window_seconds = 3600;
      column.value = MetricValue(record, column.metric, column.window_seconds, now);
    }
  }
  return summary;
}

std::string StateLabel(const AccountSummary& summary) {
  if (summary.locked) return "LOCKED";
  return std::string(ActionName(summary.state));
}

std::string LockExplanation(const LockState& lock) {
  if (lock.rule == "manual" || lock.rule.empty()) {
    return "locked by hand by " + (lock.by.empty() ? std::string("an administrator") : lock.by);
  }
  return "rule " + lock.rule + ": " + std::string(MetricName(lock.metric)) + " " +
         FormatNumber(lock.value) + " > " + FormatNumber(lock.limit) + " over " +
         FormatDuration(lock.window_seconds);
}

void WriteTime(JsonWriter& json, std::string_view key, UnixSeconds when) {
  json.Key(key);
  if (when == 0) {
    json.Null();
  } else {
    json.String(FormatTime(when));
  }
}

std::string DescribeUndecodable(const UndecodableRecord& record, UnixSeconds now) {
  std::string line = SanitizeForTerminal(record.account) + ": ";
  line += record.set_aside ? "set aside " + FormatTimeAndAgo(record.set_aside_at, now)
                           : std::string("in place");
  line += ", " + FormatBytes(record.bytes) + ", " + SanitizeForTerminal(record.problem);
  if (record.journal_locked) line += "; LOCKED in the lock journal (answered as locked)";
  return line;
}

void WriteUndecodableJson(JsonWriter& json, const std::vector<UndecodableRecord>& records) {
  json.BeginArray();
  for (const auto& record : records) {
    json.BeginObject();
    json.Field("account", record.account);
    json.Field("set_aside", record.set_aside);
    WriteTime(json, "set_aside_at", record.set_aside_at);
    json.Field("bytes", record.bytes);
    json.Field("problem", record.problem);
    json.Field("journal_locked", record.journal_locked);
    json.EndObject();
  }
  json.EndArray();
}

void WriteRecordJson(JsonWriter& json, const AccountRecord& record, UnixSeconds now) {
  json.BeginObject();
  json.Field("account", record.account);
  json.Field("locked", record.IsLocked(now));
  json.Key("lock").BeginObject();
  json.Field("locked", record.lock.locked);
  WriteTime(json, "since", record.lock.since);
  WriteTime(json, "until", record.lock.until);
  json.Field("rule", record.lock.rule);
  json.Field("metric", MetricName(record.lock.metric));
  json.Field("value", record.lock.value);
  json.Field("limit", record.lock.limit);
  json.Field("window_seconds", record.lock.window_seconds);
  json.Field("reason", record.lock.reason);
  json.Field("by", record.lock.by);
  json.EndObject();
  json.Field("lock_count", static_cast<uint64_t>(record.lock_count));
  json.Key("last_release").BeginObject();
  WriteTime(json, "at", record.last_release.at);
  json.Field("by", record.last_release.by);
  json.Field("reason", record.last_release.reason);
  json.EndObject();
  WriteTime(json, "evidence_after", record.evidence_after);
  WriteTime(json, "first_seen", record.first_seen);
  WriteTime(json, "last_seen", record.last_seen);
  json.Key("windows").BeginObject();
  for (int64_t window : kStandardWindows) {
    json.Key(FormatDuration(window)).BeginObject();
    for (Metric metric : kAllMetrics) {
      const double value = MetricValue(record, metric, window, now);
      json.Key(MetricName(metric));
      if (metric == Metric::kBounceRatio) {
        json.Double(value);
      } else {
        json.Uint(static_cast<uint64_t>(value));
      }
    }
    json.EndObject();
  }
  json.EndObject();
  json.Key("networks").BeginArray();
  const size_t count = std::min<size_t>(record.network_count, record.networks.size());
  for (size_t i = 0; i < count; ++i) {
    const NetworkSighting& sighting = record.networks[i];
    json.BeginObject();
    json.Field("network", FormatClientNetwork(sighting.network));
    WriteTime(json, "first_seen", static_cast<UnixSeconds>(sighting.first_minute) * 60);
    WriteTime(json, "last_seen", static_cast<UnixSeconds>(sighting.last_minute) * 60);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
}

std::string AdminActionJson(std::string_view action, const AccountRecord& record,
                            std::initializer_list<JsonFlag> flags, std::string_view by,
                            UnixSeconds now) {
  JsonWriter json;
  json.BeginObject();
  json.Field("action", action);
  json.Field("account", record.account);
  for (const JsonFlag& flag : flags) json.Field(flag.key, flag.value);
  json.Field("by", by);
  json.Key("record");
  WriteRecordJson(json, record, now);
  json.EndObject();
  return json.Take();
}

void WriteRulesJson(JsonWriter& json, const std::vector<RuleView>& rules) {
  json.BeginArray();
  for (const RuleView& view : rules) {
    json.BeginObject();
    json.Field("rule", view.rule->name);
    json.Field("metric", MetricName(view.rule->metric));
    json.Field("window_seconds", view.rule->window_seconds);
    json.Field("action", ActionName(view.rule->action));
    json.Field("applies_to", OriginName(view.rule->applies_to));
    json.Field("value", view.value);
    json.Field("limit", view.limit);
    json.Field("next_limit", view.next_limit);
    json.Field("min", view.rule->min);
    json.Field("enabled", view.enabled);
    json.Field("fired", view.fired);
    json.Field("pressure", view.pressure);
    json.Field("since_release", view.since_release);
    json.Field("learned", view.learned);
    json.Field("limit_source", LimitSource(view));
    json.EndObject();
  }
  json.EndArray();
}

}  // namespace senderwatch::cli
