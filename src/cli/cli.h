// The `senderwatch` command as a function: global options, then the verb.
// main.cc only converts argv; tests and tools can call RunCli directly.
#ifndef SENDERWATCH_SRC_CLI_CLI_H_
#define SENDERWATCH_SRC_CLI_CLI_H_

#include <span>
#include <string>
#include <string_view>

namespace senderwatch::cli {

// The text of `senderwatch --help`.
extern const std::string_view kMainHelp;

// args excludes the program name. Returns the exit code (commands.h).
int RunCli(std::span<const std::string> args);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_CLI_H_
