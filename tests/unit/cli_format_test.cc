// Human output of the CLI: durations, numbers, tables and colour decisions,
// pinned to the exact text a person reads.
#include <gtest/gtest.h>

#include "cli/format.h"

namespace senderwatch::cli {
namespace {

constexpr UnixSeconds kNow = 1'790'000'000;

TEST(HumanDuration, UsesAtMostTwoUnitsRoundedDown) {
  EXPECT_EQ(HumanDuration(0), "0s");
  EXPECT_EQ(HumanDuration(59), "59s");
  EXPECT_EQ(HumanDuration(60), "1m");
  EXPECT_EQ(HumanDuration(90), "1m");
  EXPECT_EQ(HumanDuration(3599), "59m");
  EXPECT_EQ(HumanDuration(3600), "1h");
  EXPECT_EQ(HumanDuration(5400), "1h30m");
  EXPECT_EQ(HumanDuration(36000 + 1800), "10h");
  EXPECT_EQ(HumanDuration(90000), "1d1h");
  EXPECT_EQ(HumanDuration(864000), "10d");
  EXPECT_EQ(HumanDuration(-120), "2m");
}

TEST(FormatAgo, SaysAgoInOrNever) {
  EXPECT_EQ(FormatAgo(0, kNow), "never");
  EXPECT_EQ(FormatAgo(kNow - 3, kNow), "just now");
  EXPECT_EQ(FormatAgo(kNow - 180, kNow), "3m ago");
  EXPECT_EQ(FormatAgo(kNow - 2 * 86400 - 7200, kNow), "2d2h ago");
  EXPECT_EQ(FormatAgo(kNow + 7200, kNow), "in 2h");
}

TEST(FormatMinuteAgo, CountsWholeMinutes) {
  const uint32_t minute = static_cast<uint32_t>(kNow / 60);
  EXPECT_EQ(FormatMinuteAgo(minute, kNow), "this minute");
  EXPECT_EQ(FormatMinuteAgo(minute - 5, kNow), "5m ago");
  EXPECT_EQ(FormatMinuteAgo(minute - 120, kNow), "2h ago");
  EXPECT_EQ(FormatMinuteAgo(minute + 1, kNow), "in 1m");
  EXPECT_EQ(FormatMinuteAgo(0, kNow), "never");
}

TEST(FormatTimeAndAgo, CombinesIsoAndRelative) {
  EXPECT_EQ(FormatTimeAndAgo(kNow - 180, kNow), "2026-09-21T14:10:20Z (3m ago)");
  EXPECT_EQ(FormatTimeAndAgo(0, kNow), "never");
}

TEST(FormatNumber, DropsNeedlessDecimals) {
  EXPECT_EQ(FormatNumber(63), "63");
  EXPECT_EQ(FormatNumber(0), "0");
  EXPECT_EQ(FormatNumber(0.3), "0.3");
  EXPECT_EQ(FormatNumber(0.45), "0.45");
  EXPECT_EQ(FormatNumber(1.0 / 3.0), "0.333");
  EXPECT_EQ(FormatNumber(-0.0001), "0");
  EXPECT_EQ(FormatNumber(1e6), "1000000");
}

TEST(FormatMetricValue, RatioHasTwoDecimalsCountersNone) {
  EXPECT_EQ(FormatMetricValue(Metric::kBounceRatio, 0.325), "0.33");
  EXPECT_EQ(FormatMetricValue(Metric::kBounceRatio, 0), "0.00");
  EXPECT_EQ(FormatMetricValue(Metric::kBounces, 63), "63");
}

TEST(FormatBytes, UsesBinaryUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(65536), "64.0 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{1} << 30), "1.0 GiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
}

TEST(FormatPercent, RoundsAndCaps) {
  EXPECT_EQ(FormatPercent(1.5), "150%");
  EXPECT_EQ(FormatPercent(0), "0%");
  EXPECT_EQ(FormatPercent(0.849), "85%");
  EXPECT_EQ(FormatPercent(1e9), ">999%");
}

TEST(DecideColor, OnlyOnATerminalAndNeverWithNoColor) {
  EXPECT_TRUE(DecideColor("", true, nullptr, "xterm"));
  EXPECT_FALSE(DecideColor("", false, nullptr, "xterm"));
  EXPECT_FALSE(DecideColor("auto", true, "1", "xterm"));
  EXPECT_TRUE(DecideColor("auto", true, "", "xterm"));  // empty NO_COLOR does not count
  EXPECT_FALSE(DecideColor("auto", true, nullptr, "dumb"));
  EXPECT_TRUE(DecideColor("always", false, "1", "dumb"));
  EXPECT_FALSE(DecideColor("never", true, nullptr, "xterm"));
  EXPECT_FALSE(DecideColor("sometimes", true, nullptr, "xterm"));
}

TEST(Paint, WrapsOnlyWhenColourIsOn) {
  EXPECT_EQ(Paint("LOCKED", Style::kRed, false), "LOCKED");
  EXPECT_EQ(Paint("LOCKED", Style::kRed, true), "\x1b[31mLOCKED\x1b[0m");
  EXPECT_EQ(Paint("x", Style::kPlain, true), "x");
}

TEST(SanitizeForTerminal, EscapesControlsButKeepsTextAndUtf8) {
  EXPECT_EQ(SanitizeForTerminal("alice \"quoted\""), "alice \"quoted\"");
  EXPECT_EQ(SanitizeForTerminal("evil\x1b]0;title\x07"), "evil\\x1b]0;title\\x07");
  EXPECT_EQ(SanitizeForTerminal("line\nbreak"), "line\\x0abreak");
  EXPECT_EQ(SanitizeForTerminal("j\xc3\xbcrgen"), "j\xc3\xbcrgen");
  EXPECT_EQ(SanitizeForTerminal("\xc2\x9b"
                                "2J"),
            "\\xc2\\x9b2J");  // C1 CSI
  EXPECT_EQ(SanitizeForTerminal("bad\xff"), "bad\\xff");
}

TEST(ShellQuote, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(ShellQuote("alice@example.com"), "alice@example.com");
  EXPECT_EQ(ShellQuote("bob smith"), "'bob smith'");
  EXPECT_EQ(ShellQuote("o'neil"), "'o'\\''neil'");
  EXPECT_EQ(ShellQuote("$(reboot)"), "'$(reboot)'");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(DisplayWidth, CountsCharactersNotBytes) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("j\xc3\xbcrgen"), 6u);
  EXPECT_EQ(DisplayWidth(""), 0u);
}

TEST(Table, AlignsColumnsAndRightAlignsNumbers) {
  Table table({"ACCOUNT", "BOUNCES", "STATE"},
              {Table::Align::kLeft, Table::Align::kRight, Table::Align::kLeft});
  table.AddRow({{"alice@example.com"}, {"63"}, {"LOCKED"}});
  table.AddRow({{"bob"}, {"5"}, {"ok"}});
  EXPECT_EQ(table.Render(false),
            "ACCOUNT            BOUNCES  STATE\n"
            "alice@example.com       63  LOCKED\n"
            "bob                      5  ok\n");
}

TEST(Table, ColourDoesNotDisturbAlignment) {
  Table table({"A", "B"});
  table.AddRow({{"x", Style::kRed}, {"y"}});
  table.AddRow({{"long", Style::kPlain}, {"z", Style::kGreen}});
  EXPECT_EQ(table.Render(true),
            "\x1b[1mA\x1b[0m     \x1b[1mB\x1b[0m\n"
            "\x1b[31mx\x1b[0m     y\n"
            "long  \x1b[32mz\x1b[0m\n");
}

TEST(Table, PadsByCharactersAndIndents) {
  Table table({"NAME", "N"}, {Table::Align::kLeft, Table::Align::kRight});
  table.AddRow({{"j\xc3\xbcrgen"}, {"1"}});
  table.AddRow({{"al"}, {"22"}});
  table.AddRow({{"x"}});  // missing cells are empty
  EXPECT_EQ(table.Render(false, 2),
            "  NAME     N\n"
            "  j\xc3\xbcrgen   1\n"
            "  al      22\n"
            "  x\n");
}

TEST(KeyValueList, PadsKeysToOneWidth) {
  KeyValueList list;
  list.Add("State", "LOCKED");
  list.Add("Locked since", "2026-11-27T10:02:11Z (3m ago)");
  EXPECT_EQ(list.Render(false),
            "  State         LOCKED\n"
            "  Locked since  2026-11-27T10:02:11Z (3m ago)\n");
}

}  // namespace
}  // namespace senderwatch::cli
