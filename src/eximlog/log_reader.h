// Reading Exim main logs as they lie on disk: the live file, rotated plain
// files and gzip-rotated files (Debian's logrotate makes mainlog.1,
// mainlog.2.gz, ...). Lines come out of one large buffer as string_views, so
// reading costs a memchr per line; memory is the buffer, not the file.
#ifndef SENDERWATCH_SRC_EXIMLOG_LOG_READER_H_
#define SENDERWATCH_SRC_EXIMLOG_LOG_READER_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/clock.h"
#include "senderwatch/error.h"

namespace senderwatch::eximlog {

// One log file, read front to back. gzip is recognised by its magic bytes,
// not by the name; concatenated gzip members are read as one stream. "-"
// reads standard input (plain or gzip). Not thread-safe; not copyable.
class LogFile {
 public:
  // Bytes read from the file per call; the line buffer grows beyond this
  // only for a line longer than it.
  static constexpr size_t kBlockSize = size_t{4} << 20;

  static Result<std::unique_ptr<LogFile>> Open(const std::string& path);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // The next line without its '\n' (a last line without one is returned
  // too). The view is valid until the next call. false at the end or on a
  // read error (then error() is set).
  bool NextLine(std::string_view& line) {
    const char* begin = buffer_.data() + begin_;
    const size_t available = end_ - begin_;
    const void* nl = available ? std::memchr(begin, '\n', available) : nullptr;
    if (nl != nullptr) {
      const size_t length = static_cast<size_t>(static_cast<const char*>(nl) - begin);
      line = std::string_view(begin, length);
      begin_ += length + 1;
      return true;
    }
    return NextLineSlow(line);
  }

  const std::string& path() const { return path_; }
  bool compressed() const { return gz_ != nullptr; }
  // Size of the file on disk (0 for pipes) and how much of it has been
  // consumed: compressed bytes for gzip, so the ratio is the progress.
  uint64_t size_on_disk() const { return size_on_disk_; }
  uint64_t consumed_on_disk() const;
  // Uncompressed bytes returned so far.
  uint64_t bytes_read() const { return bytes_read_; }
  const std::string& error() const { return error_; }

 private:
  LogFile() = default;
  bool NextLineSlow(std::string_view& line);
  // Reads more bytes after end_; returns the count (0: end or error).
  size_t Fill();

  std::string path_;
  int fd_ = -1;
  void* gz_ = nullptr;  // gzFile, kept opaque so zlib.h stays out of here
  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t size_on_disk_ = 0;
  uint64_t consumed_plain_ = 0;
  uint64_t bytes_read_ = 0;
  std::string error_;
};

// The time of the first line with a timestamp among the first lines of a
// file, read in the local zone (for ordering only); nullopt when none.
Result<std::optional<UnixSeconds>> FirstTimestamp(const std::string& path);

// Orders log files oldest first by their first timestamp, so that
// "mainlog mainlog.1 mainlog.2.gz" replays as time went. Files without a
// timestamp keep their relative order at the end. "-" stays where it is last.
Result<std::vector<std::string>> OrderLogFiles(const std::vector<std::string>& paths);

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_LOG_READER_H_
