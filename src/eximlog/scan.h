// The read loop shared by replay and tune: files in time order, line by
// line, parsed and fed to a Joiner, with counts of what was (not)
// understood and a progress callback for long runs.
#ifndef SENDERWATCH_SRC_EXIMLOG_SCAN_H_
#define SENDERWATCH_SRC_EXIMLOG_SCAN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eximlog/joiner.h"
#include "eximlog/timestamp.h"
#include "senderwatch/clock.h"
#include "senderwatch/error.h"

namespace senderwatch::eximlog {

struct ScanProgress {
  uint64_t bytes_done = 0;    // on disk (compressed bytes for gzip files)
  uint64_t bytes_total = 0;   // 0 when unknown (standard input)
  uint64_t lines = 0;
  size_t file_index = 0;      // of the file being read
  size_t file_count = 0;
  bool finished = false;      // the last call
};

struct ScanOptions {
  TimestampParser::Zone zone = TimestampParser::Zone::kLocal;
  // Called every progress_interval_lines lines and once at the end; may be
  // empty. Runs on the reading thread: keep it cheap.
  std::function<void(const ScanProgress&)> progress;
  uint64_t progress_interval_lines = uint64_t{1} << 16;
};

struct ScanStats {
  uint64_t files = 0;
  uint64_t lines = 0;
  uint64_t lines_not_understood = 0;  // no timestamp, or a known kind that does not parse
  uint64_t lines_other = 0;           // well-formed lines replay has no use for
  uint64_t bytes = 0;                 // uncompressed
  UnixSeconds first_time = 0;
  UnixSeconds last_time = 0;
  // Read errors of single files (a truncated .gz): reading went on with the
  // next file.
  std::vector<std::string> warnings;
};

// Reads `paths` in the order given (see OrderLogFiles) into `joiner`. Fails
// only when a file cannot be opened; read errors inside a file become
// warnings.
Result<ScanStats> ScanLogs(const std::vector<std::string>& paths, Joiner& joiner,
                           const ScanOptions& options = {});

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_SCAN_H_
