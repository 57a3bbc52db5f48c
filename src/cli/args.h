// Command-line parsing for the verbs: GNU-style long options ("--by bounces",
// "--by=bounces"), short options ("-n 5", "-n5"), flags, positional
// arguments, and "--" to end options. Small on purpose: every verb declares
// its options in one table and gets a precise usage error for anything else.
#ifndef SENDERWATCH_SRC_CLI_ARGS_H_
#define SENDERWATCH_SRC_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "senderwatch/error.h"

namespace senderwatch::cli {

struct OptionSpec {
  std::string_view name;  // long name without dashes: "by"
  char short_name = 0;    // 'n', or 0 for none
  bool takes_value = false;
};

class ParsedArgs {
 public:
  bool Has(std::string_view name) const { return values_.contains(name); }
  // The last value given for `name` (options may repeat; the last wins).
  std::optional<std::string> Value(std::string_view name) const;
  // Every value given for `name`, in order.
  std::vector<std::string> Values(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend Result<ParsedArgs> ParseArgs(std::span<const std::string>, std::span<const OptionSpec>);
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// Parses `args` against `specs`. Errors (unknown option, missing value, a
// value given to a flag) are kInvalidArgument with a message fit for the user.
Result<ParsedArgs> ParseArgs(std::span<const std::string> args, std::span<const OptionSpec> specs);

// The options every verb accepts after the verb as well as before it:
// --db, --config, --exim-config, --json, --color, --no-color, --verbose,
// and --help/-h.
std::span<const OptionSpec> GlobalOptionSpecs();

// Verb options followed by the global ones.
std::vector<OptionSpec> WithGlobalOptions(std::initializer_list<OptionSpec> verb_specs);

// Applies global options that appeared after the verb on top of `base`.
// Fails for a bad --color value.
Result<GlobalOptions> ApplyGlobalOptions(const GlobalOptions& base, const ParsedArgs& parsed);

// Parses a non-negative integer argument ("-n 20"); kInvalidArgument names
// the option on failure.
Result<uint64_t> ParseCount(std::string_view option, std::string_view text);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_ARGS_H_
