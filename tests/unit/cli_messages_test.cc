// The CLI's one way to write messages (src/cli/messages.h): the line shapes
// users and scripts read on stderr, and that values from outside cannot
// write control characters or forge a line of their own.
#include "cli/messages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace senderwatch::cli {
namespace {

TEST(CliMessages, LinesNameTheVerbAndTheTone) {
  EXPECT_EQ(MessageLine("", Tone::kError, "no such file: x", false),
            "senderwatch: error: no such file: x\n");
  EXPECT_EQ(MessageLine("tune", Tone::kWarning, "odd line", false),
            "senderwatch tune: warning: odd line\n");
  EXPECT_EQ(MessageLine("", Tone::kPlain, "x is valid", false), "senderwatch: x is valid\n");
  EXPECT_EQ(MessageLine("", Tone::kHint, "run as root", false), "senderwatch: hint: run as root\n");
}

TEST(CliMessages, OnlyTheLabelIsColouredOnATerminal) {
  EXPECT_EQ(MessageLine("", Tone::kError, "boom", true),
            "senderwatch: \x1b[1;31merror\x1b[0m: boom\n");
  EXPECT_EQ(MessageLine("", Tone::kPlain, "fine", true), "senderwatch: fine\n");
}

TEST(CliMessages, ArgumentsAreSanitizedTheFormatIsNot) {
  // An account name from a log with a line break and an escape sequence
  // must not start a line of its own or move the cursor.
  EXPECT_EQ(Message("no record of '{}'\n  next", std::string("a\nsenderwatch: ok\x1b[2J")),
            "no record of 'a\\x0asenderwatch: ok\\x1b[2J'\n  next");
  EXPECT_EQ(Message("{} calls, first: {}", uint64_t{12}, "bad\x7f"), "12 calls, first: bad\\x7f");
}

TEST(CliMessages, SayWritesOneLineOnStderr) {
  ::testing::internal::CaptureStderr();
  Say("replay", Tone::kWarning, "{} not read", "mainlog\r");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "senderwatch replay: warning: mainlog\\x0d not read\n");
}

}  // namespace
}  // namespace senderwatch::cli
