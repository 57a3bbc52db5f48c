// Human units used in the policy file, the verdict string and the CLI:
// durations ("90s", "10m", "1h", "2d", "0") and sizes ("64KiB", "1GiB").
#ifndef SENDERWATCH_UNITS_H_
#define SENDERWATCH_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "senderwatch/error.h"

namespace senderwatch {

// Accepts an integer followed by s, m, h, d or w, or a plain "0".
Result<int64_t> ParseDuration(std::string_view text);
// A short timeout: "50ms", or a duration as above ("1s"), in milliseconds.
Result<int64_t> ParseMilliseconds(std::string_view text);
// The shortest exact form: 3600 -> "1h", 5400 -> "90m", 0 -> "0".
std::string FormatDuration(int64_t seconds);

// Accepts an integer followed by B, KiB, MiB, GiB (or K, M, G as binary).
Result<uint64_t> ParseSize(std::string_view text);

// ISO 8601 UTC, second precision: "2026-11-27T10:02:11Z".
std::string FormatTime(int64_t unix_seconds);

}  // namespace senderwatch

#endif  // SENDERWATCH_UNITS_H_
