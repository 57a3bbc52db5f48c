// What `top` and `show` compute from a record: rule pressure, the summary
// columns, the lock explanation and the stable JSON of a record.
#include <gtest/gtest.h>

#include "cli/views.h"
#include "senderwatch/engine.h"
#include "senderwatch/store.h"
#include "testutil/testutil.h"

namespace senderwatch::cli {
namespace {

constexpr UnixSeconds kT0 = 1'790'000'000;

class ViewsTest : public ::testing::Test {
 protected:
  ViewsTest() : store_(NewMemoryStore()), clock_(kT0), engine_(policy_, *store_, clock_, log_) {}

  AccountRecord Record(std::string_view account) {
    auto record = store_->Get(account);
    EXPECT_TRUE(record && record->has_value());
    return record && record->has_value() ? **record : AccountRecord{};
  }

  Policy policy_ = DefaultPolicy();
  std::unique_ptr<Store> store_;
  ManualClock clock_;
  senderwatch::testing::CapturingLogger log_;
  Engine engine_;
};

const RuleView& Find(const std::vector<RuleView>& views, std::string_view name) {
  for (const RuleView& v : views) {
    if (v.rule->name == name) return v;
  }
  ADD_FAILURE() << "no rule " << name;
  return views.front();
}

// While the first lock is in force its limits are the ones that applied to
// it; the escalated ones are only "next time" (docs/tuning.md, escalation).
TEST_F(ViewsTest, EscalatedLimitsAreNextTimeWhileTheLockHolds) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(engine_.CheckSender("mallory", "192.0.2.1"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(engine_.RecordBounce("mallory", "x@y", "550 5.1.1"));
  AccountRecord locked = Record("mallory");
  ASSERT_TRUE(locked.IsLocked(clock_.Now()));
  ASSERT_EQ(locked.lock.rule, "bounce-ratio");
  // Find returns a reference into the vector: keep the vectors alive.
  const std::vector<RuleView> while_locked = ViewRules(policy_, locked, clock_.Now());
  const RuleView& during = Find(while_locked, "bounce-ratio");
  EXPECT_DOUBLE_EQ(during.limit, locked.lock.limit);
  EXPECT_DOUBLE_EQ(during.limit, 0.3);
  EXPECT_DOUBLE_EQ(during.next_limit, 0.15);
  // Rate limits (defer rules) never escalate.
  const RuleView& rate = Find(while_locked, "rcpt-rate");
  EXPECT_DOUBLE_EQ(rate.next_limit, rate.limit);

  ASSERT_TRUE(engine_.Unlock("mallory", "password changed", "root", false));
  const std::vector<RuleView> released = ViewRules(policy_, Record("mallory"), clock_.Now());
  const RuleView& after = Find(released, "bounce-ratio");
  EXPECT_DOUBLE_EQ(after.limit, 0.15);
  EXPECT_DOUBLE_EQ(after.next_limit, after.limit);
}

TEST_F(ViewsTest, AdminActionJsonKeepsTheDocumentedFieldOrder) {
  AccountRecord record;
  record.account = "mallory";
  const std::string json =
      AdminActionJson("unlock", record, {{"was_locked", true}, {"reset", false}}, "jane", 1000);
  const size_t action = json.find(R"("action": "unlock")");
  const size_t account = json.find(R"("account": "mallory")");
  const size_t was_locked = json.find(R"("was_locked": true)");
  const size_t reset = json.find(R"("reset": false)");
  const size_t by = json.find(R"("by": "jane")");
  const size_t rec = json.find(R"("record": {)");
  ASSERT_NE(rec, std::string::npos) << json;
  EXPECT_LT(action, account);
  EXPECT_LT(account, was_locked);
  EXPECT_LT(was_locked, reset);
  EXPECT_LT(reset, by);
  EXPECT_LT(by, rec);
}

TEST_F(ViewsTest, PressureIsValueOverLimit) {
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(engine_.CheckSender("bob", "192.0.2.1"));
  const auto views = ViewRules(policy_, Record("bob"), clock_.Now());
  const RuleView& rate = Find(views, "rcpt-rate");
  EXPECT_DOUBLE_EQ(rate.value, 500);
  EXPECT_DOUBLE_EQ(rate.pressure, 500.0 / rate.limit);
  EXPECT_FALSE(rate.fired);
}

TEST_F(ViewsTest, RatioBelowMinEvidenceIsScaledDown) {
  // One bounce out of two recipients is a ratio of 0.5, far above 0.3, but
  // the rule needs 20 recipients: it must not look like it is firing.
  ASSERT_TRUE(engine_.CheckSender("carol", "192.0.2.1"));
  ASSERT_TRUE(engine_.CheckSender("carol", "192.0.2.1"));
  ASSERT_TRUE(engine_.RecordBounce("carol", "x@y", "550"));
  const std::vector<RuleView> views = ViewRules(policy_, Record("carol"), clock_.Now());
  const RuleView& ratio = Find(views, "bounce-ratio");
  EXPECT_DOUBLE_EQ(ratio.value, 0.5);
  EXPECT_DOUBLE_EQ(ratio.min_basis, 2);
  EXPECT_LT(ratio.pressure, 0.2);
  EXPECT_FALSE(ratio.fired);
}

TEST_F(ViewsTest, SummaryOfALockedAccountShowsLockAndFiredColumns) {
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(engine_.CheckSender("mallory", "192.0.2.1"));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(engine_.RecordBounce("mallory", "dead@x", "550"));
  const AccountRecord record = Record("mallory");
  ASSERT_TRUE(record.IsLocked(clock_.Now()));
  const AccountSummary summary = Summarize(policy_, record, clock_.Now());
  EXPECT_TRUE(summary.locked);
  EXPECT_EQ(summary.state, Action::kLock);
  EXPECT_EQ(StateLabel(summary), "LOCKED");
  EXPECT_GT(summary.risk, 1.0);
  const MetricView& ratio = summary.metrics[2];
  ASSERT_EQ(ratio.metric, Metric::kBounceRatio);
  EXPECT_TRUE(ratio.has_limit);
  EXPECT_TRUE(ratio.fired);
  EXPECT_DOUBLE_EQ(ratio.value, 0.5);
  EXPECT_EQ(LockExplanation(record.lock).rfind("rule bounce-ratio: bounce_ratio ", 0), 0u)
      << LockExplanation(record.lock);
}

TEST_F(ViewsTest, MetricWithoutRuleShowsLastHourWithoutLimit) {
  Policy policy = policy_;
  policy.rules.clear();
  ASSERT_TRUE(engine_.RecordDefer("dan", "x@y", "451"));
  ASSERT_TRUE(engine_.CheckSender("dan", "192.0.2.1"));
  const AccountSummary summary = Summarize(policy, Record("dan"), clock_.Now());
  EXPECT_EQ(summary.state, Action::kOk);
  EXPECT_EQ(summary.risk, 0);
  EXPECT_FALSE(summary.metrics[0].has_limit);
  EXPECT_DOUBLE_EQ(summary.metrics[0].value, 1);
}

TEST_F(ViewsTest, ManualLockIsExplainedWithItsAuthor) {
  ASSERT_TRUE(engine_.Lock("erin", "phished", "jane"));
  EXPECT_EQ(LockExplanation(Record("erin").lock), "locked by hand by jane");
}

TEST_F(ViewsTest, RecordJsonHasTheDocumentedShape) {
  ASSERT_TRUE(engine_.CheckSender("Frank", "198.51.100.7"));
  ASSERT_TRUE(engine_.Lock("frank", "test \"quoted\"", "jane"));
  JsonWriter json(/*pretty=*/false);
  WriteRecordJson(json, Record("frank"), clock_.Now());
  const std::string text = json.Take();
  EXPECT_EQ(text.rfind(R"({"account":"frank","locked":true,"lock":{"locked":true,"since":")", 0),
            0u)
      << text;
  EXPECT_NE(text.find(R"("rule":"manual")"), std::string::npos);
  EXPECT_NE(text.find(R"("reason":"test \"quoted\"","by":"jane")"), std::string::npos);
  EXPECT_NE(text.find(R"("lock_count":1,"last_release":{"at":null,"by":"","reason":""})"),
            std::string::npos);
  EXPECT_NE(text.find(R"("1h":{"recipients":1,"bounces":0,"defers":0,"bounce_ratio":0,)"
                      R"("client_ips":1,"authfails":0,"spam_rejects":0,"new_recipient_ratio":0,"sender_mismatch":0})"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("networks":[{"network":"198.51.100.0/24","first_seen":")"),
            std::string::npos);
}

TEST_F(ViewsTest, LearnedRuleSaysWhereItsLimitComesFrom) {
  // The default rcpt-rate is learned: a new account gets its fallback (1000)
  // until it has min_history (3d) and min_active_hours (8) behind it.
  ASSERT_TRUE(engine_.CheckSender("grace", "192.0.2.1"));
  const std::vector<RuleView> first = ViewRules(policy_, Record("grace"), clock_.Now());
  const RuleView fresh = Find(first, "rcpt-rate");
  EXPECT_FALSE(fresh.learned);
  EXPECT_DOUBLE_EQ(fresh.limit, 1000);
  EXPECT_EQ(LimitSource(fresh), "fallback");
  EXPECT_EQ(LimitMarker(fresh), "fallback: too little history");
  EXPECT_EQ(LimitSource(Find(first, "bounce-flood")), "static");
  EXPECT_EQ(LimitMarker(Find(first, "bounce-flood")), "");

  // Four days of 10 an hour (11 in the first): learned, 3 x 11 (above the
  // floor of 20).
  for (int hour = 0; hour < 4 * 24; ++hour) {
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(engine_.CheckSender("grace", "192.0.2.1"));
    clock_.Advance(3600);
  }
  const AccountRecord record = Record("grace");
  const std::vector<RuleView> later = ViewRules(policy_, record, clock_.Now());
  const RuleView learned = Find(later, "rcpt-rate");
  EXPECT_TRUE(learned.learned);
  EXPECT_DOUBLE_EQ(learned.limit, 33);
  EXPECT_EQ(LimitSource(learned), "learned");
  EXPECT_EQ(LimitMarker(learned), "learned");
  const AccountSummary summary = Summarize(policy_, record, clock_.Now());
  const MetricView& rcpt = summary.metrics[0];
  ASSERT_EQ(rcpt.metric, Metric::kRecipients);
  EXPECT_TRUE(rcpt.learned_rule);
  EXPECT_TRUE(rcpt.learned);
  EXPECT_DOUBLE_EQ(rcpt.limit, 33);

  JsonWriter json(/*pretty=*/false);
  WriteRulesJson(json, {learned, fresh});
  const std::string text = json.Take();
  EXPECT_NE(text.find(R"("limit":33,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("learned":true,"limit_source":"learned"})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("learned":false,"limit_source":"fallback"})"), std::string::npos) << text;
}

}  // namespace
}  // namespace senderwatch::cli
