// Block reading of plain and gzip log files; see log_reader.h.
#include "eximlog/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "eximlog/timestamp.h"

namespace senderwatch::eximlog {
namespace {

gzFile AsGz(void* p) { return static_cast<gzFile>(p); }

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

Result<std::unique_ptr<LogFile>> LogFile::Open(const std::string& path) {
  std::unique_ptr<LogFile> file(new LogFile());
  file->path_ = path;
  int fd = path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return MakeError(ErrorKind::kInvalidArgument, "open " + path + ": " + ErrnoText(err), err);
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    file->size_on_disk_ = static_cast<uint64_t>(st.st_size);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  file->buffer_.resize(kBlockSize);
  // Peek at the first two bytes for the gzip magic (1f 8b). A pipe cannot be
  // rewound, so standard input always goes through zlib, which passes plain
  // text through unchanged.
  bool gzip = path == "-";
  if (!gzip) {
    unsigned char magic[2] = {0, 0};
    const ssize_t n = ::pread(fd, magic, 2, 0);
    gzip = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  }
  if (gzip) {
    gzFile gz = gzdopen(fd, "rb");
    if (gz == nullptr) {
      ::close(fd);
      return MakeError(ErrorKind::kInvalidArgument, "gzdopen " + path + ": out of memory");
    }
    gzbuffer(gz, 1u << 20);
    file->gz_ = gz;
  } else {
    file->fd_ = fd;
  }
  return file;
}

LogFile::~LogFile() {
  if (gz_ != nullptr) gzclose(AsGz(gz_));
  if (fd_ >= 0) ::close(fd_);
}

uint64_t LogFile::consumed_on_disk() const {
  if (gz_ != nullptr) {
    const z_off_t offset = gzoffset(AsGz(gz_));
    return offset < 0 ? 0 : static_cast<uint64_t>(offset);
  }
  return consumed_plain_;
}

size_t LogFile::Fill() {
  if (eof_) return 0;
  if (end_ == buffer_.size()) {
    // Full with one unfinished line: grow.
    buffer_.resize(buffer_.size() * 2);
  }
  const size_t room = buffer_.size() - end_;
  if (gz_ != nullptr) {
    const unsigned ask = static_cast<unsigned>(std::min<size_t>(room, 1u << 30));
    const int n = gzread(AsGz(gz_), buffer_.data() + end_, ask);
    if (n < 0) {
      int errnum = 0;
      const char* message = gzerror(AsGz(gz_), &errnum);
      // Z_BUF_ERROR: the file ends inside a gzip member (truncated).
      error_ = "gzread " + path_ + ": " +
               (errnum == Z_ERRNO     ? ErrnoText(errno)
                : errnum == Z_BUF_ERROR ? std::string("file is truncated")
                                        : std::string(message ? message : "error"));
      eof_ = true;
      return 0;
    }
    if (n == 0) {
      // zlib reports a file that ends inside a member as end of data with
      // Z_BUF_ERROR set.
      int errnum = 0;
      gzerror(AsGz(gz_), &errnum);
      if (errnum == Z_BUF_ERROR) error_ = "gzread " + path_ + ": file is truncated";
      eof_ = true;
      return 0;
    }
    end_ += static_cast<size_t>(n);
    bytes_read_ += static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data() + end_, room);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = "read " + path_ + ": " + ErrnoText(errno);
      eof_ = true;
      return 0;
    }
    if (n == 0) {
      eof_ = true;
      return 0;
    }
    end_ += static_cast<size_t>(n);
    bytes_read_ += static_cast<uint64_t>(n);
    consumed_plain_ += static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }
}

bool LogFile::NextLineSlow(std::string_view& line) {
  for (;;) {
    // Move the unfinished line to the front, then read after it.
    if (begin_ > 0) {
      const size_t rest = end_ - begin_;
      if (rest > 0) std::memmove(buffer_.data(), buffer_.data() + begin_, rest);
      end_ = rest;
      begin_ = 0;
    }
    const size_t scanned = end_;
    if (Fill() == 0) {
      if (end_ > begin_) {
        line = std::string_view(buffer_.data() + begin_, end_ - begin_);
        begin_ = end_;
        return true;
      }
      return false;
    }
    const void* nl = std::memchr(buffer_.data() + scanned, '\n', end_ - scanned);
    if (nl != nullptr) {
      const char* begin = buffer_.data() + begin_;
      const size_t length = static_cast<size_t>(static_cast<const char*>(nl) - begin);
      line = std::string_view(begin, length);
      begin_ += length + 1;
      return true;
    }
  }
}

Result<std::optional<UnixSeconds>> FirstTimestamp(const std::string& path) {
  auto file = LogFile::Open(path);
  if (!file) return std::unexpected(file.error());
  TimestampParser times;
  std::string_view line;
  for (int i = 0; i < 1000 && (*file)->NextLine(line); ++i) {
    UnixSeconds t = 0;
    if (times.Parse(line, t) > 0) return std::optional<UnixSeconds>(t);
  }
  if (!(*file)->error().empty()) {
    return MakeError(ErrorKind::kInvalidArgument, (*file)->error());
  }
  return std::optional<UnixSeconds>();
}

Result<std::vector<std::string>> OrderLogFiles(const std::vector<std::string>& paths) {
  struct Entry {
    std::string path;
    std::optional<UnixSeconds> first;
    size_t position;
  };
  std::vector<Entry> entries;
  std::vector<std::string> stdin_paths;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i] == "-") {
      stdin_paths.push_back(paths[i]);
      continue;
    }
    auto first = FirstTimestamp(paths[i]);
    if (!first) return std::unexpected(first.error());
    entries.push_back({paths[i], *first, i});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.first.has_value() != b.first.has_value()) return a.first.has_value();
    if (!a.first.has_value()) return false;
    return *a.first < *b.first;
  });
  std::vector<std::string> ordered;
  ordered.reserve(paths.size());
  for (auto& entry : entries) ordered.push_back(std::move(entry.path));
  for (auto& path : stdin_paths) ordered.push_back(std::move(path));
  return ordered;
}

}  // namespace senderwatch::eximlog
