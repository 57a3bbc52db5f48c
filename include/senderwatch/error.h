// Errors as values. Every fallible call in the library returns Result<T>; an
// Error names the call that failed and its code ("mdb_put: MDB_MAP_FULL"), so
// a log line is useful without a debugger. "Not found" is never an Error: it
// is an empty std::optional.
#ifndef SENDERWATCH_ERROR_H_
#define SENDERWATCH_ERROR_H_

#include <expected>
#include <string>
#include <utility>

namespace senderwatch {

// What went wrong, for the caller's decision (not for display).
enum class ErrorKind {
  kInvalidArgument,  // bad input from Exim, the ACL or the command line
  kConfig,           // the policy file is missing, unreadable or invalid
  kStoreOpen,        // the store cannot be opened (permissions, missing dir)
  kStoreCorrupt,     // the store or a record cannot be decoded
  kStoreFull,        // the store reached max_size even after pruning
  kStoreIo,          // any other store failure
  kUnsupported,      // a record written by a newer senderwatch
};

struct Error {
  ErrorKind kind = ErrorKind::kInvalidArgument;
  // The failing operation and its cause, e.g.
  // "mdb_env_open /var/spool/exim4/db/senderwatch: Permission denied".
  std::string message;
  // The raw code of the failing call where there is one (errno, MDB_*), else 0.
  int code = 0;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> MakeError(ErrorKind kind, std::string message,
                                        int code = 0) {
  return std::unexpected<Error>(Error{kind, std::move(message), code});
}

}  // namespace senderwatch

#endif  // SENDERWATCH_ERROR_H_
