// File-system chores of the store directory: creating it, keeping its files
// usable by the Exim user, advisory locks and atomic file replacement.
//
// Exim runs its hooks as Debian-exim and sometimes as root (with group
// Debian-exim), always with umask 000; the CLI may run as root with umask
// 022. The rule that keeps every one of them working: files in the store
// directory are mode 0660, and whatever root creates or opens there is given
// the owner and group of the directory (the directory itself, when root
// creates it, gets those of its parent). Ownership is changed through file
// descriptors opened with O_NOFOLLOW, never by path, so a symlink planted in
// the directory cannot make root chown another file.
//
// The Exim user can plant links and FIFOs in its directory, so root never
// creates or opens by path anything in it: root opens the directory itself
// with O_NOFOLLOW, hands files that already exist to the owner through
// descriptors, and does everything else (LMDB's mdb_env_open, which opens
// lock.mdb with O_CREAT and follows links; the lock journal's rewrite) inside
// a DirectoryOwnerScope: with the directory's owner as effective user and
// group, so what is created is theirs and a link leads nowhere the Exim user
// could not already write.
#ifndef SENDERWATCH_SRC_STORE_STORE_FILES_H_
#define SENDERWATCH_SRC_STORE_STORE_FILES_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/error.h"

namespace senderwatch::store_internal {

inline constexpr mode_t kDirMode = 0770;
inline constexpr mode_t kFileMode = 0660;

// An Error for a failed system call: "WHAT: strerror(err)", code err.
// EACCES and EPERM get the permission hint appended.
Error SysError(ErrorKind kind, std::string_view what, int err);

// " (the Exim user needs read-write access to ...)" for EACCES and EPERM,
// else empty.
std::string PermissionHint(int err);

// Owner and identity of the store directory.
struct DirInfo {
  uid_t uid = 0;
  gid_t gid = 0;
  dev_t dev = 0;
  ino_t ino = 0;
};

// Makes sure `path` is a directory. With `create`, a missing directory is
// made (mode 0770 regardless of umask), and so is its parent if that is
// missing too (one level only).
Result<DirInfo> EnsureDirectory(const std::string& path, bool create);

// Applies the ownership rule to an open file: mode 0660 and, when running
// as root, the owner and group of the directory. Refuses files that are not
// regular or have several links (a hard link planted to a foreign file).
Result<void> FixFileOwnership(int fd, const std::string& path, const DirInfo& dir);

// Refuses what `path` names unless it is absent or a regular file (lstat: a
// symbolic link is refused, not followed). For the files LMDB opens by path.
Result<void> RequireRegularOrAbsent(const std::string& path);

// As root: opens the store directory itself with O_NOFOLLOW (root follows no
// link, not even the store path's last component) and checks it is the
// directory `dir` describes. A directory that belongs to root but that group
// (other than root's) or others may write is refused: root could not leave it
// to its owner. Returns the descriptor (O_CLOEXEC), which the caller closes.
Result<int> OpenDirectoryAsRoot(const std::string& path, const DirInfo& dir);

// As root: if `name` exists in the directory `dir_fd`, opens it without
// following a link, without creating it and without blocking, and, if it is
// a regular file, applies FixFileOwnership (one link only); anything else is
// left for its user to refuse. `shown` names it in
// errors. Not as root: nothing. Must not be called on a file this process
// holds fcntl() locks on (closing any descriptor drops them all).
Result<void> HandExistingFileToOwner(int dir_fd, std::string_view name, const std::string& shown,
                                     const DirInfo& dir);

// The working directory, effective user, group and supplementary groups,
// and umask of a root process, switched for the duration of its life to the
// store directory and its owner (see the top of this file). Entered as root:
// changes into `dir_fd` (active(): paths relative to "." then name the store's
// files) and, unless the directory belongs to root, takes the directory's
// group as effective and only group and its owner as effective user; umask
// becomes 0 so created files get exactly the mode asked for. The destructor
// restores everything. Entered by anyone else: does nothing.
//
// Process-wide state: only for single-threaded callers (Exim's processes,
// the CLI), and nothing else may run in between.
class DirectoryOwnerScope {
 public:
  static Result<DirectoryOwnerScope> Enter(int dir_fd, const DirInfo& dir);
  DirectoryOwnerScope() = default;
  ~DirectoryOwnerScope();
  DirectoryOwnerScope(DirectoryOwnerScope&& other) noexcept;
  DirectoryOwnerScope& operator=(DirectoryOwnerScope&&) = delete;
  DirectoryOwnerScope(const DirectoryOwnerScope&) = delete;
  DirectoryOwnerScope& operator=(const DirectoryOwnerScope&) = delete;

  bool active() const { return saved_cwd_ >= 0; }

 private:
  void Restore() noexcept;

  int saved_cwd_ = -1;
  bool dropped_ = false;
  uid_t euid_ = 0;
  gid_t egid_ = 0;
  std::vector<gid_t> groups_;
  mode_t umask_ = 0;
};

// LMDB maps lock.mdb and touches its pages directly: on a full disk a
// sparse lock file turns that into SIGBUS inside Exim. Giving the file real
// blocks first (posix_fallocate) turns a full disk into a clean ENOSPC.
Result<void> ReserveLockFile(const std::string& path, const DirInfo& dir, off_t bytes);

// An flock() held on a file until destruction.
class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Opens (with `create`, creating it 0660 with the ownership rule) and
  // locks `path`, shared or exclusive; blocks until granted.
  static Result<FileLock> Acquire(const std::string& path, bool exclusive,
                                  bool create, const DirInfo& dir);

 private:
  int fd_ = -1;
};

// Replaces dir/name with `contents` atomically: writes dir/.name.tmp-PID,
// fsyncs it, renames it over dir/name and fsyncs the directory. The file gets
// mode 0660 and the ownership rule.
Result<void> ReplaceFileAtomically(const std::string& dir, std::string_view name,
                                   std::string_view contents, const DirInfo& info);

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_STORE_FILES_H_
