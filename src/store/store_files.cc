// File-system chores of the store directory (see store_files.h).
#include "store/store_files.h"

#include <fcntl.h>
#include <grp.h>
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
  // Hands the descriptor to the caller.
  int Release() { return std::exchange(fd_, -1); }
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

Result<void> RequireRegularOrAbsent(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "lstat " + path, errno));
  }
  if (S_ISLNK(st.st_mode)) {
    return MakeError(ErrorKind::kStoreOpen,
                     path + " is a symbolic link; the store's files must be regular files",
                     ELOOP);
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorKind::kStoreOpen, path + " is not a regular file", EINVAL);
  }
  return {};
}

Result<int> OpenDirectoryAsRoot(const std::string& path, const DirInfo& dir) {
  const int fd = OpenRetry(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP || err == ENOTDIR) {
      return MakeError(ErrorKind::kStoreOpen,
                       path + " is a symbolic link (or not a directory): root does not follow "
                              "links to the store; set the store path to the directory itself",
                       err);
    }
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open " + path, err));
  }
  Fd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fstat " + path, errno));
  }
  if (st.st_dev != dir.dev || st.st_ino != dir.ino) {
    return MakeError(ErrorKind::kStoreOpen, path + " was replaced while it was being opened",
                     EAGAIN);
  }
  const bool foreign_group_writes = (st.st_mode & S_IWGRP) != 0 && st.st_gid != 0;
  if (st.st_uid == 0 && (foreign_group_writes || (st.st_mode & S_IWOTH) != 0)) {
    return MakeError(ErrorKind::kStoreOpen,
                     path + " belongs to root but others may write to it: root does not use "
                            "it (chown the directory to the Exim user, mode 0770)",
                     EPERM);
  }
  return owned.Release();
}

Result<void> HandExistingFileToOwner(int dir_fd, std::string_view name, const std::string& shown,
                                     const DirInfo& dir) {
  if (geteuid() != 0) return {};
  const std::string file(name);
  int fd;
  do {
    // Read-only is enough for fchown/fchmod; O_NONBLOCK: a FIFO must not hang.
    fd = ::openat(dir_fd, file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    if (errno == ELOOP) return RequireRegularOrAbsent(shown);  // names the link
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open " + shown, errno));
  }
  Fd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fstat " + shown, errno));
  }
  // Anything else is refused where it is used (RequireRegularOrAbsent,
  // the journal's reader), not here.
  if (!S_ISREG(st.st_mode)) return {};
  return FixFileOwnership(fd, shown, dir);
}

// ---- DirectoryOwnerScope -----------------------------------------------------

Result<DirectoryOwnerScope> DirectoryOwnerScope::Enter(int dir_fd, const DirInfo& dir) {
  DirectoryOwnerScope scope;
  if (geteuid() != 0) return scope;
  if (dir_fd < 0) {
    return MakeError(ErrorKind::kStoreOpen, "store directory not open (internal error)", EBADF);
  }
  scope.saved_cwd_ = OpenRetry(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (scope.saved_cwd_ < 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open the working directory", errno));
  }
  scope.euid_ = geteuid();
  scope.egid_ = getegid();
  scope.umask_ = ::umask(0);
  if (::fchdir(dir_fd) != 0) {
    const int err = errno;
    scope.Restore();
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "fchdir to the store", err));
  }
  if (dir.uid == 0) return scope;  // root's own directory: nothing to give away
  const int count = ::getgroups(0, nullptr);
  if (count > 0) {
    scope.groups_.resize(static_cast<size_t>(count));
    const int got = ::getgroups(count, scope.groups_.data());
    scope.groups_.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  // The order matters: groups and gid while still root, the uid last.
  scope.dropped_ = true;
  const gid_t gid = dir.gid;
  if (::setgroups(1, &gid) != 0 || ::setegid(dir.gid) != 0 || ::seteuid(dir.uid) != 0) {
    const int err = errno;
    scope.Restore();
    return std::unexpected(SysError(ErrorKind::kStoreOpen,
                                    "switching to the store directory's owner (uid " +
                                        std::to_string(dir.uid) + ")",
                                    err));
  }
  return scope;
}

DirectoryOwnerScope::DirectoryOwnerScope(DirectoryOwnerScope&& other) noexcept
    : saved_cwd_(std::exchange(other.saved_cwd_, -1)),
      dropped_(std::exchange(other.dropped_, false)),
      euid_(other.euid_),
      egid_(other.egid_),
      groups_(std::move(other.groups_)),
      umask_(other.umask_) {}

DirectoryOwnerScope::~DirectoryOwnerScope() { Restore(); }

void DirectoryOwnerScope::Restore() noexcept {
  if (saved_cwd_ < 0) return;
  if (dropped_) {
    // Back to root first: only root may set the groups and gid back. These
    // cannot fail for a process whose saved set-user-ID is root; if they
    // did, the process would go on with less privilege, never more.
    (void)::seteuid(euid_);
    (void)::setegid(egid_);
    (void)::setgroups(groups_.size(), groups_.empty() ? nullptr : groups_.data());
    dropped_ = false;
  }
  (void)::fchdir(saved_cwd_);
  ::close(saved_cwd_);
  saved_cwd_ = -1;
  ::umask(umask_);
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
  // O_NONBLOCK: a FIFO planted under the name must not hang the open.
  const int base = O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd = create ? OpenRetry(path.c_str(), base | O_RDWR | O_CREAT, kFileMode) : -1;
  if (fd < 0) fd = OpenRetry(path.c_str(), base | O_RDONLY);  // flock needs no write access
  if (fd < 0) {
    return std::unexpected(SysError(ErrorKind::kStoreOpen, "open " + path, errno));
  }
  FileLock lock;
  lock.fd_ = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorKind::kStoreOpen, path + " is not a regular file", EINVAL);
  }
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
