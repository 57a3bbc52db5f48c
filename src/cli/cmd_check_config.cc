// `senderwatch check-config [FILE]`: validates a policy file the way the
// plugin loads it and prints the effective policy, defaults included.
#include <sys/stat.h>

#include <cerrno>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/messages.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"

namespace senderwatch::cli {

const std::string_view kCheckConfigHelp = R"(Usage: senderwatch check-config [FILE] [--json]

Validates a policy file exactly as the plugin reads it and prints the
effective policy as a complete TOML file: every setting, the defaults
included, and the rules in evaluation order. Without FILE it checks the
--config file, else /etc/exim4/senderwatch.toml; when that default file
does not exist the built-in defaults apply and are printed.

An error names the place: "senderwatch.toml:12:3: unknown key 'abov'".
The plugin reads the file once per Exim process, so a fixed file takes
effect for new connections without restarting Exim; check it here first.

Options:
  --json        machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch check-config
  senderwatch check-config /etc/exim4/senderwatch.toml.new
  senderwatch check-config > /etc/exim4/senderwatch.toml   # start from defaults

Exit status: 0 valid, 1 FILE does not exist, 2 invalid (or usage error).
)";

namespace {
constexpr Operands kOptionalFile{0, 1, "", "expects at most one FILE"};
}  // namespace

int RunCheckConfig(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("check-config", kCheckConfigHelp, base, args, {}, kOptionalFile);
  if (!call) return call.error();
  const PolicyLocation location = LocatePolicy(call->options.config);
  const bool explicit_file = !call->operands().empty() || !location.missing_means_defaults;
  const std::string path = call->operands().empty() ? location.path : call->operands().front();

  struct stat st;
  const bool exists = stat(path.c_str(), &st) == 0 || errno != ENOENT;
  Result<Policy> policy = DefaultPolicy();
  if (exists) policy = LoadPolicyFile(path, CliFileTrust());

  if (call->options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("file", path);
    json.Field("exists", exists);
    json.Field("valid", policy.has_value() && (exists || !explicit_file));
    json.Key("error");
    if (!exists && explicit_file) {
      json.String("no such file: " + path);
    } else if (!policy) {
      json.String(policy.error().message);
    } else {
      json.Null();
    }
    json.Key("policy_toml");
    if (policy && (exists || !explicit_file)) {
      json.String(FormatPolicy(*policy));
    } else {
      json.Null();
    }
    json.EndObject();
    const int code = Emit(json.Take());
    if (code != kExitOk) return code;
    if (!exists && explicit_file) return kExitNotFound;
    return policy ? kExitOk : kExitUsage;
  }

  if (!exists) {
    if (explicit_file) {
      Say("", Tone::kError, "no such file: {}", path);
      return kExitNotFound;
    }
    return Emit("# No policy file at " + SanitizeForTerminal(path) +
                ": the built-in defaults apply.\n"
                "# They are, as a complete policy file:\n" +
                FormatPolicy(*policy));
  }
  if (!policy) {
    Say("", Tone::kError, "{}", policy.error().message);
    return kExitUsage;
  }
  Say("", Tone::kPlain, "{} is valid", path);
  return Emit("# Effective policy from " + SanitizeForTerminal(path) + " (defaults filled in):\n" +
              FormatPolicy(*policy));
}

}  // namespace senderwatch::cli
