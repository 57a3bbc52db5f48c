// Argument positions and option keys of the dlfunc contract (arguments.h).
#include "exim/arguments.h"

#include <cstring>

namespace senderwatch::exim {
namespace {

// The option keys. Only an argument after the positional ones that starts
// with one of these is an option; its value may be message data.
constexpr std::string_view kConfigKey = "config=";
constexpr std::string_view kModeKey = "mode=";
constexpr std::string_view kModeEvent = "mode=event";
constexpr std::string_view kRcptKey = "rcpt=";
constexpr std::string_view kSenderKey = "sender=";
constexpr std::string_view kOriginKey = "origin=";

}  // namespace

void AppendError(std::string& to, std::string_view message) {
  if (message.empty()) return;
  if (!to.empty()) to += "; ";
  to += message;
}

CallSpec SpecOf(Function f) {
  switch (f) {
    case Function::kCheckSender:
      return {"check_sender", 2, true, true, true, {}, "ACCOUNT, CLIENT_IP [, OVERRIDES]"};
    case Function::kPeekSender:
      return {"peek_sender", 1, true, false, true, {}, "ACCOUNT [, OVERRIDES]"};
    case Function::kRecordBounce:
      return {"record_bounce", 3, false, false, true, "bounces", "ACCOUNT, FAILED_RCPT, REASON"};
    case Function::kRecordDefer:
      return {"record_defer", 3, false, false, true, "defers", "ACCOUNT, RCPT, REASON"};
    case Function::kRecordAuthfail:
      return {"record_authfail", 2, false, false, false, "authfails", "USERNAME, CLIENT_IP"};
    case Function::kPreload:
      return {"preload", 0, false, false, false, {}, "no data arguments"};
  }
  return {"unknown", 0, false, false, false, {}, ""};
}

bool IsOption(std::string_view arg) {
  return arg.starts_with(kConfigKey) || arg.starts_with(kModeKey) || arg.starts_with(kRcptKey) ||
         arg.starts_with(kSenderKey) || arg.starts_with(kOriginKey);
}

Result<ParsedCall> ParseArguments(const CallSpec& spec, int argc, const char* const* argv) {
  if (argc < 0 || (argc > 0 && argv == nullptr)) {
    return MakeError(ErrorKind::kInvalidArgument, "no argument vector");
  }
  if (argc < spec.positional) {
    return MakeError(ErrorKind::kInvalidArgument,
                     std::string(spec.name) + " takes " + std::string(spec.usage) +
                         ", then options (config=, mode=" +
                         (spec.context_options ? ", rcpt=, sender=" : "") +
                         (spec.origin_option ? ", origin=" : "") + "); got " +
                         std::to_string(argc) + " arguments");
  }
  ParsedCall call;
  for (int i = 0; i < argc; ++i) {
    if (argv[i] == nullptr) return MakeError(ErrorKind::kInvalidArgument, "null argument");
    std::string_view arg(argv[i], strnlen(argv[i], kMaxArgumentLength + 1));
    const bool too_long = arg.size() > kMaxArgumentLength;
    // Built only when needed: every call passes here (docs/performance.md).
    const auto too_long_message = [i] {
      return "argument " + std::to_string(i + 1) + " is longer than 64 KiB (ignored)";
    };
    if (i < spec.positional) {
      if (too_long) {
        AppendError(call.input_error, too_long_message());
        arg = {};
      }
      call.positional.push_back(arg);
      continue;
    }
    if (i == spec.positional && spec.overrides && !IsOption(arg)) {
      if (too_long) return MakeError(ErrorKind::kInvalidArgument, "OVERRIDES is longer than 64 KiB");
      call.overrides = arg;
      continue;
    }
    if (arg.starts_with(kConfigKey)) {
      if (too_long) return MakeError(ErrorKind::kInvalidArgument, "config= is longer than 64 KiB");
      call.config_path = std::string(arg.substr(kConfigKey.size()));
      if (call.config_path.empty() || call.config_path.front() != '/') {
        return MakeError(ErrorKind::kInvalidArgument, "config= needs an absolute path");
      }
    } else if (arg == kModeEvent) {
      call.event_mode = true;
    } else if (spec.context_options && arg.starts_with(kRcptKey)) {
      if (too_long) AppendError(call.input_error, too_long_message());
      else call.recipient = arg.substr(kRcptKey.size());
    } else if (spec.context_options && arg.starts_with(kSenderKey)) {
      if (too_long) AppendError(call.input_error, too_long_message());
      else call.sender = arg.substr(kSenderKey.size());
    } else if (spec.origin_option && arg.starts_with(kOriginKey)) {
      // The value is written by the snippets (from $received_protocol): an
      // unknown one is a configuration mistake.
      auto origin = ParseOrigin(arg.substr(kOriginKey.size()));
      if (!origin) {
        return MakeError(ErrorKind::kInvalidArgument,
                         std::string(spec.name) + ": origin= must be smtp, local or any");
      }
      call.origin = *origin;
    } else {
      return MakeError(ErrorKind::kInvalidArgument,
                       std::string(spec.name) + ": argument " + std::to_string(i + 1) +
                           " is not an option (" + std::string(spec.name) + " takes " +
                           std::string(spec.usage) + ", then config=, mode=event" +
                           (spec.context_options ? ", rcpt=, sender=" : "") +
                         (spec.origin_option ? ", origin=" : "") + ")");
    }
  }
  return call;
}


}  // namespace senderwatch::exim
