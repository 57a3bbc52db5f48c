#include "senderwatch/engine.h"

#include <gtest/gtest.h>

#include "testutil/testutil.h"

namespace senderwatch {
namespace {

constexpr UnixSeconds kT0 = 1'790'000'000;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : store_(NewMemoryStore()), clock_(kT0), engine_(policy_, *store_, clock_, log_) {}

  Verdict Check(std::string_view account, std::string_view ip = "192.0.2.1") {
    auto v = engine_.CheckSender(account, ip);
    EXPECT_TRUE(v) << v.error().message;
    return v.value_or(Verdict{});
  }

  Policy policy_ = DefaultPolicy();
  std::unique_ptr<Store> store_;
  ManualClock clock_;
  testing::CapturingLogger log_;
  Engine engine_;
};

TEST_F(EngineTest, HonestSenderStaysOk) {
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(Check("alice").action, Action::kOk);
    if (i % 40 == 0) {
      ASSERT_TRUE(engine_.RecordBounce("alice", "x@y", "550"));
    }
    clock_.Advance(10);
  }
}

// Local submissions (check_sender with an empty CLIENT_IP, record_bounce
// with origin=local) are judged by the rules for their kind only.
TEST_F(EngineTest, RulesApplyToTheirOriginOnly) {
  // name, metric, window, above, min, action, learned, floor, applies_to
  policy_.rules = {
      Rule{"smtp-rcpts", Metric::kRecipients, 3600, 2, 0, Action::kDefer, false, {}, Origin::kSmtp},
      Rule{"local-bounces", Metric::kBounces, 3600, 1, 0, Action::kLock, false, {}, Origin::kLocal}};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Check("www-data", "").action, Action::kOk) << i;
  EXPECT_EQ(Check("alice").action, Action::kOk);
  EXPECT_EQ(Check("alice").action, Action::kOk);
  EXPECT_EQ(Check("alice").action, Action::kDefer);  // 3 > 2, over SMTP
  // Bounces of SMTP mail never reach the local rule...
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine_.RecordBounce("alice", "x@y", "550", Origin::kSmtp));
  EXPECT_EQ(Check("alice").action, Action::kDefer);
  // ... those of local mail do, and the lock holds for every kind.
  ASSERT_TRUE(engine_.RecordBounce("www-data", "x@y", "550", Origin::kLocal));
  ASSERT_TRUE(engine_.RecordBounce("www-data", "x@y", "550", Origin::kLocal));
  const Verdict v = Check("www-data", "");
  EXPECT_EQ(v.action, Action::kLock);
  EXPECT_EQ(v.rule, "local-bounces");
  EXPECT_EQ(Check("www-data").action, Action::kLock);
  // An override cannot turn a rule on for the other kind.
  LimitOverrides overrides;
  overrides.limits["smtp-rcpts"] = 0.0;
  auto local = engine_.CheckSender("cron", "", overrides);
  ASSERT_TRUE(local);
  EXPECT_EQ(local->action, Action::kOk);
}

TEST_F(EngineTest, BounceRatioLocksAndLockPersists) {
  for (int i = 0; i < 30; ++i) Check("mallory");
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(engine_.RecordBounce("mallory", "dead@x", "550 5.1.1"));
  const Verdict v = Check("mallory");
  EXPECT_EQ(v.action, Action::kLock);
  EXPECT_EQ(v.rule, "bounce-ratio");
  EXPECT_TRUE(log_.Contains("account mallory locked by rule bounce-ratio"));
  clock_.Advance(3 * 24 * 3600);  // the windows are long gone; the lock is not
  EXPECT_EQ(Check("mallory").action, Action::kLock);
}

TEST_F(EngineTest, BounceAloneCanLockWithoutAnotherRcpt) {
  for (int i = 0; i < 25; ++i) Check("bob");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(engine_.RecordBounce("bob", "dead@x", "550"));
  auto peek = engine_.PeekSender("bob");
  ASSERT_TRUE(peek);
  EXPECT_EQ(peek->action, Action::kLock);
  EXPECT_NE(peek->since, 0);
}

TEST_F(EngineTest, ReleaseStartsAfreshForLockRules) {
  for (int i = 0; i < 30; ++i) Check("carol");
  for (int i = 0; i < 15; ++i) ASSERT_TRUE(engine_.RecordBounce("carol", "dead@x", "550"));
  ASSERT_EQ(Check("carol").action, Action::kLock);
  clock_.Advance(60);
  auto released = engine_.Unlock("carol", "password changed", "root", false);
  ASSERT_TRUE(released && released->has_value());
  EXPECT_EQ((*released)->last_release.by, "root");
  clock_.Advance(60);
  EXPECT_EQ(Check("carol").action, Action::kOk);  // old bounces do not re-lock
}

