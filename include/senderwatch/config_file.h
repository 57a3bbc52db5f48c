// Reading the files an administrator configures senderwatch with: the policy
// file and the files it names (the [sender] owners file). Exim processes read
// them, some as root, so they are trusted the way Exim trusts its own
// configure file: a regular file owned by a trusted user (root or the Exim
// user) and writable by nobody else. Anything else is refused with an error
// that names the file and the reason, before a byte of it is parsed.
//
// Thread-safe; no state.
#ifndef SENDERWATCH_CONFIG_FILE_H_
#define SENDERWATCH_CONFIG_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/error.h"

namespace senderwatch {

// Who may own a configuration file. A file owned by anyone else, or
// writable by its group or by others, is refused.
struct FileTrust {
  std::vector<uid_t> owners;

  bool Trusts(uid_t uid) const;
};

// Root and this process's effective user: what a process trusts when it
// knows nothing more (the plugin adds the Exim user, the CLI adds it too).
FileTrust DefaultFileTrust();

// Reads a whole configuration file of at most `max_bytes`. The file is
// opened without blocking (a FIFO or a device gives an error instead of
// hanging Exim), must be a regular file, and must pass `trust` (checked on
// the open descriptor, so a file swapped after the check is never read).
// `what` names the file in messages ("policy file", "sender file").
Result<std::string> ReadConfigFile(const std::string& path, std::string_view what,
                                   size_t max_bytes, const FileTrust& trust);

}  // namespace senderwatch

#endif  // SENDERWATCH_CONFIG_FILE_H_
