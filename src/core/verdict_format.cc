// Verdict to text for Exim's ${extract}. The format is part of the Exim
// contract (DESIGN.md): keys and order must not change.
#include <cmath>
#include <cstdio>
#include <string>

#include "senderwatch/units.h"
#include "senderwatch/verdict.h"

namespace senderwatch {
namespace {

std::string FormatNumber(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

// Values never contain a double quote, backslash or control character, so
// ${extract} needs no escape handling; a value with spaces is quoted.
std::string QuoteValue(std::string_view raw) {
  std::string value;
  value.reserve(raw.size());
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') value.push_back('\'');
    else if (c == '\\') value.push_back('/');
    else if (u < 0x20 || u == 0x7F) value.push_back(' ');
    else value.push_back(c);
  }
  if (value.empty() || value.find_first_of(" =") != std::string::npos) {
    return "\"" + value + "\"";
  }
  return value;
}

}  // namespace

std::string FormatVerdict(const Verdict& v) {
  std::string out = "verdict=";
  out += ActionName(v.action);
  if (v.action != Action::kOk && !v.rule.empty()) {
    out += " rule=" + QuoteValue(v.rule);
    out += " metric=";
    out += MetricName(v.metric);
    out += " value=" + FormatNumber(v.value);
    out += " limit=" + FormatNumber(v.limit);
    out += " window=" + FormatDuration(v.window_seconds);
  }
  if (v.action == Action::kLock) {
    out += " since=" + FormatTime(v.since);
    out += " reason=" + QuoteValue(v.reason);
  }
  if (!v.error.empty()) out += " error=" + QuoteValue(v.error);
  return out;
}

}  // namespace senderwatch
