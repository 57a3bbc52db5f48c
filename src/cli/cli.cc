// Global options and dispatch; see cli.h. Every verb gets the same
// GlobalOptions, so --db and --config mean the same thing everywhere.
#include "cli/cli.h"

#include <unistd.h>

#include <cstdlib>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/messages.h"
#include "cli/verbs.h"

#ifndef SENDERWATCH_VERSION
#define SENDERWATCH_VERSION "unknown"
#endif

namespace senderwatch::cli {

const std::string_view kMainHelp = R"(Usage: senderwatch [OPTIONS] COMMAND [ARGS...]

senderwatch finds compromised SMTP AUTH accounts on an Exim server. Its Exim
plugin counts, per account, the recipients, hard bounces, temporary
failures, client networks and failed logins, and when the policy's rules
say the account is compromised it locks it: Exim then refuses or freezes
its mail until a person releases it. This command shows what the plugin
recorded and manages locks, using the same store and policy.

An account was locked. What now?
  senderwatch top                      who is locked, or close to it
  senderwatch show ACCOUNT             why: the rule and its numbers, since
                                       when, who locked it, from which networks
  (have the account's password changed)
  senderwatch queue ACCOUNT            the mail it left in the queue; then
                                       --remove the spam or --thaw the good mail
  senderwatch unlock ACCOUNT --reason "password changed"

Commands:
)"
                                   R"(
Options (before or after COMMAND):
  --db PATH           the store directory. Default: the policy's [store] path,
                      else $spool_directory/db/senderwatch, spool_directory as
                      'exim4 -bP spool_directory' reports it (/var/spool/exim4)
  --config FILE       the policy file. Default /etc/exim4/senderwatch.toml; when
                      that file does not exist the built-in defaults apply
  --exim-config FILE  Exim's configuration file, passed to exim4 as -C
  --json              machine-readable output; schemas in docs/cli.md
  --color WHEN        auto (colour on a terminal unless NO_COLOR is set),
                      always or never; --no-color means never
  -v, --verbose       informational messages on stderr
  -h, --help          this text; 'senderwatch COMMAND --help' for a command
  --version           the version

Exit status:
  0  success
  1  the account (or file) does not exist
  2  usage error, or an invalid policy file
  3  the store cannot be opened or used, or Exim's tools failed

The store belongs to the Exim user: run senderwatch as root or as
Debian-exim. More: senderwatch(1), /usr/share/doc/senderwatch/cli.md.
)";

namespace {

std::string MainHelpText() {
  // The verb list is built from the registry so it never drifts.
  const std::string_view marker = "Commands:\n";
  const size_t split = kMainHelp.find(marker) + marker.size();
  std::string text(kMainHelp.substr(0, split));
  size_t width = 0;
  for (const Command& c : AllCommands()) width = std::max(width, c.name.size());
  for (const Command& c : AllCommands()) {
    text += "  " + std::string(c.name) + std::string(width - c.name.size() + 2, ' ') +
            std::string(c.summary) + "\n";
  }
  text += kMainHelp.substr(split);
  return text;
}

// Global options end at the first argument that is not one: the verb. An
// option that takes a value ("--db PATH") also owns the next argument.
size_t FindVerb(std::span<const std::string> args, std::span<const OptionSpec> specs) {
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.empty() || arg[0] != '-' || arg == "-") break;
    if (arg == "--") return i + 1;
    const bool is_long = arg.starts_with("--");
    if (is_long && arg.find('=') != std::string::npos) continue;
    const std::string_view name = std::string_view(arg).substr(is_long ? 2 : 1);
    for (const OptionSpec& spec : specs) {
      const bool match =
          is_long ? spec.name == name : (name.size() == 1 && spec.short_name == name[0]);
      if (match && spec.takes_value) ++i;
    }
  }
  return i;
}

const Command* FindCommand(std::string_view name) {
  for (const Command& c : AllCommands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace

int RunCli(std::span<const std::string> args) {
  GlobalOptions options;
  options.color =
      DecideColor("auto", isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR"), std::getenv("TERM"));
  std::vector<OptionSpec> specs(GlobalOptionSpecs().begin(), GlobalOptionSpecs().end());
  specs.push_back({"version", 0, false});
  const size_t verb_at = FindVerb(args, specs);
  const size_t global_end = std::min(verb_at, args.size());
  auto parsed = ParseArgs(args.subspan(0, global_end), specs);
  if (!parsed) return UsageError("", parsed.error().message);
  auto applied = ApplyGlobalOptions(options, *parsed);
  if (!applied) return UsageError("", applied.error().message);
  options = *applied;
  if (parsed->Has("version")) return Emit("senderwatch " SENDERWATCH_VERSION "\n");
  if (verb_at >= args.size()) {
    if (parsed->Has("help")) return Emit(MainHelpText());
    WriteStderr(MainHelpText());
    return kExitUsage;
  }

  std::string_view verb = args[verb_at];
  std::span<const std::string> rest = args.subspan(verb_at + 1);
  if (verb == "help") {  // "senderwatch help [VERB]"
    if (rest.empty()) return Emit(MainHelpText());
    const Command* command = FindCommand(rest.front());
    if (command == nullptr) return UsageError("", "unknown command '" + rest.front() + "'");
    return Emit(command->help);
  }
  const Command* command = FindCommand(verb);
  if (command == nullptr) return UsageError("", "unknown command '" + std::string(verb) + "'");
  if (parsed->Has("help")) return Emit(command->help);
  return command->run(options, rest);
}

}  // namespace senderwatch::cli