TEST_F(EngineTest, CountsAreCaseInsensitive) {
  Check("Dave@Example.test");
  Check("dave@example.TEST");
  auto r = store_->Get("dave@example.test");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ(CounterInWindow(**r, Counter::kRecipients, 3600, kT0), 2u);
}

TEST_F(EngineTest, ManyNetworksLock) {
  for (int i = 1; i <= 11; ++i) Check("erin", "127." + std::to_string(i) + ".0.1");
  EXPECT_EQ(Check("erin", "127.1.0.1").action, Action::kLock);
}

TEST_F(EngineTest, OverridesRaiseAndDisableLimits) {
  LimitOverrides raise;
  raise.limits["rcpt-rate"] = 5000.0;
  for (int i = 0; i < 1001; ++i) Check("frank");
  EXPECT_EQ(Check("frank").action, Action::kDefer);
  auto v = engine_.CheckSender("frank", "192.0.2.1", raise);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->action, Action::kOk);
  LimitOverrides off;
  off.limits["rcpt-rate"] = std::nullopt;
  EXPECT_EQ(engine_.PeekSender("frank", off)->action, Action::kOk);
}

TEST_F(EngineTest, TimedLockExpires) {
  policy_.lock_duration_seconds = 600;
  for (int i = 1; i <= 11; ++i) Check("gina", "10." + std::to_string(i) + ".0.1");
  EXPECT_EQ(Check("gina").action, Action::kLock);
  clock_.Advance(601);
  EXPECT_EQ(Check("gina").action, Action::kOk);
  auto r = store_->Get("gina");
  EXPECT_EQ((*r)->last_release.by, "expiry");
}

TEST_F(EngineTest, ManualLockIgnoresLockDuration) {
  policy_.lock_duration_seconds = 600;
  ASSERT_TRUE(engine_.Lock("gina", "test", "admin"));
  clock_.Advance(601);
  EXPECT_EQ(Check("gina").action, Action::kLock);
}

TEST_F(EngineTest, ManualLockRecordsWhoAndWhy) {
  auto r = engine_.Lock("hank", "phishing report", "postmaster");
  ASSERT_TRUE(r);
  const Verdict v = Check("hank");
  EXPECT_EQ(v.action, Action::kLock);
  EXPECT_EQ(v.rule, "manual");
  EXPECT_EQ(v.reason, "phishing report");
  EXPECT_EQ(r->lock.by, "postmaster");
}

TEST_F(EngineTest, RefusesBadArguments) {
  EXPECT_FALSE(engine_.CheckSender("", "192.0.2.1"));
  EXPECT_FALSE(engine_.RecordBounce(std::string(300, 'x'), "", ""));
}

TEST_F(EngineTest, BadAddressesAreLeftOutOfTheCountAndReported) {
  auto v = engine_.CheckSender("ivan", "999.1.1.1", {}, CheckContext{"victim\xff@remote.test", {}});
  ASSERT_TRUE(v);
  EXPECT_NE(v->error.find("client address"), std::string::npos) << v->error;
  EXPECT_NE(v->error.find("recipient"), std::string::npos) << v->error;
  auto r = store_->Get("ivan");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ(CounterInWindow(**r, Counter::kRecipients, 3600, clock_.Now()), 1u);
  EXPECT_EQ((*r)->network_count, 0u);
}

TEST_F(EngineTest, BadRecipientNeverHidesALock) {
  ASSERT_TRUE(engine_.Lock("ivan", "phished", "postmaster"));
  auto v = engine_.CheckSender("ivan", "192.0.2.1", {}, CheckContext{"victim\xff@remote.test", {}});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->action, Action::kLock);
  EXPECT_FALSE(v->error.empty());
  auto bad_ip = engine_.CheckSender("ivan", "not-an-ip");
  ASSERT_TRUE(bad_ip);
  EXPECT_EQ(bad_ip->action, Action::kLock);
}

TEST_F(EngineTest, UnlockOfUnknownAccountIsNotFound) {
  auto r = engine_.Unlock("nobody", "", "root", false);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
}

}  // namespace
}  // namespace senderwatch
