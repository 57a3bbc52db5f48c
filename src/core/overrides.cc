// Per-call limit overrides: what an Exim lookup returns for one account
// ("bounce-flood=200 rcpt-rate=off"), so exceptions live in Exim lookups
// the admin already maintains rather than in our policy file.
#include <charconv>
#include <cmath>

#include "senderwatch/account.h"
#include "senderwatch/policy.h"

namespace senderwatch {

Result<LimitOverrides> ParseLimitOverrides(std::string_view text) {
  LimitOverrides overrides;
  const auto is_separator = [](char c) {
    return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '\n' || c == '\r';
  };
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_separator(text[i])) ++i;
    size_t end = i;
    while (end < text.size() && !is_separator(text[end])) ++end;
    if (end == i) break;
    const std::string_view token = text.substr(i, end - i);
    i = end;
    const size_t eq = token.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == token.size()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid limit override '" + EscapeForLog(token) +
                           "' (expected RULE=LIMIT or RULE=off)");
    }
    const std::string_view name = token.substr(0, eq);
    const std::string_view value = token.substr(eq + 1);
    if (value == "off") {
      overrides.limits.insert_or_assign(std::string(name), std::nullopt);
      continue;
    }
    double limit = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
    if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(limit) ||
        limit < 0) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid limit in override '" + EscapeForLog(token) + "'");
    }
    overrides.limits.insert_or_assign(std::string(name), limit);
  }
  return overrides;
}

}  // namespace senderwatch
