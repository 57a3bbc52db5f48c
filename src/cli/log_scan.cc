// The log scan the log verbs share; see log_scan.h.
#include "cli/log_scan.h"

#include <unistd.h>

#include <string>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/messages.h"
#include "cli/progress_bar.h"
#include "eximlog/log_reader.h"

namespace senderwatch::cli {

double LogScan::Seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::expected<LogScan, int> ScanLogArguments(std::string_view verb, const ParsedArgs& parsed,
                                             eximlog::Joiner& joiner) {
  auto ordered = eximlog::OrderLogFiles(parsed.positional());
  if (!ordered) {
    Say(verb, Tone::kPlain, "{}", ordered.error().message);
    return std::unexpected(kExitNotFound);
  }
  ProgressBar bar(stderr, isatty(STDERR_FILENO) && !parsed.Has("no-progress"));
  eximlog::ScanOptions options;
  options.zone = parsed.Has("utc") ? eximlog::TimestampParser::Zone::kUtc
                                   : eximlog::TimestampParser::Zone::kLocal;
  options.progress = [&](const eximlog::ScanProgress& p) { bar.Update(p); };
  LogScan scan;
  scan.start = std::chrono::steady_clock::now();
  auto stats = eximlog::ScanLogs(*ordered, joiner, options);
  bar.Clear();
  if (!stats) {
    Say(verb, Tone::kPlain, "{}", stats.error().message);
    return std::unexpected(kExitNotFound);
  }
  for (const auto& warning : stats->warnings) {
    Say(verb, Tone::kWarning, "{}", warning);
  }
  scan.stats = std::move(*stats);
  return scan;
}

}  // namespace senderwatch::cli
