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
#ifndef SENDERWATCH_SRC_STORE_STORE_FILES_H_
#define SENDERWATCH_SRC_STORE_STORE_FILES_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

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

// As root: opens (creating if missing) `path` with O_NOFOLLOW and applies
// FixFileOwnership. Not as root: nothing. Must not be called on a file this
// process holds fcntl() locks on (closing any descriptor drops them all).
Result<void> PrepareFileAsRoot(const std::string& path, const DirInfo& dir);

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

// Reads a whole file (not through a symlink); nullopt when it does not exist.
Result<std::optional<std::string>> ReadWholeFile(const std::string& path);

// Replaces dir/name with `contents` atomically: writes dir/.name.tmp-PID,
// fsyncs it, renames it over dir/name and fsyncs the directory. The file gets
// mode 0660 and the ownership rule.
Result<void> ReplaceFileAtomically(const std::string& dir, std::string_view name,
                                   std::string_view contents, const DirInfo& info);

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_STORE_FILES_H_
