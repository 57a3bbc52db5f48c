// The per-account limit overrides the ACL passes to check_sender, read the
// way Exim reads them: the snippets look up ${lc:$authenticated_id} in an
// lsearch file (SENDERWATCH_LIMITS_FILE, /etc/exim4/senderwatch.limits by
// default) whose lines are "account: rule=limit rule=off ...". Replay uses
// the same file so that an account with an exception is replayed with it.
#ifndef SENDERWATCH_SRC_EXIMLOG_LIMITS_FILE_H_
#define SENDERWATCH_SRC_EXIMLOG_LIMITS_FILE_H_

#include <map>
#include <string>
#include <string_view>

#include "senderwatch/error.h"
#include "senderwatch/policy.h"

namespace senderwatch::eximlog {

using OverridesByAccount = std::map<std::string, LimitOverrides, std::less<>>;

// Parses lsearch text by Exim's rules (senderwatch/lsearch.h); keys are
// stored in lower case. A value that is not valid override syntax is an
// error naming `origin` and the line.
Result<OverridesByAccount> ParseLimitsFile(std::string_view text, std::string_view origin);
// Reads a regular file of at most 16 MiB (a FIFO or a device is an error).
Result<OverridesByAccount> LoadLimitsFile(const std::string& path);

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_LIMITS_FILE_H_
