// Reading a small file that someone else may have put in our way: a policy
// file named by config=, an owners file, the store's lock journal. A FIFO or
// a device there must give an error, not hang Exim (open() of a FIFO blocks
// until a writer appears) or read forever (/dev/zero); a huge file must not
// exhaust memory. One helper so every reader gets the same guarantees:
// O_NONBLOCK, optionally O_NOFOLLOW, fstat() of what was actually opened
// (regular files only), and a size bound.
//
// Internal to senderwatch: ReadConfigFile (policy and owners files, which adds
// the owner and mode checks) and the store's lock journal build on it.
#ifndef SENDERWATCH_SRC_CORE_BOUNDED_FILE_H_
#define SENDERWATCH_SRC_CORE_BOUNDED_FILE_H_

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "senderwatch/error.h"

namespace senderwatch::internal {

struct BoundedReadOptions {
  // Names the file in messages: "cannot read WHAT PATH: ...",
  // "WHAT PATH is not a regular file", "WHAT PATH is larger than 1 MiB".
  std::string_view what = "file";
  // The kind of every error returned.
  ErrorKind kind = ErrorKind::kConfig;
  // Files larger than this are refused, whatever their content.
  size_t max_bytes = size_t{1} << 20;
  // false: the last path component must not be a symbolic link (O_NOFOLLOW;
  // a link is an error with code ELOOP).
  bool follow_symlinks = true;
};

struct BoundedFile {
  std::string text;
  // fstat() of the open file, for callers that also judge its owner and mode.
  struct stat st {};
};

// Reads the whole of `path`. A missing file is an error with code ENOENT
// (callers for whom absence is normal test for it); a file that is not a
// regular file has code EINVAL, one over the bound EFBIG.
Result<BoundedFile> ReadBoundedFile(const std::string& path, const BoundedReadOptions& options);

}  // namespace senderwatch::internal

#endif  // SENDERWATCH_SRC_CORE_BOUNDED_FILE_H_
