// Exim log timestamps to Unix time, fast. A log has one timestamp per line
// and they change hour rarely, so the calendar arithmetic (or mktime for
// local time, which takes a lock and reads the zone) runs once per hour of
// log, and each line costs a few digit conversions.
//
// Exim writes local time ("2026-11-27 10:02:11"), with log_timezone an
// offset ("2026-11-27 10:02:11 +0100"), with +millisec ".123" after the
// seconds. With an offset the time is exact. Without one it is read in the
// zone of this process (TZ), or as UTC when asked; in the hour that repeats
// when daylight saving time ends, both hours map to the same Unix times.
#ifndef SENDERWATCH_SRC_EXIMLOG_TIMESTAMP_H_
#define SENDERWATCH_SRC_EXIMLOG_TIMESTAMP_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "senderwatch/clock.h"

namespace senderwatch::eximlog {

// Days since 1970-01-01 of a proleptic Gregorian date (no range checks).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

class TimestampParser {
 public:
  // How to read a timestamp that carries no offset.
  enum class Zone { kLocal, kUtc };
  explicit TimestampParser(Zone zone = Zone::kLocal) : zone_(zone) {}

  // Parses the timestamp at the start of `line` into `out` and returns the
  // length it took, including the space after it (0: not a timestamp).
  size_t Parse(std::string_view line, UnixSeconds& out);

 private:
  Zone zone_;
  // The date and hour of the last conversion ("YYYY-MM-DD HH") and the zone
  // offset it had (in minutes, or kNoOffset), and its Unix time.
  char hour_key_[13] = {};
  int32_t key_offset_ = kNoOffset;
  bool have_key_ = false;
  UnixSeconds hour_base_ = 0;
  static constexpr int32_t kNoOffset = INT32_MIN;
};

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_TIMESTAMP_H_
