// Exim's lsearch rules (lookups/lsearch.c): the owners file and the limits
// file must give the entries Exim itself would find.
#include "senderwatch/lsearch.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "senderwatch/ascii.h"

namespace senderwatch {
namespace {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

KeyValues Parsed(std::string_view text) {
  KeyValues out;
  for (const LsearchEntry& entry : ParseLsearch(text)) out.emplace_back(entry.key, entry.value);
  return out;
}

TEST(Lsearch, KeyEndsAtColonOrWhiteSpaceAndTheColonIsOptional) {
  const std::string_view text = "alice: a b\nbob c\ncarol:d\ndave   :   e  \n";
  // Trailing white space goes.
  EXPECT_EQ(Parsed(text), (KeyValues{{"alice", "a b"}, {"bob", "c"}, {"carol", "d"}, {"dave", "e"}}));
  EXPECT_EQ(ParseLsearch(text).back().line, 4u);
}

TEST(Lsearch, QuotedKeysHoldSpacesColonsAndEscapes) {
  // \x41 and \101 are 'A', folded like every key.
  EXPECT_EQ(Parsed("\"a b:c\": x\n\"q\\\"uote\\t\\x41\\101\" y\n"),
            (KeyValues{{"a b:c", "x"}, {"q\"uote\taa", "y"}}));
}

TEST(Lsearch, IndentedLinesContinueTheValueUntilAnEmptyOrCommentLine) {
  EXPECT_EQ(Parsed(
      "  orphan\n"            // continues nothing: ignored
      "a: one,\n"
      "\t  two\n"             // leading white space becomes one space
      "#  a comment\n"
      "   three\n"            // after a comment: lsearch skips it
      "b: x\n"
      "\n"
      "  y\n"),
      (KeyValues{{"a", "one, two"}, {"b", "x"}}));
}

TEST(Lsearch, FirstLineOfAKeyWinsWhateverItsCase) {
  EXPECT_EQ(Parsed("Alice: first\r\nALICE: second\n  more\nbob: b\n"),
            (KeyValues{{"alice", "first"}, {"bob", "b"}}));
}

TEST(AsciiLowercase, FoldsAsciiOnly) {
  EXPECT_EQ(AsciiLowercase("AbC@Example.ORG"), "abc@example.org");
  EXPECT_EQ(AsciiLowercase("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");  // UTF-8 bytes untouched
}

}  // namespace
}  // namespace senderwatch
