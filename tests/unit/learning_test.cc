// Learned limits, the recipient filter, sender ownership, escalation and
// the record format migration (issue 6).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "senderwatch/engine.h"
#include "senderwatch/history.h"
#include "senderwatch/units.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

constexpr UnixSeconds kT0 = 1'790'000'000 - 1'790'000'000 % 3600;

TEST(QuantizeCount, ExactSmallAndWithinFivePercentLarge) {
  for (uint64_t v = 0; v < 32; ++v) EXPECT_EQ(DequantizeCount(QuantizeCount(v)), v);
  for (uint64_t v : {32u, 100u, 999u, 5000u, 65535u, 400000u}) {
    const double back = static_cast<double>(DequantizeCount(QuantizeCount(v)));
    EXPECT_LE(back, static_cast<double>(v));
    EXPECT_GE(back, 0.95 * static_cast<double>(v)) << v;
  }
}

TEST(AccountHistory, RoundTripsAndRejectsGarbage) {
  AccountHistory h;
  h.head_hour = 123456;
  h.recipients[7] = 42;
  h.NoteRecipient("x@y", 10, 168);
  auto back = DecodeHistory(EncodeHistory(h));
  ASSERT_TRUE(back);
  EXPECT_EQ(EncodeHistory(*back), EncodeHistory(h));
  EXPECT_FALSE(DecodeHistory("SWH"));
  EXPECT_FALSE(DecodeHistory(EncodeHistory(h).substr(1)));
}

TEST(AccountHistory, RecipientFilterRemembersForAtLeastHalfASpan) {
  AccountHistory h;
  EXPECT_TRUE(h.NoteRecipient("friend@x.test", 1000, 168));
  EXPECT_FALSE(h.NoteRecipient("friend@x.test", 1001, 168));
  EXPECT_FALSE(h.NoteRecipient("friend@x.test", 1000 + 168, 168));  // previous generation
  EXPECT_TRUE(h.NoteRecipient("friend@x.test", 1000 + 3 * 168, 168));  // forgotten
}

class LearningTest : public ::testing::Test {
 protected:
  LearningTest() : store_(NewMemoryStore()), clock_(kT0), engine_(policy_, *store_, clock_, log_) {
    policy_.rules = {};
    Rule rule;
    rule.name = "rcpt-rate";
    rule.metric = Metric::kRecipients;
    rule.window_seconds = 3600;
    rule.above = 1000;  // the fallback
    rule.learned = true;
    rule.action = Action::kDefer;
    policy_.rules.push_back(rule);
  }

  // `per_hour` recipients in each of `hours` hours, spread over the hour.
  void SendHours(std::string_view account, int hours, int per_hour) {
    for (int h = 0; h < hours; ++h) {
      for (int i = 0; i < per_hour; ++i) {
        ASSERT_TRUE(engine_.CheckSender(account, "192.0.2.1"));
        clock_.Advance(3600 / std::max(per_hour, 1));
      }
      clock_.Set(kT0 + (h + 1) * 3600 + (clock_.Now() - kT0) % 1);  // next hour boundary
      clock_.Set(kT0 + (h + 1) * int64_t{3600});
    }
  }

  Action Burst(std::string_view account, int n) {
    Action worst = Action::kOk;
    for (int i = 0; i < n; ++i) {
      auto v = engine_.CheckSender(account, "192.0.2.1");
      EXPECT_TRUE(v);
      if (v && v->action > worst) worst = v->action;
    }
    return worst;
  }

  Policy policy_ = DefaultPolicy();
  std::unique_ptr<Store> store_;
  ManualClock clock_;
  testing::CapturingLogger log_;
  Engine engine_;
};

TEST_F(LearningTest, NewAccountIsJudgedByTheStaticFallback) {
  EXPECT_EQ(Burst("fresh", 900), Action::kOk);
  EXPECT_EQ(Burst("fresh", 200), Action::kDefer);
}

TEST_F(LearningTest, OrdinaryAccountThatJumpsIsDeferredBelowTheStaticLimit) {
  SendHours("ordinary", 4 * 24, 20);
  clock_.Advance(3600);                              // a quiet hour empties the 1h window
  EXPECT_EQ(Burst("ordinary", 59), Action::kOk);     // 3 x 20 = 60 per hour
  EXPECT_EQ(Burst("ordinary", 10), Action::kDefer);  // far below the static 1000
  auto r = store_->Get("ordinary");
  ASSERT_TRUE(r && r->has_value());
  auto learned = LearnedLimit(policy_, policy_.rules[0], **r, clock_.Now());
  ASSERT_TRUE(learned);
  EXPECT_EQ(*learned, 60);
}

TEST_F(LearningTest, HeavyHonestSenderIsNotLimitedAtItsUsualVolume) {
  SendHours("newsletter", 4 * 24, 900);
  EXPECT_EQ(Burst("newsletter", 1500), Action::kOk);  // above the static 1000
}

TEST_F(LearningTest, NewRecipientsAndForeignSendersAreCounted) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(engine_.CheckSender("carol@example.test", "192.0.2.1", {},
                                    CheckContext{"old@friend.test", "carol@example.test"}));
  }
  ASSERT_TRUE(engine_.CheckSender("carol@example.test", "192.0.2.1", {},
                                  CheckContext{"new@stranger.test", "ceo@bank.test"}));
  auto r = store_->Get("carol@example.test");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ(CounterInWindow(**r, Counter::kNewRecipients, 3600, clock_.Now()), 2u);
  EXPECT_EQ(CounterInWindow(**r, Counter::kSenderMismatch, 3600, clock_.Now()), 1u);
}

