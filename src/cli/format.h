// Human output for the CLI: aligned tables, relative times ("3m ago"),
// numbers, byte sizes, and colour that appears only on a terminal. Pure
// functions (no clock, no environment) so tests pin the exact text; the
// caller passes `now` and the colour decision.
#ifndef SENDERWATCH_SRC_CLI_FORMAT_H_
#define SENDERWATCH_SRC_CLI_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/clock.h"
#include "senderwatch/metric.h"

namespace senderwatch::cli {

// Whether to colour standard output. `flag` is --color=auto|always|never
// (empty means auto); NO_COLOR (any non-empty value, see no-color.org) and
// TERM=dumb turn auto off. Returns false for an unknown flag value.
bool DecideColor(std::string_view flag, bool stdout_is_tty, const char* no_color_env,
                 const char* term_env);

enum class Style : uint8_t { kPlain, kBold, kDim, kRed, kYellow, kGreen, kBoldRed };

// `text` wrapped in the ANSI sequence for `style` when `color`, else `text`.
std::string Paint(std::string_view text, Style style, bool color);

// Makes untrusted text (account names, reasons, addresses from the store or
// the queue) safe for a terminal: C0 and C1 control characters, DEL and
// invalid UTF-8 become \xNN; everything else, quotes included, is kept.
std::string SanitizeForTerminal(std::string_view text);

// `text` quoted for a POSIX shell, for commands we suggest to the user:
// unchanged when it holds only [A-Za-z0-9@%+=:,./_-], else in single quotes.
std::string ShellQuote(std::string_view text);

// Columns a string occupies on a terminal: one per code point (combining
// and East Asian wide characters are rare in account names and ignored).
size_t DisplayWidth(std::string_view text);

// A compact duration for people: 0 -> "0s", 59 -> "59s", 90 -> "1m",
// 5400 -> "1h30m", 90000 -> "1d1h", 864000 -> "10d". At most two units,
// rounded down. Negative values are treated as their magnitude.
std::string HumanDuration(int64_t seconds);

// Relative time: "just now" (within 5s), "3m ago", "in 2h", "never" when
// `when` is 0.
std::string FormatAgo(UnixSeconds when, UnixSeconds now);

// Relative time for values kept at minute precision (client networks):
// `minute` is minutes since the epoch; "this minute", "5m ago", "2h ago".
std::string FormatMinuteAgo(uint32_t minute, UnixSeconds now);

// FormatTime plus the relative form: "2026-11-27T10:02:11Z (3m ago)";
// "never" when `when` is 0.
std::string FormatTimeAndAgo(UnixSeconds when, UnixSeconds now);

// Numbers as a person writes them: integral values without decimals
// ("63"), others rounded to at most 3 decimals, trailing zeros removed
// ("0.45", "0.3", "0.333").
std::string FormatNumber(double value);

// A metric value: bounce_ratio as a fraction with two decimals ("0.45"),
// counters as integers.
std::string FormatMetricValue(Metric metric, double value);

// "1 message", "3 messages": `count` and the noun, plural unless 1.
std::string Plural(uint64_t count, std::string_view noun);

// 1234567 -> "1,234,567": counts in summaries of long logs.
std::string Thousands(uint64_t n);

// Binary sizes: "512 B", "64.0 KiB", "1.0 GiB".
std::string FormatBytes(uint64_t bytes);

// Value against limit as a percentage: "150%"; "-" when the limit is 0 and
// the value too, ">999%" beyond that.
std::string FormatPercent(double ratio);

// An aligned text table. Columns are separated by two spaces; numeric
// columns are right-aligned. Width is computed on the plain text, so colour
// never disturbs alignment. The last column is not padded.
class Table {
 public:
  enum class Align : uint8_t { kLeft, kRight };
  struct Cell {
    std::string text;
    Style style = Style::kPlain;
  };

  // One header per column; `align` may be shorter than `headers` (the rest
  // are left-aligned).
  explicit Table(std::vector<std::string> headers, std::vector<Align> align = {});

  // Cells beyond the header count are dropped; missing cells are empty.
  void AddRow(std::vector<Cell> cells);
  size_t rows() const { return rows_.size(); }

  // Every line ends with '\n'. `indent` spaces precede each line. Headers
  // are bold when `color`.
  std::string Render(bool color, size_t indent = 0) const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<Cell>> rows_;
};

// Key/value lines with the keys padded to one width:
//   "  State         LOCKED"
class KeyValueList {
 public:
  void Add(std::string key, std::string value, Style style = Style::kPlain);
  std::string Render(bool color, size_t indent = 2) const;
  bool empty() const { return items_.empty(); }

 private:
  struct Item {
    std::string key;
    std::string value;
    Style style;
  };
  std::vector<Item> items_;
};

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_FORMAT_H_
