// Parsing and printing of durations, sizes and times in the forms an admin
// writes them. Strict: "1 h", "1.5h" and "-1h" are errors, not guesses.
#include "senderwatch/units.h"

#include <charconv>
#include <ctime>
#include <limits>

namespace senderwatch {
namespace {

// Splits "123unit" into the number and the unit; false when no digits lead.
bool SplitNumber(std::string_view text, uint64_t& number, std::string_view& unit) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc() || ptr == text.data()) return false;
  unit = std::string_view(ptr, static_cast<size_t>(end - ptr));
  return true;
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  uint64_t number = 0;
  std::string_view unit;
  if (!SplitNumber(text, number, unit)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid duration '" + std::string(text) +
                         "' (expected e.g. 30s, 10m, 1h, 2d, 1w or 0)");
  }
  int64_t scale = 0;
  if (unit.empty() && number == 0) scale = 1;
  else if (unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else if (unit == "w") scale = 7 * 86400;
  if (scale == 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid duration unit in '" + std::string(text) +
                         "' (use s, m, h, d or w)");
  }
  // At most 100 years, compared in the unit given, so nothing overflows.
  if (number > uint64_t{100} * 365 * 86400 / static_cast<uint64_t>(scale)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "duration '" + std::string(text) + "' is too long");
  }
  return static_cast<int64_t>(number) * scale;
}

Result<int64_t> ParseMilliseconds(std::string_view text) {
  uint64_t number = 0;
  std::string_view unit;
  if (SplitNumber(text, number, unit) && unit == "ms") {
    if (number > uint64_t{100} * 365 * 86400 * 1000) {
      return MakeError(ErrorKind::kInvalidArgument, "duration '" + std::string(text) + "' is too long");
    }
    return static_cast<int64_t>(number);
  }
  auto seconds = ParseDuration(text);
  if (!seconds) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid duration '" + std::string(text) + "' (expected e.g. 50ms or 1s)");
  }
  return *seconds * 1000;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds == 0) return "0";
  const uint64_t s = seconds < 0 ? static_cast<uint64_t>(-(seconds + 1)) + 1
                                 : static_cast<uint64_t>(seconds);
  uint64_t number = s;
  char unit = 's';
  if (s % 86400 == 0 && s >= 2 * 86400) { number = s / 86400; unit = 'd'; }
  else if (s % 3600 == 0) { number = s / 3600; unit = 'h'; }
  else if (s % 60 == 0) { number = s / 60; unit = 'm'; }
  std::string out;
  if (seconds < 0) out.push_back('-');
  out.append(std::to_string(number));
  out.push_back(unit);
  return out;
}

Result<uint64_t> ParseSize(std::string_view text) {
  uint64_t number = 0;
  std::string_view unit;
  if (!SplitNumber(text, number, unit)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid size '" + std::string(text) + "' (expected e.g. 64MiB, 1GiB)");
  }
  int shift = -1;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "KiB" || unit == "K" || unit == "KB") shift = 10;
  else if (unit == "MiB" || unit == "M" || unit == "MB") shift = 20;
  else if (unit == "GiB" || unit == "G" || unit == "GB") shift = 30;
  else if (unit == "TiB" || unit == "T" || unit == "TB") shift = 40;
  if (shift < 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid size unit in '" + std::string(text) + "' (use KiB, MiB, GiB)");
  }
  if (number > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return MakeError(ErrorKind::kInvalidArgument, "size '" + std::string(text) + "' is too large");
  }
  return number << shift;
}

std::string FormatTime(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace senderwatch
