// The plugin's behaviour behind the C ABI. One ProcessState per Exim
// process holds the store handle (the only global state): Exim forks
// transport children from a delivery process that already loaded us, so the
// state remembers its pid and drops an inherited store without closing it.
#include "exim/dispatch.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "exim/notify.h"
#include "senderwatch/account.h"
#include "senderwatch/config_file.h"
#include "senderwatch/engine.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"

namespace senderwatch::exim {
namespace {

// The fixed argument positions of one function (../docs/design.md, "The
// Exim contract"). The first `positional` arguments carry message or client
// data (accounts, addresses, reasons, user names): they are taken as they
// are, whatever they contain, and never read as an option. Then, where
// `overrides` is set, the admin's optional OVERRIDES, then the options,
// each recognised by a literal key the snippets write.
struct CallSpec {
  std::string_view name;
  int positional;
  bool overrides;             // an optional OVERRIDES argument follows
  bool context_options;       // rcpt= and sender= are accepted
  std::string_view counter;   // result key of record_* functions
  std::string_view usage;     // for the argument-count error
};

CallSpec SpecOf(Function f) {
  switch (f) {
    case Function::kCheckSender:
      return {"check_sender", 2, true, true, {}, "ACCOUNT, CLIENT_IP [, OVERRIDES]"};
    case Function::kPeekSender: return {"peek_sender", 1, true, false, {}, "ACCOUNT [, OVERRIDES]"};
    case Function::kRecordBounce:
      return {"record_bounce", 3, false, false, "bounces", "ACCOUNT, FAILED_RCPT, REASON"};
    case Function::kRecordDefer:
      return {"record_defer", 3, false, false, "defers", "ACCOUNT, RCPT, REASON"};
    case Function::kRecordAuthfail:
      return {"record_authfail", 2, false, false, "authfails", "USERNAME, CLIENT_IP"};
  }
  return {"unknown", 0, false, false, {}, ""};
}

struct ParsedCall {
  std::vector<std::string_view> positional;
  std::string_view overrides;
  std::string config_path{kDefaultConfigPath};
  bool event_mode = false;
  std::string_view recipient;  // check_sender rcpt=ADDR
  std::string_view sender;     // check_sender sender=ADDR
  // Bad data in a data argument (an over-long one): reported with the
  // result, but the call still runs, so bad input cannot hide a lock.
  std::string input_error;
};

// The option keys. Only an argument after the positional ones that starts
// with one of these is an option; its value may be message data.
constexpr std::string_view kConfigKey = "config=";
constexpr std::string_view kModeEvent = "mode=event";
constexpr std::string_view kRcptKey = "rcpt=";
constexpr std::string_view kSenderKey = "sender=";

bool IsOption(std::string_view arg) {
  return arg.starts_with(kConfigKey) || arg.starts_with("mode=") || arg.starts_with(kRcptKey) ||
         arg.starts_with(kSenderKey);
}

void AddInputError(ParsedCall& call, std::string message) {
  if (!call.input_error.empty()) call.input_error += "; ";
  call.input_error += message;
}

Result<ParsedCall> ParseArguments(const CallSpec& spec, int argc, const char* const* argv) {
  if (argc < 0 || (argc > 0 && argv == nullptr)) {
    return MakeError(ErrorKind::kInvalidArgument, "no argument vector");
  }
  if (argc < spec.positional) {
    return MakeError(ErrorKind::kInvalidArgument,
                     std::string(spec.name) + " takes " + std::string(spec.usage) +
                         ", then options (config=, mode=" +
                         (spec.context_options ? ", rcpt=, sender=" : "") + "); got " +
                         std::to_string(argc) + " arguments");
  }
  ParsedCall call;
  for (int i = 0; i < argc; ++i) {
    if (argv[i] == nullptr) return MakeError(ErrorKind::kInvalidArgument, "null argument");
    std::string_view arg(argv[i], strnlen(argv[i], kMaxArgumentLength + 1));
    const bool too_long = arg.size() > kMaxArgumentLength;
    const std::string too_long_message =
        "argument " + std::to_string(i + 1) + " is longer than 64 KiB (ignored)";
    if (i < spec.positional) {
      if (too_long) {
        AddInputError(call, too_long_message);
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
      if (too_long) AddInputError(call, too_long_message);
      else call.recipient = arg.substr(kRcptKey.size());
    } else if (spec.context_options && arg.starts_with(kSenderKey)) {
      if (too_long) AddInputError(call, too_long_message);
      else call.sender = arg.substr(kSenderKey.size());
    } else {
      return MakeError(ErrorKind::kInvalidArgument,
                       std::string(spec.name) + ": argument " + std::to_string(i + 1) +
                           " is not an option (" + std::string(spec.name) + " takes " +
                           std::string(spec.usage) + ", then config=, mode=event" +
                           (spec.context_options ? ", rcpt=, sender=" : "") + ")");
    }
  }
  return call;
}

// Forwards store and engine log lines to the Host of the call in progress.
// It lives as long as the store (which keeps a Logger&), while each Host
// lives for one call only; lines logged between calls are dropped.
class HostLogger final : public Logger {
 public:
  void set_host(Host* host) noexcept { host_ = host; }
  void Log(LogLevel level, std::string_view message) noexcept override {
    if (level < LogLevel::kInfo || host_ == nullptr) return;
    // Every line of ours in the main log starts with "senderwatch:", so
    // `grep senderwatch mainlog` finds store recovery messages too.
    if (message.starts_with("senderwatch")) {
      host_->LogMain(message);
      return;
    }
    try {
      host_->LogMain("senderwatch: " + std::string(message));
    } catch (...) {
    }
  }

 private:
  Host* host_ = nullptr;
};

struct ProcessState {
  pid_t pid = 0;
  SystemClock clock;
  HostLogger logger;  // must outlive `store`, which keeps a reference
  std::string policy_path;
  std::optional<Policy> policy;
  std::unique_ptr<Store> store;
  std::string store_path;
  std::set<std::string, std::less<>> logged;  // causes already logged here
};

// Never destroyed: static destructors run in forked transport children,
// which must not close the LMDB environment of their parent.
ProcessState& State() {
  static ProcessState* state = new ProcessState;
  const pid_t pid = getpid();
  if (state->pid != pid) {
    // Inherited across fork(): LMDB forbids using the env here, and
    // closing it could release the parent's file locks. Forget it.
    (void)state->store.release();
    state->store_path.clear();
    state->logged.clear();
    state->pid = pid;
  }
  return *state;
}

// Whose files the plugin trusts: root's, the Exim user's, and those of the
// user this process runs as (which is one of the two under Exim).
FileTrust PluginFileTrust(Host& host) {
  FileTrust trust = DefaultFileTrust();
  const std::string exim_uid = host.EximUid();
  uid_t uid = 0;
  const auto [end, ec] = std::from_chars(exim_uid.data(), exim_uid.data() + exim_uid.size(), uid);
  if (!exim_uid.empty() && ec == std::errc() && end == exim_uid.data() + exim_uid.size()) {
    trust.owners.push_back(uid);
  }
  return trust;
}

Result<const Policy*> EnsurePolicy(ProcessState& state, const std::string& path, Host& host) {
  if (state.policy && state.policy_path == path) return &*state.policy;
  state.policy.reset();
  struct stat st{};
  if (path == kDefaultConfigPath && stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    state.policy = DefaultPolicy();
  } else {
    auto loaded = LoadPolicyFile(path, PluginFileTrust(host));
    if (!loaded) return std::unexpected(loaded.error());
    state.policy = std::move(*loaded);
  }
  state.policy_path = path;
  return &*state.policy;
}

Result<Store*> EnsureStore(ProcessState& state, const Policy& policy, Host& host) {
  std::string path = policy.store.path;
  if (path.empty()) {
    const std::string spool = host.SpoolDirectory();
    if (spool.empty()) {
      return MakeError(ErrorKind::kStoreOpen,
                       "cannot find Exim's spool directory; set [store] path in the policy");
    }
    path = spool + "/db/senderwatch";
  }
  if (state.store && state.store_path == path) return state.store.get();
  state.store.reset();
  StoreSettings settings = policy.store;
  settings.path = path;
  auto store = OpenLmdbStore(settings, state.clock, state.logger);
  if (!store) return std::unexpected(store.error());
  state.store = std::move(*store);
  state.store_path = path;
  return state.store.get();
}

// `outcome` says what happened to the call ("(failing open)" by default).
void LogOnce(ProcessState& state, Host& host, std::string_view function, const std::string& cause,
             bool fail_open, std::string_view outcome = {}) {
  if (state.logged.contains(cause)) return;
  if (state.logged.size() < 64) state.logged.insert(cause);
  if (outcome.empty()) outcome = fail_open ? "(failing open)" : "(deferring: on_error = defer)";
  host.LogMain("senderwatch: " + std::string(function) + ": " + EscapeForLog(cause, 400) + " " +
               std::string(outcome));
}

// "bounces=N", with error="..." when there is one to report.
std::string FormatCount(const CallSpec& spec, uint64_t count, const std::string& error) {
  std::string result = std::string(spec.counter) + "=" + std::to_string(count);
  if (error.empty()) return result;
  Verdict carrier;  // reuse the verdict quoting for the error text
  carrier.error = error;
  const std::string formatted = FormatVerdict(carrier);  // "verdict=ok error=..."
  return result + formatted.substr(formatted.find(' '));
}

// Runs the policy's notify command for a new lock; failures go to the log.
void Notify(const Policy& policy, const AccountRecord& record, Host& host) {
  if (policy.notify.empty()) return;
  NotifyCommand command;
  command.command = policy.notify;
  command.timeout_seconds = policy.notify_timeout_seconds;
  std::string failure = ResolveNotifyUser(policy.notify_user, host, command);
  if (failure.empty()) failure = RunNotify(command, record, host);
  if (!failure.empty()) {
    host.LogMain("senderwatch: notify command not run: " + EscapeForLog(failure));
  }
}

void AppendError(std::string& to, const std::string& message) {
  if (message.empty()) return;
  if (!to.empty()) to += "; ";
  to += message;
}

// Runs a parsed call. Returns the result string, or an empty string when
// the call failed (then `error` says why and the caller fails open).
// `input_error` receives bad input that the call reported but survived.
std::string Run(Function function, const CallSpec& spec, const ParsedCall& call,
                ProcessState& state, Host& host, std::string& error, std::string& input_error,
                bool& defer_on_error) {
  auto policy = EnsurePolicy(state, call.config_path, host);
  if (!policy) {
    error = policy.error().message;
    return {};
  }
  defer_on_error = (*policy)->on_error == OnError::kDefer;
  auto store = EnsureStore(state, **policy, host);
  if (!store) {
    error = store.error().message;
    return {};
  }
  Engine engine(**policy, **store, state.clock, state.logger);
  engine.set_lock_listener(
      [&](const AccountRecord& record) { Notify(**policy, record, host); });

  input_error = call.input_error;
  const auto& args = call.positional;
  if (function == Function::kCheckSender || function == Function::kPeekSender) {
    LimitOverrides overrides;
    if (!call.overrides.empty()) {
      auto parsed = ParseLimitOverrides(call.overrides);
      if (!parsed) {
        AppendError(input_error, parsed.error().message);  // reported; the check still runs
      } else {
        overrides = std::move(*parsed);
      }
    }
    auto verdict = function == Function::kCheckSender
                       ? engine.CheckSender(args[0], args[1], overrides,
                                            CheckContext{call.recipient, call.sender})
                       : engine.PeekSender(args[0], overrides);
    if (!verdict) {
      error = verdict.error().message;
      AppendError(error, input_error);
      input_error.clear();
      return {};
    }
    AppendError(input_error, verdict->error);
    verdict->error = input_error;
    return FormatVerdict(*verdict);
  }
  Result<uint64_t> count = function == Function::kRecordBounce ? engine.RecordBounce(args[0], args[1], args[2])
                           : function == Function::kRecordDefer ? engine.RecordDefer(args[0], args[1], args[2])
                                                                : engine.RecordAuthfail(args[0], args[1]);
  if (!count) {
    error = count.error().message;
    AppendError(error, input_error);
    input_error.clear();
    return {};
  }
  return FormatCount(spec, *count, input_error);
}

std::string FailureResult(Function function, const CallSpec& spec, const std::string& error,
                          bool defer_on_error) {
  if (function == Function::kCheckSender || function == Function::kPeekSender) {
    Verdict verdict;
    verdict.action = defer_on_error ? Action::kDefer : Action::kOk;
    verdict.error = error;
    return FormatVerdict(verdict);
  }
  return FormatCount(spec, 0, error);
}

}  // namespace

std::string Dispatch(Function function, int argc, const char* const* argv, Host& host) noexcept {
  const CallSpec spec = SpecOf(function);
  try {
    ProcessState& state = State();
    state.logger.set_host(&host);
    struct Detach {
      HostLogger& logger;
      ~Detach() { logger.set_host(nullptr); }
    } detach{state.logger};
    auto call = ParseArguments(spec, argc, argv);
    std::string error;
    std::string input_error;
    bool defer_on_error = false;
    std::string result;
    if (!call) {
      error = call.error().message;
    } else {
      result = Run(function, spec, *call, state, host, error, input_error, defer_on_error);
    }
    const bool event_mode = call && call->event_mode;
    if (!error.empty()) LogOnce(state, host, spec.name, error, !defer_on_error);
    if (!input_error.empty()) {
      LogOnce(state, host, spec.name, input_error, /*fail_open=*/false, "(bad input ignored)");
    }
    if (result.empty()) result = FailureResult(function, spec, error, defer_on_error);
    return event_mode ? std::string() : result;
  } catch (const std::exception& e) {
    try {
      host.LogMain(std::string("senderwatch: ") + std::string(spec.name) +
                   ": internal error: " + EscapeForLog(e.what()) + " (failing open)");
      return FailureResult(function, spec, std::string("internal error: ") + e.what(), false);
    } catch (...) {
    }
  } catch (...) {
  }
  return std::string();
}

}  // namespace senderwatch::exim
