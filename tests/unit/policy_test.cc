#include "senderwatch/policy.h"

#include <gtest/gtest.h>

#include <fstream>

#include "senderwatch/units.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

TEST(Policy, AppliesToNamesTheKindOfSubmission) {
  auto p = ParsePolicy(
      "[[rule]]\nname=\"a\"\nmetric=\"bounces\"\nabove=1\naction=\"lock\"\napplies_to=\"local\"\n"
      "[[rule]]\nname=\"b\"\nmetric=\"bounces\"\nabove=1\naction=\"lock\"\n",
      "p.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->rules[0].applies_to, Origin::kLocal);
  EXPECT_EQ(p->rules[1].applies_to, Origin::kAny);
  EXPECT_NE(FormatPolicy(*p).find("applies_to = \"local\""), std::string::npos);
  auto bad = ParsePolicy(
      "[[rule]]\nname=\"a\"\nmetric=\"bounces\"\nabove=1\naction=\"lock\"\napplies_to=\"web\"\n",
      "p.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("applies_to"), std::string::npos);
  EXPECT_FALSE(ParsePolicy("[[rule]]\nname=\"origin\"\nmetric=\"bounces\"\nabove=1\naction=\"lock\"\n",
                           "p.toml"));
}

TEST(Policy, DefaultsHaveLockAndDeferRules) {
  const Policy p = DefaultPolicy();
  ASSERT_FALSE(p.rules.empty());
  bool has_lock = false;
  for (const Rule& r : p.rules) has_lock |= r.action == Action::kLock;
  EXPECT_TRUE(has_lock);
  EXPECT_EQ(p.on_error, OnError::kAccept);
}

TEST(Policy, ParsesTheDesignExample) {
  auto p = ParsePolicy(R"(
[store]
path = "/var/spool/exim4/db/senderwatch"
max_size = "1GiB"
durability = "periodic"

[[rule]]
name   = "bounce-ratio"
metric = "bounce_ratio"
window = "1h"
above  = 0.3
min    = 20
action = "lock"

[lock]
duration = "0"
)", "t.toml");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->rules.size(), 1u);
  EXPECT_EQ(p->rules[0].metric, Metric::kBounceRatio);
  EXPECT_EQ(p->rules[0].min, 20u);
  EXPECT_EQ(p->store.max_size, uint64_t{1} << 30);
}

TEST(Policy, ErrorsPointAtLineAndColumn) {
  auto p = ParsePolicy("[[rule]]\nname = \"x\"\nmetric = \"bounces\"\nabov = 3\n", "p.toml");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("p.toml:4:"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("abov"), std::string::npos);
}

TEST(Policy, RejectsWindowsThatSlotsCannotHoldExactly) {
  for (const char* window : {"90s", "61m", "25h", "0"}) {
    auto p = ParsePolicy(std::string("[[rule]]\nname=\"x\"\nmetric=\"bounces\"\nabove=1\naction=\"warn\"\nwindow=\"") +
                             window + "\"\n",
                         "w.toml");
    EXPECT_FALSE(p) << window;
  }
}

TEST(Policy, FormatParsesBackToTheSamePolicy) {
  const Policy p = DefaultPolicy();
  auto again = ParsePolicy(FormatPolicy(p), "formatted");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(FormatPolicy(*again), FormatPolicy(p));
}

TEST(Policy, ProvisionalRecordsAreACountCappedByTheMapSize) {
  auto p = ParsePolicy("[store]\nprovisional_records = 5000\nmax_size = \"1MiB\"\n", "p.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->store.provisional_records, 5000u);
  EXPECT_EQ(ProvisionalCap(p->store), 256u);  // one per 4 KiB of max_size
  auto again = ParsePolicy(FormatPolicy(*p), "formatted");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->store.provisional_records, 5000u);
  EXPECT_EQ(ProvisionalCap(DefaultPolicy().store), 100000u);
  EXPECT_FALSE(ParsePolicy("[store]\nprovisional_records = -1\n", "n.toml"));
  EXPECT_FALSE(ParsePolicy("[store]\nprovisional_records = \"many\"\n", "s.toml"));
}

TEST(Policy, AnEmptyRuleListSurvivesFormatting) {
  // Found by fuzz_policy: "rule = []" means no rules, not the defaults.
  auto p = ParsePolicy("rule = []\n[store]\n", "empty.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->rules.empty());
  auto again = ParsePolicy(FormatPolicy(*p), "formatted");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->rules.empty());
}

TEST(Policy, FormattingEscapesControlCharacters) {
  // Found by fuzz_policy: a notify command with an escaped newline.
  auto p = ParsePolicy("notify = \"a \\\"b\\nc\\u0001\\\"\"\n", "n.toml");
  ASSERT_TRUE(p) << p.error().message;
  auto again = ParsePolicy(FormatPolicy(*p), "formatted");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->notify, p->notify);
}

TEST(Policy, RefusesNonFiniteLimitsAndHugeDurations) {
  // Found by fuzz_policy (long runs).
  for (const char* above : {"nan", "inf", "-inf"}) {
    EXPECT_FALSE(ParsePolicy(std::string("[[rule]]\nname=\"x\"\nmetric=\"bounces\"\naction=\"warn\"\nabove=") +
                                 above + "\n", "f.toml"))
        << above;
  }
  EXPECT_FALSE(ParsePolicy("[store]\nretention = \"672189411w\"\n", "d.toml"));
  EXPECT_FALSE(ParseDuration("672189411w"));
  EXPECT_TRUE(ParseDuration("5200w"));
}

TEST(Policy, LoadRefusesWhatIsNotARegularFile) {
  auto dev = LoadPolicyFile("/dev/zero");
  ASSERT_FALSE(dev);
  EXPECT_NE(dev.error().message.find("not a regular file"), std::string::npos);
  EXPECT_FALSE(LoadPolicyFile("/nonexistent/senderwatch.toml"));
}

TEST(LimitOverrides, ParsesLimitsAndOff) {
  auto o = ParseLimitOverrides("bounce-flood=200, rcpt-rate=off;bounce-ratio=0.5");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->limits.at("bounce-flood"), 200.0);
  EXPECT_FALSE(o->limits.at("rcpt-rate").has_value());
  EXPECT_EQ(o->limits.at("bounce-ratio"), 0.5);
  EXPECT_FALSE(ParseLimitOverrides("bounce-flood"));
  EXPECT_FALSE(ParseLimitOverrides("x=-1"));
  EXPECT_TRUE(ParseLimitOverrides("")->empty());
}

