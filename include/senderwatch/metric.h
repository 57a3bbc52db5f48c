// The per-account measurements rules can test. Four are counters kept in
// sliding windows; bounce_ratio and client_ips are derived from the record.
#ifndef SENDERWATCH_METRIC_H_
#define SENDERWATCH_METRIC_H_

#include <array>
#include <optional>
#include <string_view>

namespace senderwatch {

enum class Metric {
  kRecipients,   // RCPTs counted by check_sender
  kBounces,      // hard failures counted by record_bounce
  kDefers,       // temporary failures counted by record_defer
  kBounceRatio,  // bounces / recipients over the same window
  kClientIps,    // distinct client networks (IPv4 /24, IPv6 /64) in the window
  kAuthfails,    // failed SMTP AUTH attempts counted by record_authfail
};

inline constexpr std::array<Metric, 6> kAllMetrics = {
    Metric::kRecipients,  Metric::kBounces,   Metric::kDefers,
    Metric::kBounceRatio, Metric::kClientIps, Metric::kAuthfails};

// The counters stored in the windows, in storage order. Changing this order
// changes the on-disk format (docs/format.md).
enum class Counter { kRecipients = 0, kBounces = 1, kDefers = 2, kAuthfails = 3 };
inline constexpr int kCounterCount = 4;

// "recipients", "bounces", "defers", "bounce_ratio", "client_ips", "authfails".
std::string_view MetricName(Metric metric);
std::optional<Metric> ParseMetric(std::string_view name);

}  // namespace senderwatch

#endif  // SENDERWATCH_METRIC_H_