TEST_F(LearningTest, BounceReasonsAreCountedByKind) {
  ASSERT_TRUE(engine_.RecordBounce("dan", "x@y", "550 5.1.1 User unknown"));
  ASSERT_TRUE(engine_.RecordBounce("dan", "x@y", "554 5.7.1 rejected as spam"));
  ASSERT_TRUE(engine_.RecordBounce("dan", "x@y", "552 5.2.2 Mailbox full"));
  auto r = store_->Get("dan");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ(CounterInWindow(**r, Counter::kBounces, 3600, clock_.Now()), 1u);
  EXPECT_EQ(CounterInWindow(**r, Counter::kSpamRejects, 3600, clock_.Now()), 1u);
}

TEST(Escalation, RepeatOffenderIsLockedSooner) {
  Policy policy = DefaultPolicy();
  auto store = NewMemoryStore();
  ManualClock clock(kT0);
  NullLogger log;
  Engine engine(policy, *store, clock, log);
  for (int i = 1; i <= 11; ++i) ASSERT_TRUE(engine.CheckSender("eve", "10." + std::to_string(i) + ".0.1"));
  ASSERT_EQ(engine.PeekSender("eve")->action, Action::kLock);
  clock.Advance(120);
  ASSERT_TRUE(engine.Unlock("eve", "password changed", "root", false));
  clock.Advance(120);
  // Locked once before: the network limit is halved, 6 networks are enough.
  Action last = Action::kOk;
  for (int i = 1; i <= 6; ++i) last = engine.CheckSender("eve", "10." + std::to_string(i) + ".0.1")->action;
  EXPECT_EQ(last, Action::kLock);
  EXPECT_EQ((*store->Get("eve"))->lock_count, 2u);
}

TEST(SenderOwnership, FollowsTheConfiguredRule) {
  SenderSettings s;
  EXPECT_TRUE(OwnsSender(s, "alice@example.test", "Alice@Example.test"));
  EXPECT_TRUE(OwnsSender(s, "alice", "alice@example.test"));
  EXPECT_FALSE(OwnsSender(s, "alice@example.test", "bob@example.test"));
  EXPECT_TRUE(OwnsSender(s, "alice@example.test", ""));
  s.ownership = SenderOwnership::kDomain;
  EXPECT_TRUE(OwnsSender(s, "alice@example.test", "sales@example.test"));
  EXPECT_FALSE(OwnsSender(s, "alice@example.test", "sales@other.test"));
  s.ownership = SenderOwnership::kLookup;
  s.owners["alice@example.test"] = {"@shop.test", "info@example.test"};
  EXPECT_TRUE(OwnsSender(s, "alice@example.test", "orders@shop.test"));
  EXPECT_TRUE(OwnsSender(s, "alice@example.test", "info@example.test"));
  EXPECT_FALSE(OwnsSender(s, "alice@example.test", "alice@example.test"));
}

TEST(LearnedPolicy, ParsesAndRoundTrips) {
  auto p = ParsePolicy(R"(
[learn]
span = "7d"
percentile = 95
multiple = 4

[[rule]]
name = "rcpt-learned"
metric = "recipients"
above = "learned"
fallback = 500
floor = 30
action = "defer"
)", "l.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->rules[0].learned);
  EXPECT_EQ(p->rules[0].above, 500);
  EXPECT_EQ(p->learn.span_seconds, 7 * 86400);
  auto again = ParsePolicy(FormatPolicy(*p), "again");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(FormatPolicy(*again), FormatPolicy(*p));
  EXPECT_FALSE(ParsePolicy("[[rule]]\nname=\"x\"\nmetric=\"client_ips\"\nabove=\"learned\"\nfallback=3\naction=\"warn\"\n", "x"));
  EXPECT_FALSE(ParsePolicy("[[rule]]\nname=\"x\"\nmetric=\"recipients\"\nabove=\"learned\"\naction=\"warn\"\n", "x"));
}

TEST(RecordMigration, ReadsVersion1AndWritesVersion2) {
  std::ifstream in(SENDERWATCH_TESTDATA "/record_v1.hex");
  ASSERT_TRUE(in);
  std::stringstream hex;
  hex << in.rdbuf();
  std::string bytes;
  std::string digits;
  for (char c : hex.str()) {
    if (std::isxdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  ASSERT_EQ(static_cast<uint8_t>(bytes[3]), 1);
  auto v1 = DecodeRecord(bytes, "alice@example.test");
  ASSERT_TRUE(v1) << v1.error().message;
  const UnixSeconds t = 1'790'000'000 + 180;
  EXPECT_EQ(CounterInWindow(*v1, Counter::kRecipients, 3600, t), 40u);
  EXPECT_EQ(CounterInWindow(*v1, Counter::kBounces, 3600, t), 13u);
  EXPECT_EQ(CounterInWindow(*v1, Counter::kDefers, 86400, t), 2u);
  EXPECT_EQ(CounterInWindow(*v1, Counter::kAuthfails, 3600, t), 1u);
  EXPECT_EQ(CounterInWindow(*v1, Counter::kSpamRejects, 3600, t), 0u);
  EXPECT_TRUE(v1->lock.locked);
  EXPECT_EQ(v1->lock.rule, "bounce-ratio");
  EXPECT_EQ(v1->last_release.reason, "password changed");
  EXPECT_EQ(v1->lock_count, 2u);
  const std::string v2 = EncodeRecord(*v1);
  EXPECT_EQ(static_cast<uint8_t>(v2[3]), kRecordVersion);
  auto back = DecodeRecord(v2, "alice@example.test");
  ASSERT_TRUE(back);
  EXPECT_EQ(EncodeRecord(*back), v2);
}

}  // namespace
}  // namespace senderwatch
