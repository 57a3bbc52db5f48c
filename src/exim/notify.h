// Runs the policy's `notify` command when an account becomes locked. The
// Exim process that found the lock may be a root delivery process, and the
// command's environment carries an account name a sender chose, so the
// command runs with the least it needs: never as root (as the policy's
// notify_user or the Exim user), umask 022, no inherited descriptor, a
// clean signal state, and a time limit. It is detached (a watcher process
// in its own session waits for it), so a slow script never delays Exim;
// the watcher writes its exit status or its timeout to the main log.
#ifndef SENDERWATCH_SRC_EXIM_NOTIFY_H_
#define SENDERWATCH_SRC_EXIM_NOTIFY_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "exim/dispatch.h"
#include "senderwatch/record.h"

namespace senderwatch::exim {

// Who runs the command and for how long.
struct NotifyCommand {
  std::string command;  // run as /bin/sh -c COMMAND
  uid_t uid = 0;        // never 0: RunNotify refuses root
  gid_t gid = 0;
  int64_t timeout_seconds = 30;
};

// Resolves who runs the notify command: `notify_user` from the policy when
// set, else the Exim user Exim reports. Fails (with the reason, for the log)
// when that would be root or is unknown.
std::string ResolveNotifyUser(const std::string& notify_user, Host& host, NotifyCommand& out);

// Starts the command with SENDERWATCH_ACCOUNT, _RULE, _METRIC, _VALUE,
// _LIMIT, _WINDOW, _REASON, _SINCE and _BY in its environment. Returns an
// empty string when it was started, else what failed (for the log). Its
// outcome is logged later, through `host`, by the watcher process.
std::string RunNotify(const NotifyCommand& notify, const AccountRecord& record,
                      Host& host) noexcept;

}  // namespace senderwatch::exim

#endif  // SENDERWATCH_SRC_EXIM_NOTIFY_H_
