// The per-account measurements rules can test. Four are counters kept in
// sliding windows; bounce_ratio and client_ips are derived from the record.
#ifndef SENDERWATCH_METRIC_H_
#define SENDERWATCH_METRIC_H_

#include <array>
#include <optional>
#include <string_view>

namespace senderwatch {

enum class Metric {
  kRecipients,         // RCPTs counted by check_sender
  kBounces,            // hard failures to dead addresses (5.1.x), record_bounce
  kDefers,             // temporary failures counted by record_defer
  kBounceRatio,        // bounces / recipients over the same window
  kClientIps,          // distinct client networks (IPv4 /24, IPv6 /64) in the window
  kAuthfails,          // failed SMTP AUTH attempts counted by record_authfail
  kSpamRejects,        // failures as spam or by policy (5.7.x), record_bounce
  kNewRecipientRatio,  // share of recipients the account never wrote to before
  kSenderMismatch,     // envelope senders the account does not own
};

inline constexpr std::array<Metric, 9> kAllMetrics = {
    Metric::kRecipients,  Metric::kBounces,     Metric::kDefers,
    Metric::kBounceRatio, Metric::kClientIps,   Metric::kAuthfails,
    Metric::kSpamRejects, Metric::kNewRecipientRatio, Metric::kSenderMismatch};

// The counters stored in the windows, in storage order. Changing this order
// changes the on-disk format (docs/format.md).
enum class Counter {
  kRecipients = 0,
  kBounces = 1,
  kDefers = 2,
  kAuthfails = 3,
  kSpamRejects = 4,
  kSenderMismatch = 5,
  kNewRecipients = 6,  // recipients not seen before (the ratio's numerator)
};
inline constexpr int kCounterCount = 7;

// "recipients", "bounces", "defers", "bounce_ratio", "client_ips", "authfails",
// "spam_rejects", "new_recipient_ratio", "sender_mismatch".
std::string_view MetricName(Metric metric);
std::optional<Metric> ParseMetric(std::string_view name);

}  // namespace senderwatch

#endif  // SENDERWATCH_METRIC_H_
