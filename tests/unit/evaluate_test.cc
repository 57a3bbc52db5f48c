#include <gtest/gtest.h>

#include <string>

#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/verdict.h"

namespace senderwatch {
namespace {

// Evaluation sums each distinct window once in a small fixed cache; a
// policy with more distinct windows than it holds must read them all the same.
TEST(Evaluate, ReadsEveryWindowBeyondTheSumCache) {
  std::string toml;
  for (int minutes = 1; minutes <= 12; ++minutes) {
    toml += "[[rule]]\nname = \"w" + std::to_string(minutes) + "\"\nmetric = \"recipients\"\n" +
            "window = \"" + std::to_string(minutes) + "m\"\n" +
            "above = " + (minutes == 12 ? "3" : "1000") + "\naction = \"" +
            (minutes == 12 ? "defer" : "warn") + "\"\n";
  }
  auto policy = ParsePolicy(toml, "test");
  ASSERT_TRUE(policy) << policy.error().message;
  const UnixSeconds now = 1'800'000'000;
  AccountRecord record;
  record.account = "alice";
  record.first_seen = now - 600;
  for (int i = 0; i < 5; ++i) record.Count(Counter::kRecipients, now - 60 * i);

  const auto readings = ReadRules(*policy, record, now, LimitOverrides{});
  ASSERT_EQ(readings.size(), 12u);
  for (size_t i = 0; i < readings.size(); ++i) {
    // Window i+1 minutes holds the events of the last i+1 minutes.
    EXPECT_EQ(readings[i].value, static_cast<double>(std::min<size_t>(i + 1, 5))) << i;
  }
  const Verdict verdict = Evaluate(*policy, record, now, LimitOverrides{});
  EXPECT_EQ(verdict.action, Action::kDefer);
  EXPECT_EQ(verdict.rule, "w12");
  EXPECT_EQ(verdict.value, 5);
}

// Of two fired rules with the same action the first in policy order wins,
// and a stronger action wins over an earlier weaker one.
TEST(Evaluate, StrongestActionWinsAndTheFirstBreaksTies) {
  auto policy = ParsePolicy(R"(
[[rule]]
name = "first-warn"
metric = "recipients"
window = "1h"
above = 1
action = "warn"
[[rule]]
name = "first-defer"
metric = "recipients"
window = "1h"
above = 1
action = "defer"
[[rule]]
name = "second-defer"
metric = "recipients"
window = "10m"
above = 1
action = "defer"
)", "test");
  ASSERT_TRUE(policy) << policy.error().message;
  const UnixSeconds now = 1'800'000'000;
  AccountRecord record;
  record.account = "alice";
  record.first_seen = now - 600;
  for (int i = 0; i < 3; ++i) record.Count(Counter::kRecipients, now);
  const Verdict verdict = Evaluate(*policy, record, now, LimitOverrides{});
  EXPECT_EQ(verdict.action, Action::kDefer);
  EXPECT_EQ(verdict.rule, "first-defer");
}

}  // namespace
}  // namespace senderwatch