TEST(Units, ParsesAndFormatsDurations) {
  EXPECT_EQ(*ParseDuration("90s"), 90);
  EXPECT_EQ(*ParseDuration("2d"), 172800);
  EXPECT_FALSE(ParseDuration("1.5h"));
  EXPECT_FALSE(ParseDuration("-1h"));
  EXPECT_EQ(FormatDuration(3600), "1h");
  EXPECT_EQ(FormatDuration(600), "10m");
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace senderwatch

namespace senderwatch {
namespace {

void WriteFile(const std::string& path, std::string_view text) { std::ofstream(path) << text; }

TEST(Policy, ParsingReadsNoFiles) {
  // The [sender] file is read by LoadPolicyFile, not while parsing text
  // (fuzzers and check-config's round trip parse without a filesystem).
  auto p = ParsePolicy("[sender]\nownership = \"lookup\"\nfile = \"/nonexistent/owners\"\n", "p.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->sender.file, "/nonexistent/owners");
  EXPECT_TRUE(p->sender.owners.empty());
}

TEST(Policy, SenderFileIsReadAsEximReadsAnLsearchFile) {
  testing::TempDir dir;
  const std::string owners = dir.Join("owners");
  WriteFile(owners,
            "# who may send as whom\n"
            "Alice: alice@example.test,\n"
            "   @Shop.test\n"                    // a continuation line
            "\"bob smith\" bob@example.test\n"   // quoted key, no colon
            "alice: *\n");                       // a second alice line is never read
  const std::string path = dir.Join("senderwatch.toml");
  WriteFile(path, "[sender]\nownership = \"lookup\"\nfile = \"" + owners + "\"\n");
  auto p = LoadPolicyFile(path);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->sender.owners.at("alice"), (std::vector<std::string>{"alice@example.test", "@shop.test"}));
  EXPECT_EQ(p->sender.owners.at("bob smith"), std::vector<std::string>{"bob@example.test"});
  EXPECT_TRUE(OwnsSender(p->sender, "alice", "x@shop.test"));
  EXPECT_FALSE(OwnsSender(p->sender, "alice", "x@other.test"));
}

TEST(Policy, MissingSenderFileNamesThePolicyAndTheFile) {
  testing::TempDir dir;
  const std::string path = dir.Join("senderwatch.toml");
  WriteFile(path, "[sender]\nownership = \"lookup\"\nfile = \"" + dir.Join("absent") + "\"\n");
  auto p = LoadPolicyFile(path);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find(path), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("absent"), std::string::npos) << p.error().message;
}

}  // namespace
}  // namespace senderwatch
