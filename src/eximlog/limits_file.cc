// lsearch-style override files; see limits_file.h.
#include "eximlog/limits_file.h"

#include "core/bounded_file.h"
#include "senderwatch/lsearch.h"

namespace senderwatch::eximlog {

Result<OverridesByAccount> ParseLimitsFile(std::string_view text, std::string_view origin) {
  OverridesByAccount result;
  for (LsearchEntry& entry : ParseLsearch(text)) {
    auto overrides = ParseLimitOverrides(entry.value);
    if (!overrides) {
      return MakeError(ErrorKind::kConfig, std::string(origin) + ":" + std::to_string(entry.line) +
                                               ": " + overrides.error().message);
    }
    result.emplace(std::move(entry.key), std::move(*overrides));
  }
  return result;
}

Result<OverridesByAccount> LoadLimitsFile(const std::string& path) {
  // Named on the command line, but a FIFO or /dev/zero there must give an
  // error, not a hang: the reader the policy file uses, without its owner
  // checks (replay only reads what Exim already trusts).
  auto file = internal::ReadBoundedFile(
      path, {.what = "limits file", .kind = ErrorKind::kConfig, .max_bytes = size_t{16} << 20});
  if (!file) return std::unexpected(file.error());
  return ParseLimitsFile(file->text, path);
}

}  // namespace senderwatch::eximlog
