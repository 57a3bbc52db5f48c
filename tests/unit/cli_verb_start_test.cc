// The start every verb shares (src/cli/verb_start.h): --help, usage errors
// with the verb's name, operand counts, global options after the verb.
#include "cli/verb_start.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace senderwatch::cli {
namespace {

struct Started {
  std::expected<VerbCall, int> call;
  std::string out;
  std::string err;
};

Started Start(std::vector<std::string> args, const Operands& operands) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  Started s{StartVerb("gc", "Usage: senderwatch gc\n", GlobalOptions{}, args, {{"to", 0, true}},
                      operands),
            "", ""};
  s.out = ::testing::internal::GetCapturedStdout();
  s.err = ::testing::internal::GetCapturedStderr();
  return s;
}

TEST(VerbStart, HelpIsPrintedAndEndsTheVerb) {
  const Started s = Start({"--help"}, kNoOperands);
  ASSERT_FALSE(s.call.has_value());
  EXPECT_EQ(s.call.error(), kExitOk);
  EXPECT_EQ(s.out, "Usage: senderwatch gc\n");
}

TEST(VerbStart, UsageErrorsNameTheVerbAndPointToHelp) {
  Started s = Start({"--bogus"}, kNoOperands);
  ASSERT_FALSE(s.call.has_value());
  EXPECT_EQ(s.call.error(), kExitUsage);
  EXPECT_EQ(s.err.substr(0, 17), "senderwatch gc: u") << s.err;
  EXPECT_NE(s.err.find("\nTry 'senderwatch gc --help'.\n"), std::string::npos) << s.err;

  s = Start({"extra"}, kNoOperands);
  EXPECT_EQ(s.err, "senderwatch gc: unexpected argument 'extra'\nTry 'senderwatch gc --help'.\n");
  s = Start({}, kOneAccount);
  EXPECT_EQ(s.call.error(), kExitUsage);
  EXPECT_EQ(s.err.substr(0, 44), "senderwatch gc: expects exactly one ACCOUNT\n");
  s = Start({"a", "b"}, kOneAccount);
  EXPECT_EQ(s.call.error(), kExitUsage);
  s = Start({}, kLogFiles);
  EXPECT_EQ(s.err.substr(0, 34), "senderwatch gc: no log file given\n");
}

TEST(VerbStart, GivesOperandsOptionsAndGlobalOptionsAfterTheVerb) {
  const Started s = Start({"--to", "redis", "--json", "--db", "/tmp/x", "m1", "m2"}, kLogFiles);
  ASSERT_TRUE(s.call.has_value()) << s.err;
  EXPECT_EQ(s.call->operands(), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(s.call->parsed.Value("to"), "redis");
  EXPECT_TRUE(s.call->options.json);
  EXPECT_EQ(s.call->options.db, "/tmp/x");
  EXPECT_EQ(s.err, "");
}

}  // namespace
}  // namespace senderwatch::cli
