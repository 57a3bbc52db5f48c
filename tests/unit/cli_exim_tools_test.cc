// Parsing what Exim's tools print: `exim4 -bP spool_directory` and
// `exipick --just-vars --show-vars ...` (format checked against exipick
// 4.96 on Debian bookworm).
#include <gtest/gtest.h>

#include <string>

#include "cli/exim_tools.h"

namespace senderwatch::cli {
namespace {

TEST(ParseSpoolDirectory, ReadsBothOutputForms) {
  EXPECT_EQ(ParseSpoolDirectory("spool_directory = /var/spool/exim4\n"), "/var/spool/exim4");
  EXPECT_EQ(ParseSpoolDirectory("/var/spool/exim\n"), "/var/spool/exim");  // exim -n -bP
  EXPECT_EQ(ParseSpoolDirectory("spool_directory=/srv/spool"), "/srv/spool");
  EXPECT_EQ(ParseSpoolDirectory("  spool_directory = /a b/c  \r\n"), "/a b/c");
}

TEST(ParseSpoolDirectory, RejectsOutputWithoutAnAbsolutePath) {
  EXPECT_EQ(ParseSpoolDirectory(""), "");
  EXPECT_EQ(ParseSpoolDirectory("spool_directory = relative/path\n"), "");
  EXPECT_EQ(ParseSpoolDirectory("exim: permission denied\n"), "");
}

TEST(IsMessageId, AcceptsOldAndNewFormats) {
  EXPECT_TRUE(IsMessageId("1xWxLZ-0001G1-03"));         // 4.96
  EXPECT_TRUE(IsMessageId("1rBcDe-00000000aBc-0Ab1"));  // 4.97+
  EXPECT_FALSE(IsMessageId("1xWxLZ-0001G1"));
  EXPECT_FALSE(IsMessageId("1xWxLZ-0001G1-03;rm"));
  EXPECT_FALSE(IsMessageId("-Mrm"));
  EXPECT_FALSE(IsMessageId(""));
}

TEST(ParseExipickOutput, ReadsOneBlockPerMessage) {
  // Real exipick 4.96 output for a frozen authenticated message and a
  // queued bounce (empty sender, no authenticated_id).
  const std::string output =
      "1xWxLZ-0001G1-03\n"
      "1\n"
      "384\n"
      "282\n"
      "2\n"
      "bob@example.net, carol@example.org\n"
      "alice@example.com\n"
      "Alice\n"
      "1xWxLZ-0001G4-05\n"
      "\n"
      "18\n"
      "1293\n"
      "1\n"
      "dave@example.net\n"
      "\n"
      "\n";
  auto messages = ParseExipickOutput(output);
  ASSERT_TRUE(messages) << messages.error().message;
  ASSERT_EQ(messages->size(), 2u);
  const QueuedMessage& a = (*messages)[0];
  EXPECT_EQ(a.id, "1xWxLZ-0001G1-03");
  EXPECT_TRUE(a.frozen);
  EXPECT_EQ(a.age_seconds, 384);
  EXPECT_EQ(a.size, 282u);
  EXPECT_EQ(a.undelivered, 2u);
  EXPECT_EQ(a.recipients, "bob@example.net, carol@example.org");
  EXPECT_EQ(a.sender, "alice@example.com");
  EXPECT_EQ(a.authenticated_id, "Alice");
  const QueuedMessage& b = (*messages)[1];
  EXPECT_FALSE(b.frozen);
  EXPECT_EQ(b.sender, "");
  EXPECT_EQ(b.authenticated_id, "");
}

TEST(ParseExipickOutput, EmptyQueueIsNoMessages) {
  auto messages = ParseExipickOutput("");
  ASSERT_TRUE(messages);
  EXPECT_TRUE(messages->empty());
}

TEST(ParseExipickOutput, ValuesWithQuotesAndSpacesStayWhole) {
  // Line-per-value output cannot be confused by hostile values.
  const std::string output =
      "1xWxLZ-0001G1-03\n\n1\n2\n1\n\"x' authenticated_id='bob\"@evil.test\n"
      "o'neil@example.com\nalice' deliver_freeze='1\n";
  auto messages = ParseExipickOutput(output);
  ASSERT_TRUE(messages) << messages.error().message;
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].authenticated_id, "alice' deliver_freeze='1");
  EXPECT_EQ((*messages)[0].sender, "o'neil@example.com");
}

TEST(ParseExipickOutput, RejectsTruncatedOrShiftedOutput) {
  EXPECT_FALSE(ParseExipickOutput("1xWxLZ-0001G1-03\n1\n384\n"));
  EXPECT_FALSE(ParseExipickOutput("not-an-id\n1\n2\n3\n4\nr\ns\na\n"));
}

TEST(ExipickVariables, AskForTheFieldsTheParserReads) {
  const auto vars = ExipickVariables();
  ASSERT_EQ(vars.size(), 8u);
  EXPECT_EQ(vars.front(), "message_exim_id");
  EXPECT_EQ(vars.back(), "authenticated_id");
}

}  // namespace
}  // namespace senderwatch::cli
