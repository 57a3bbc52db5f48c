// Runs the policy's `notify` command when an account becomes locked,
// detached (double fork, new session, stdio on /dev/null) so that a slow or
// hanging script can never delay the Exim process that detected the lock.
#ifndef SENDERWATCH_SRC_EXIM_NOTIFY_H_
#define SENDERWATCH_SRC_EXIM_NOTIFY_H_

#include <string>

#include "senderwatch/record.h"

namespace senderwatch::exim {

// Starts `/bin/sh -c command` with SENDERWATCH_ACCOUNT, _RULE, _METRIC,
// _VALUE, _LIMIT, _WINDOW, _REASON and _SINCE in its environment. Returns an
// empty string on success, else what failed (for the log).
std::string RunNotify(const std::string& command, const AccountRecord& record) noexcept;

}  // namespace senderwatch::exim

#endif  // SENDERWATCH_SRC_EXIM_NOTIFY_H_
