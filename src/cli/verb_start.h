// What every verb does before its own work, written once: parse its
// arguments against its options and the global ones, answer --help, apply
// the global options given after the verb, check the number of operands,
// and, for verbs that use the store, open it (OpenContext). Each failure is
// printed and turned into the exit code the verb returns, so a verb reads
//   auto call = StartVerb("gc", kGcHelp, base, args, {}, kNoOperands);
//   if (!call) return call.error();
#ifndef SENDERWATCH_SRC_CLI_VERB_START_H_
#define SENDERWATCH_SRC_CLI_VERB_START_H_

#include <expected>
#include <limits>
#include <memory>

// ParsedArgs and OptionSpec; GlobalOptions and the exit codes; Context.
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/context.h"

namespace senderwatch::cli {

// How many operands (positional arguments) a verb takes, and the usage
// errors for too few or too many.
struct Operands {
  size_t min, max;
  std::string_view missing;   // fewer than min
  std::string_view too_many;  // more than max; empty: "unexpected argument 'X'"
};
inline constexpr Operands kNoOperands{0, 0, "", ""};
inline constexpr Operands kOneAccount{1, 1, "expects exactly one ACCOUNT",
                                      "expects exactly one ACCOUNT"};
inline constexpr Operands kLogFiles{1, std::numeric_limits<size_t>::max(), "no log file given", ""};

// A verb's command line once the shared part is done.
struct VerbCall {
  std::string_view verb;
  ParsedArgs parsed;
  GlobalOptions options;

  const std::vector<std::string>& operands() const { return parsed.positional(); }
  // Prints a usage error for this verb; returns kExitUsage.
  int Usage(std::string_view message) const { return UsageError(verb, message); }
};

// Parses `args` (after the verb) against `specs` and the global options.
// The error is the exit code when the verb has nothing more to do: --help
// was printed (kExitOk, or kExitStore when stdout is gone), or a usage error.
std::expected<VerbCall, int> StartVerb(std::string_view verb, std::string_view help,
                                       const GlobalOptions& base, std::span<const std::string> args,
                                       std::initializer_list<OptionSpec> specs,
                                       const Operands& operands);

// OpenContext, with a failure reported (ReportError) and its exit code.
std::expected<std::unique_ptr<Context>, int> OpenVerbContext(const GlobalOptions& options,
                                                             OpenMode mode);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_VERB_START_H_
