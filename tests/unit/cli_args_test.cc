// Command-line parsing shared by every verb.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/args.h"

namespace senderwatch::cli {
namespace {

constexpr OptionSpec kSpecs[] = {{"by", 0, true}, {"count", 'n', true}, {"all", 'a', false}};

Result<ParsedArgs> Parse(std::vector<std::string> args) { return ParseArgs(args, kSpecs); }

TEST(ParseArgs, AcceptsLongShortInlineAndPositional) {
  auto p = Parse({"alice", "--by", "bounces", "-n", "5", "--all", "bob"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->Value("by"), "bounces");
  EXPECT_EQ(p->Value("count"), "5");
  EXPECT_TRUE(p->Has("all"));
  EXPECT_EQ(p->positional(), (std::vector<std::string>{"alice", "bob"}));

  p = Parse({"--by=bounce_ratio", "-n7", "-an", "3"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->Value("by"), "bounce_ratio");
  EXPECT_EQ(p->Values("count"), (std::vector<std::string>{"7", "3"}));
  EXPECT_EQ(p->Value("count"), "3");  // the last one wins
  EXPECT_TRUE(p->Has("all"));
}

TEST(ParseArgs, DoubleDashEndsOptions) {
  auto p = Parse({"--all", "--", "--by", "-n"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->positional(), (std::vector<std::string>{"--by", "-n"}));
  EXPECT_FALSE(p->Has("by"));
}

TEST(ParseArgs, ReportsMistakesPrecisely) {
  auto p = Parse({"--bye", "x"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(p.error().message, "unknown option '--bye'");
  EXPECT_EQ(Parse({"--by"}).error().message, "option '--by' needs a value");
  EXPECT_EQ(Parse({"--all=yes"}).error().message, "option '--all' takes no value");
  EXPECT_EQ(Parse({"-x"}).error().message, "unknown option '-x'");
  EXPECT_EQ(Parse({"-n"}).error().message, "option '-n' needs a value");
}

TEST(ParseArgs, ALoneDashIsPositional) {
  auto p = Parse({"-"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->positional(), (std::vector<std::string>{"-"}));
}

TEST(ApplyGlobalOptions, LaterOptionsOverrideTheBase) {
  const auto specs = WithGlobalOptions({{"reason", 0, true}});
  std::vector<std::string> args = {
      "alice",     "--db", "/tmp/x", "--json", "--reason", "r", "--exim-config=/etc/e.conf",
      "--no-color"};
  auto p = ParseArgs(args, specs);
  ASSERT_TRUE(p) << p.error().message;
  GlobalOptions base;
  base.config = "/etc/exim4/senderwatch.toml";
  base.color = true;
  auto o = ApplyGlobalOptions(base, *p);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->db, "/tmp/x");
  EXPECT_EQ(o->config, "/etc/exim4/senderwatch.toml");
  EXPECT_EQ(o->exim_config, "/etc/e.conf");
  EXPECT_TRUE(o->json);
  EXPECT_FALSE(o->color);
  EXPECT_EQ(p->Value("reason"), "r");
}

TEST(ApplyGlobalOptions, RejectsUnknownColorMode) {
  std::vector<std::string> args = {"--color", "sometimes"};
  auto p = ParseArgs(args, GlobalOptionSpecs());
  ASSERT_TRUE(p);
  EXPECT_FALSE(ApplyGlobalOptions(GlobalOptions{}, *p));
}

TEST(ParseCount, AcceptsOnlyPlainNonNegativeNumbers) {
  EXPECT_EQ(ParseCount("-n", "20").value(), 20u);
  EXPECT_EQ(ParseCount("-n", "0").value(), 0u);
  EXPECT_FALSE(ParseCount("-n", "-1"));
  EXPECT_FALSE(ParseCount("-n", "5x"));
  EXPECT_FALSE(ParseCount("-n", ""));
  EXPECT_EQ(ParseCount("-n", "x").error().message, "-n needs a non-negative number, not 'x'");
}

}  // namespace
}  // namespace senderwatch::cli
