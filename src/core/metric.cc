// Metric and action names as they appear in policy files, verdicts and JSON.
#include "senderwatch/metric.h"
#include "senderwatch/policy.h"

namespace senderwatch {
namespace {

constexpr std::string_view kMetricNames[] = {
    "recipients",   "bounces",      "defers",
    "bounce_ratio", "client_ips",   "authfails",
    "spam_rejects", "new_recipient_ratio", "sender_mismatch"};
constexpr std::string_view kActionNames[] = {"ok", "warn", "defer", "lock"};

}  // namespace

std::string_view MetricName(Metric metric) {
  return kMetricNames[static_cast<int>(metric)];
}

std::optional<Metric> ParseMetric(std::string_view name) {
  for (Metric m : kAllMetrics) {
    if (MetricName(m) == name) return m;
  }
  return std::nullopt;
}

std::string_view ActionName(Action action) {
  return kActionNames[static_cast<int>(action)];
}

std::optional<Action> ParseAction(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (kActionNames[i] == name) return static_cast<Action>(i);
  }
  return std::nullopt;
}

std::string_view OriginName(Origin origin) {
  switch (origin) {
    case Origin::kSmtp: return "smtp";
    case Origin::kLocal: return "local";
    case Origin::kAny: break;
  }
  return "any";
}

std::optional<Origin> ParseOrigin(std::string_view name) {
  for (Origin o : {Origin::kAny, Origin::kSmtp, Origin::kLocal}) {
    if (OriginName(o) == name) return o;
  }
  return std::nullopt;
}

}  // namespace senderwatch
