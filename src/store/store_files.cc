// File-system chores of the store directory (see store_files.h).
#include "store/store_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace senderwatch::store_internal {
namespace {

// Closes a descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error of close() (0 when fine).
  int Close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

int OpenRetry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// "/a/b/c" -> "/a/b"; "c" -> "."; "/c" -> "/".
std::string ParentOf(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir with mode 0770 whatever the umask; as root the new directory gets the
// owner and group of its parent. An existing directory (a concurrent
// creator) is fine.
Result<void> MakeDirectory(const std::string& path, const struct stat& parent) {
  if (::mkdir(path.c_str(), kDirMode) != 0) {
    if (errno == EEXIST) return {};
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "mkdir " + path, errno));
  }
  Fd fd(OpenRetry(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open " + path, errno));
  }
  if (geteuid() == 0 && ::fchown(fd.get(), parent.st_uid, parent.st_gid) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fchown " + path, errno));
  }
  if (::fchmod(fd.get(), kDirMode) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fchmod " + path, errno));
  }
  return {};
}

Result<void> WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(SysError(ErrorKind::kStoreIo, "write " + path, errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

std::string PermissionHint(int err) {
  if (err != EACCES && err != EPERM) return {};
  return " (the Exim user needs read-write access to the directory and its files: "
         "chown Debian-exim:Debian-exim, mode 0770/0660)";
}

Error SysError(ErrorKind kind, std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  message += PermissionHint(err);
  return Error{kind, std::move(message), err};
}

Result<DirInfo> EnsureDirectory(const std::string& path, bool create) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err != ENOENT || !create) {
      return std::unexpected(SysError(ErrorKind::kStoreOpen, "stat " + path, err));
    }
    const std::string parent = ParentOf(path);
    struct stat parent_st {};
    if (::stat(parent.c_str(), &parent_st) != 0) {
      if (errno != ENOENT) {
        return std::unexpected(SysError(ErrorKind::kStoreOpen, "stat " + parent, errno));
      }
      const std::string grandparent = ParentOf(parent);
      struct stat grand_st {};
      if (::stat(grandparent.c_str(), &grand_st) != 0) {
        return std::unexpected(
            SysError(ErrorKind::kStoreOpen, "stat " + grandparent, errno));
      }
      if (auto r = MakeDirectory(parent, grand_st); !r) return std::unexpected(r.error());
      if (::stat(parent.c_str(), &parent_st) != 0) {
        return std::unexpected(SysError(ErrorKind::kStoreOpen, "stat " + parent, errno));
      }
    }
    if (auto r = MakeDirectory(path, parent_st); !r) return std::unexpected(r.error());
    if (::stat(path.c_str(), &st) != 0) {
      return std::unexpected(SysError(ErrorKind::kStoreOpen, "stat " + path, errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, path, ENOTDIR));
  }
  return DirInfo{st.st_uid, st.st_gid, st.st_dev, st.st_ino};
}

Result<void> FixFileOwnership(int fd, const std::string& path, const DirInfo& dir) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fstat " + path, errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorKind::kStoreOpen, path + " is not a regular file", EINVAL);
  }
  const bool root = geteuid() == 0;
  if (!root && st.st_uid != geteuid()) return {};  // not ours to change
  if (st.st_nlink > 1) {
    return MakeError(ErrorKind::kStoreOpen,
                     path + " has " + std::to_string(st.st_nlink) +
                         " hard links; refusing to change its owner or mode",
                     EMLINK);
  }
  if (root && (st.st_uid != dir.uid || st.st_gid != dir.gid) &&
      ::fchown(fd, dir.uid, dir.gid) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fchown " + path, errno));
  }
  if ((st.st_mode & 07777) != kFileMode && ::fchmod(fd, kFileMode) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fchmod " + path, errno));
  }
  return {};
}

Result<void> PrepareFileAsRoot(const std::string& path, const DirInfo& dir) {
  if (geteuid() != 0) return {};
  Fd fd(OpenRetry(path.c_str(),
                  O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                  kFileMode));
  if (fd.get() < 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open " + path, errno));
  }
  return FixFileOwnership(fd.get(), path, dir);
}

Result<void> ReserveLockFile(const std::string& path, const DirInfo& dir, off_t bytes) {
  Fd fd(OpenRetry(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, kFileMode));
  if (fd.get() < 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open " + path, errno));
  }
  if (auto r = FixFileOwnership(fd.get(), path, dir); !r) return r;
  struct stat st{};
  if (::fstat(fd.get(), &st) == 0 && st.st_blocks * 512 >= bytes) return {};
  const int rc = ::posix_fallocate(fd.get(), 0, bytes);
  if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "reserving " + path, rc));
  }
  return {};
}

// ---- FileLock -------------------------------------------------------------

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Result<FileLock> FileLock::Acquire(const std::string& path, bool exclusive, bool create,
                                   const DirInfo& dir) {
  const int base = O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  int fd = create ? OpenRetry(path.c_str(), base | O_RDWR | O_CREAT, kFileMode) : -1;
  if (fd < 0) fd = OpenRetry(path.c_str(), base | O_RDONLY);  // flock needs no write access
  if (fd < 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open " + path, errno));
  }
  FileLock lock;
  lock.fd_ = fd;
  if (create) {
    if (auto r = FixFileOwnership(fd, path, dir); !r) return std::unexpected(r.error());
  }
  int rc;
  do {
    rc = ::flock(fd, exclusive ? LOCK_EX : LOCK_SH);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "flock " + path, errno));
  }
  return lock;
}

// ---- whole files ------------------------------------------------------------

Result<std::optional<std::string>> ReadWholeFile(const std::string& path) {
  Fd fd(OpenRetry(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return std::unexpected(SysError(ErrorKind::kStoreIo, "open " + path, errno));
  }
  std::string contents;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(SysError(ErrorKind::kStoreIo, "read " + path, errno));
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  return std::optional<std::string>(std::move(contents));
}

Result<void> ReplaceFileAtomically(const std::string& dir, std::string_view name,
                                   std::string_view contents, const DirInfo& info) {
  const std::string target = dir + "/" + std::string(name);
  const std::string temp =
      dir + "/." + std::string(name) + ".tmp-" + std::to_string(getpid());
  // A leftover of a crashed writer with our pid goes first; O_EXCL then makes
  // sure the file written is a new one, not something planted under its name.
  ::unlink(temp.c_str());
  Fd fd(OpenRetry(temp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                  kFileMode));
  if (fd.get() < 0) {
    return std::unexpected(SysError(ErrorKind::kStoreIo, "open " + temp, errno));
  }
  auto fail = [&](Error error) -> Result<void> {
    ::unlink(temp.c_str());
    return std::unexpected(std::move(error));
  };
  if (auto r = FixFileOwnership(fd.get(), temp, info); !r) return fail(r.error());
  if (auto r = WriteAll(fd.get(), contents, temp); !r) return fail(r.error());
  if (::fsync(fd.get()) != 0) {
    return fail(SysError(ErrorKind::kStoreIo, "fsync " + temp, errno));
  }
  if (const int err = fd.Close(); err != 0) {
    return fail(SysError(ErrorKind::kStoreIo, "close " + temp, err));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    return fail(SysError(ErrorKind::kStoreIo, "rename " + temp, errno));
  }
  Fd dir_fd(OpenRetry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreIo, "fsync " + dir, errno));
  }
  return {};
}

}  // namespace senderwatch::store_internal
