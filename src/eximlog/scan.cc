// The read-parse-join loop; see scan.h.
#include "eximlog/scan.h"

#include "eximlog/log_line.h"
#include "eximlog/log_reader.h"

namespace senderwatch::eximlog {

Result<ScanStats> ScanLogs(const std::vector<std::string>& paths, Joiner& joiner,
                           const ScanOptions& options) {
  ScanStats stats;
  std::vector<std::unique_ptr<LogFile>> files;
  files.reserve(paths.size());
  ScanProgress progress;
  progress.file_count = paths.size();
  for (const auto& path : paths) {
    auto file = LogFile::Open(path);
    if (!file) return std::unexpected(file.error());
    progress.bytes_total += (*file)->size_on_disk();
    files.push_back(std::move(*file));
  }
  TimestampParser times(options.zone);
  LogLine line;
  uint64_t done_before = 0;  // bytes of the files already finished
  const uint64_t interval = options.progress_interval_lines ? options.progress_interval_lines : 1;
  uint64_t next_report = interval;
  for (size_t i = 0; i < files.size(); ++i) {
    LogFile& file = *files[i];
    progress.file_index = i;
    ++stats.files;
    std::string_view text;
    while (file.NextLine(text)) {
      ++stats.lines;
      const size_t body = ParseHeader(text, times, line);
      if (line.kind == LineKind::kMalformed) {
        ++stats.lines_not_understood;
        continue;
      }
      if (line.kind == LineKind::kOther) {
        ++stats.lines_other;
      } else if (line.kind == LineKind::kCompleted) {
        joiner.Feed(line);
      } else if (joiner.NeedsBody(line)) {
        ParseBodyForAccounts(text, body, line);
        if (line.kind == LineKind::kMalformed) {
          ++stats.lines_not_understood;
          continue;
        }
        joiner.Feed(line);
      }
      if (stats.first_time == 0) stats.first_time = line.time;
      if (line.time > stats.last_time) stats.last_time = line.time;
      if (stats.lines >= next_report) {
        next_report = stats.lines + interval;
        if (options.progress) {
          progress.lines = stats.lines;
          progress.bytes_done = done_before + file.consumed_on_disk();
          options.progress(progress);
        }
      }
    }
    if (!file.error().empty()) stats.warnings.push_back(file.error());
    stats.bytes += file.bytes_read();
    done_before += file.size_on_disk();
    files[i].reset();  // close early: rotated sets can be long
  }
  if (options.progress) {
    progress.lines = stats.lines;
    progress.bytes_done = done_before;
    progress.finished = true;
    options.progress(progress);
  }
  return stats;
}

}  // namespace senderwatch::eximlog
