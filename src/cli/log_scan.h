// What replay, tune and learn share before each does its own work: order
// the LOG arguments (rotated files oldest first), scan them into a joiner
// with a progress bar on a terminal (--no-progress turns it off; --utc reads
// timestamps as UTC), and print the scanner's warnings.
#ifndef SENDERWATCH_SRC_CLI_LOG_SCAN_H_
#define SENDERWATCH_SRC_CLI_LOG_SCAN_H_

#include <chrono>
#include <expected>
#include <string_view>

#include "cli/args.h"
#include "eximlog/joiner.h"
#include "eximlog/scan.h"

namespace senderwatch::cli {

struct LogScan {
  eximlog::ScanStats stats;
  std::chrono::steady_clock::time_point start;  // when the scan began

  // Seconds since the scan began (for "N lines/s" summaries).
  double Seconds() const;
};

// Scans the positional arguments of `parsed` into `joiner`. On failure the
// message is printed as "senderwatch VERB: ..." and the exit code returned.
std::expected<LogScan, int> ScanLogArguments(std::string_view verb, const ParsedArgs& parsed,
                                             eximlog::Joiner& joiner);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_LOG_SCAN_H_
