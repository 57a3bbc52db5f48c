// Timestamp conversion with a one-hour cache; see timestamp.h.
#include "eximlog/timestamp.h"

#include <cstring>
#include <ctime>

namespace senderwatch::eximlog {
namespace {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline int Digit(char c) { return c - '0'; }
inline int Two(const char* p) { return Digit(p[0]) * 10 + Digit(p[1]); }

// "YYYY-MM-DD HH:MM:SS": digits and separators in place.
bool HasTimestampShape(const char* p) {
  static constexpr char kShape[] = "dddd-dd-dd dd:dd:dd";
  for (int i = 0; i < 19; ++i) {
    if (kShape[i] == 'd') {
      if (!IsDigit(p[i])) return false;
    } else if (p[i] != kShape[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  // Howard Hinnant's days_from_civil.
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

size_t TimestampParser::Parse(std::string_view line, UnixSeconds& out) {
  if (line.size() < 19 || !HasTimestampShape(line.data())) return 0;
  const char* p = line.data();
  const int minute = Two(p + 14);
  const int second = Two(p + 17);
  if (minute > 59 || second > 60) return 0;
  size_t pos = 19;
  // +millisec: ".123" (accept 1 to 6 digits).
  if (pos < line.size() && line[pos] == '.') {
    size_t digits = 0;
    while (pos + 1 + digits < line.size() && digits < 6 && IsDigit(line[pos + 1 + digits])) {
      ++digits;
    }
    if (digits == 0) return 0;
    pos += 1 + digits;
  }
  // log_timezone: " +hhmm" or " -hhmm".
  int32_t offset = kNoOffset;
  if (pos + 6 <= line.size() && line[pos] == ' ' &&
      (line[pos + 1] == '+' || line[pos + 1] == '-') && IsDigit(line[pos + 2]) &&
      IsDigit(line[pos + 3]) && IsDigit(line[pos + 4]) && IsDigit(line[pos + 5]) &&
      (pos + 6 == line.size() || line[pos + 6] == ' ')) {
    const int hours = Two(p + pos + 2);
    const int minutes = Two(p + pos + 4);
    if (minutes > 59) return 0;
    offset = (hours * 60 + minutes) * (line[pos + 1] == '-' ? -1 : 1);
    pos += 6;
  }
  if (pos < line.size()) {
    if (line[pos] != ' ') return 0;
    ++pos;
  }

  if (!have_key_ || offset != key_offset_ || std::memcmp(hour_key_, p, 13) != 0) {
    const int year = Digit(p[0]) * 1000 + Digit(p[1]) * 100 + Two(p + 2);
    const int month = Two(p + 5);
    const int day = Two(p + 8);
    const int hour = Two(p + 11);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) return 0;
    if (offset == kNoOffset && zone_ == Zone::kLocal) {
      std::tm tm{};
      tm.tm_year = year - 1900;
      tm.tm_mon = month - 1;
      tm.tm_mday = day;
      tm.tm_hour = hour;
      tm.tm_isdst = -1;
      const std::time_t t = std::mktime(&tm);
      if (t == static_cast<std::time_t>(-1)) return 0;
      hour_base_ = static_cast<UnixSeconds>(t);
    } else {
      hour_base_ = DaysFromCivil(year, static_cast<unsigned>(month),
                                 static_cast<unsigned>(day)) * 86400 + hour * 3600;
      if (offset != kNoOffset) hour_base_ -= int64_t{offset} * 60;
    }
    std::memcpy(hour_key_, p, 13);
    key_offset_ = offset;
    have_key_ = true;
  }
  out = hour_base_ + minute * 60 + second;
  return pos;
}

}  // namespace senderwatch::eximlog
