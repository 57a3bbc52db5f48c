// What every verb needs before it can do its job: the effective policy, the
// store path resolved exactly as the plugin resolves it, a logger on stderr,
// and the store itself. Verbs call OpenContext and never repeat this logic.
#ifndef SENDERWATCH_SRC_CLI_CONTEXT_H_
#define SENDERWATCH_SRC_CLI_CONTEXT_H_

#include <memory>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "senderwatch/clock.h"
#include "senderwatch/config_file.h"
#include "senderwatch/error.h"
#include "senderwatch/locate.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"

namespace senderwatch::cli {

// A Logger writing the library's lines to stderr as CLI messages
// ("senderwatch: warning: ...", messages.h). Info and debug lines appear
// only when verbose.
std::unique_ptr<Logger> NewStderrLogger(bool verbose);

// Passes lines on to `inner`, with warnings lowered to info. For the
// engine's audit lines ("account alice released by bob") when the CLI
// itself prints the outcome: they would only repeat it on stderr.
class QuietLogger final : public Logger {
 public:
  explicit QuietLogger(Logger& inner) : inner_(inner) {}
  void Log(LogLevel level, std::string_view message) noexcept override {
    inner_.Log(level == LogLevel::kWarning ? LogLevel::kInfo : level, message);
  }

 private:
  Logger& inner_;
};

// Whose policy files the CLI trusts: root, the Exim user (Debian-exim or
// exim) and the user running it. Exim processes trust root and the Exim
// user, so check-config refuses what the plugin would refuse.
FileTrust CliFileTrust();

// The policy the plugin would load (senderwatch/locate.h): the --config
// file, else the default file, else (no default file) DefaultPolicy().
Result<Policy> LoadEffectivePolicy(const GlobalOptions& options);

// The store the plugin would open (LocateStore), --db first; the spool
// directory comes from `exim4 -bP` (see exim_tools.h), with a warning when Exim
// could not be asked.
Result<StoreSettings> LocateCliStore(const GlobalOptions& options, const Policy& policy,
                                     Logger& logger);

// Who is acting, for lock and release records: $SUDO_USER when set, else the
// login name, else the user name of the real uid, else "uid N".
std::string AdminName();

// The exit code for a library error (commands.h): configuration and argument
// errors are usage errors (2), store errors are 3.
int ExitCodeFor(const Error& error);

// Prints "senderwatch: error: MESSAGE" (plus a hint for permission errors)
// to stderr and returns ExitCodeFor(error).
int ReportError(const Error& error);
// Prints "senderwatch VERB: MESSAGE" and a pointer to `--help`; returns 2.
int UsageError(std::string_view verb, std::string_view message);
// Prints "senderwatch: no record of account 'ACCOUNT' in STORE"; returns
// kExitNotFound.
int ReportNoRecord(std::string_view account, std::string_view store_path);

// Everything a verb that touches the store needs. Members are declared in
// the order they must be destroyed in reverse: the store borrows the clock
// and the logger.
struct Context {
  GlobalOptions options;
  Policy policy;
  SystemClock clock;
  std::unique_ptr<Logger> logger;
  std::string store_path;
  // True when a read-only command found the store directory but no store in
  // it yet (nothing recorded so far): `store` is then an empty stand-in.
  bool store_not_created = false;
  std::unique_ptr<Store> store;
};

// Loads the policy, resolves the store path and opens the LMDB store.
// Read-only for verbs that only look (top, show, dump, stats): LMDB still
// needs write access to lock.mdb for readers. A read-only open of an
// existing directory in which the plugin has not created the store yet
// gives an empty store (see Context::store_not_created), not an error.
Result<std::unique_ptr<Context>> OpenContext(const GlobalOptions& options, OpenMode mode);

// Prints `text` to stdout exactly as given (no added newline); returns false
// when stdout is gone (a closed pipe).
bool WriteOut(std::string_view text);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_CONTEXT_H_
