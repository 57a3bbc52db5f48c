// Bounded, non-blocking reads of regular files (see bounded_file.h).
#include "core/bounded_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace senderwatch::internal {
namespace {

std::string SizeText(size_t bytes) {
  constexpr size_t kMiB = size_t{1} << 20;
  constexpr size_t kKiB = size_t{1} << 10;
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

Result<BoundedFile> ReadBoundedFile(const std::string& path, const BoundedReadOptions& options) {
  const std::string name = std::string(options.what) + " " + path;
  auto fail = [&](std::string message, int err) {
    return MakeError(options.kind, std::move(message), err);
  };
  int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  if (!options.follow_symlinks) flags |= O_NOFOLLOW;
  int fd;
  do {
    fd = ::open(path.c_str(), flags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP && !options.follow_symlinks) {
      return fail(name + " is a symbolic link (not followed)", err);
    }
    return fail("cannot read " + name + ": " + std::strerror(err), err);
  }
  BoundedFile file;
  auto close_and_fail = [&](std::string message, int err) {
    ::close(fd);
    return fail(std::move(message), err);
  };
  if (::fstat(fd, &file.st) != 0) {
    const int err = errno;
    return close_and_fail("cannot read " + name + ": fstat: " + std::strerror(err), err);
  }
  if (!S_ISREG(file.st.st_mode)) return close_and_fail(name + " is not a regular file", EINVAL);
  const std::string too_large = name + " is larger than " + SizeText(options.max_bytes);
  if (static_cast<unsigned long long>(file.st.st_size) > options.max_bytes) {
    return close_and_fail(too_large, EFBIG);
  }
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return close_and_fail("cannot read " + name + ": " + std::strerror(err), err);
    }
    if (n == 0) break;
    // A file growing while it is read is bounded too.
    if (file.text.size() + static_cast<size_t>(n) > options.max_bytes) {
      return close_and_fail(too_large, EFBIG);
    }
    file.text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return file;
}

}  // namespace senderwatch::internal
