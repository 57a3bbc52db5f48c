// The verbs of the `senderwatch` command. main.cc parses the global options,
// finds the verb in AllCommands() and runs it; each verb lives in its own
// cmd_<verb>.cc and only parses its arguments, calls the library and prints.
#ifndef SENDERWATCH_SRC_CLI_COMMANDS_H_
#define SENDERWATCH_SRC_CLI_COMMANDS_H_

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace senderwatch::cli {

// Exit codes, documented in docs/cli.md and senderwatch(1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitNotFound = 1;  // the account (or file) does not exist
inline constexpr int kExitUsage = 2;     // bad command line or policy file
inline constexpr int kExitStore = 3;     // the store cannot be opened or used

// Options given before the verb, shared by all verbs.
struct GlobalOptions {
  std::string db;         // --db PATH; empty: from the policy, else Exim's spool
  std::string config;     // --config PATH; empty: /etc/exim4/senderwatch.toml
  std::string exim_config;  // --exim-config FILE: passed to exim4/exipick as -C
  bool verbose = false;   // --verbose: informational log lines on stderr
  bool json = false;      // --json
  bool color = false;     // decided from isatty(1), NO_COLOR and --color/--no-color
};

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `senderwatch --help`
  std::string_view help;     // full text for `senderwatch VERB --help`
  // args: the arguments after the verb. Returns an exit code.
  int (*run)(const GlobalOptions& options, std::span<const std::string> args);
};

const std::vector<Command>& AllCommands();

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_COMMANDS_H_
