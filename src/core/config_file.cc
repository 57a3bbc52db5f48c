// One reader for every file that configures senderwatch, so the policy file
// and the files it names get the same checks (see config_file.h).
#include "senderwatch/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace senderwatch {
namespace {

// Closes the descriptor on every return path.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string Describe(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path;
}

}  // namespace

bool FileTrust::Trusts(uid_t uid) const {
  return std::find(owners.begin(), owners.end(), uid) != owners.end();
}

FileTrust DefaultFileTrust() {
  FileTrust trust;
  trust.owners.push_back(0);
  if (::geteuid() != 0) trust.owners.push_back(::geteuid());
  return trust;
}

Result<std::string> ReadConfigFile(const std::string& path, std::string_view what,
                                   size_t max_bytes, const FileTrust& trust) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return MakeError(ErrorKind::kConfig,
                     "cannot read " + Describe(what, path) + ": " + std::strerror(err), err);
  }
  FdCloser closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorKind::kConfig, Describe(what, path) + " is not a regular file");
  }
  // Exim's rule for its own configure file: whoever can write this file
  // chooses what senderwatch does in processes that run as root.
  if (!trust.Trusts(st.st_uid)) {
    return MakeError(ErrorKind::kConfig,
                     Describe(what, path) + " is owned by uid " + std::to_string(st.st_uid) +
                         ", not by root or the Exim user: refused");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return MakeError(ErrorKind::kConfig,
                     Describe(what, path) + " is writable by its group or by others: refused");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return MakeError(ErrorKind::kConfig,
                     Describe(what, path) + " is larger than " + std::to_string(max_bytes) +
                         " bytes");
  }
  std::string text;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return MakeError(ErrorKind::kConfig,
                       "cannot read " + Describe(what, path) + ": " + std::strerror(err), err);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_bytes) {  // the file grew while we read it
      return MakeError(ErrorKind::kConfig,
                       Describe(what, path) + " is larger than " + std::to_string(max_bytes) +
                           " bytes");
    }
  }
  return text;
}

}  // namespace senderwatch
