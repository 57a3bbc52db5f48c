// The plugin's behaviour behind the C ABI. One ProcessState per Exim
// process holds the store handle (the only global state): Exim forks
// transport children from a delivery process that already loaded us, so the
// state remembers its pid and drops an inherited store without closing it.
#include "exim/dispatch.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "exim/notify.h"
#include "senderwatch/account.h"
#include "senderwatch/engine.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"

namespace senderwatch::exim {
namespace {

struct CallSpec {
  std::string_view name;
  int min_positional;
  int max_positional;
  std::string_view counter;  // result key of record_* functions
};

CallSpec SpecOf(Function f) {
  switch (f) {
    case Function::kCheckSender: return {"check_sender", 2, 3, {}};
    case Function::kPeekSender: return {"peek_sender", 1, 2, {}};
    case Function::kRecordBounce: return {"record_bounce", 1, 3, "bounces"};
    case Function::kRecordDefer: return {"record_defer", 1, 3, "defers"};
    case Function::kRecordAuthfail: return {"record_authfail", 1, 2, "authfails"};
  }
  return {"unknown", 0, 0, {}};
}

struct ParsedCall {
  std::vector<std::string_view> positional;
  std::string config_path{kDefaultConfigPath};
  bool event_mode = false;
  std::string_view recipient;  // check_sender rcpt=ADDR
  std::string_view sender;     // check_sender sender=ADDR
};

// Options are recognised only after the required arguments, so an account
// or a reason that happens to start with "config=" stays what it is.
Result<ParsedCall> ParseArguments(const CallSpec& spec, int argc, const char* const* argv) {
  if (argc < 0 || (argc > 0 && argv == nullptr)) {
    return MakeError(ErrorKind::kInvalidArgument, "no argument vector");
  }
  ParsedCall call;
  for (int i = 0; i < argc; ++i) {
    if (argv[i] == nullptr) return MakeError(ErrorKind::kInvalidArgument, "null argument");
    const std::string_view arg(argv[i], strnlen(argv[i], kMaxArgumentLength + 1));
    if (arg.size() > kMaxArgumentLength) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "argument " + std::to_string(i + 1) + " is longer than 64 KiB");
    }
    const bool optional_zone = static_cast<int>(call.positional.size()) >= spec.min_positional;
    if (optional_zone && arg.starts_with("config=")) {
      call.config_path = std::string(arg.substr(7));
      if (call.config_path.empty() || call.config_path.front() != '/') {
        return MakeError(ErrorKind::kInvalidArgument, "config= needs an absolute path");
      }
    } else if (optional_zone && arg == "mode=event") {
      call.event_mode = true;
    } else if (optional_zone && arg.starts_with("rcpt=")) {
      call.recipient = arg.substr(5);
    } else if (optional_zone && arg.starts_with("sender=")) {
      call.sender = arg.substr(7);
    } else {
      call.positional.push_back(arg);
    }
  }
  const int n = static_cast<int>(call.positional.size());
  if (n < spec.min_positional || n > spec.max_positional) {
    return MakeError(ErrorKind::kInvalidArgument,
                     std::string(spec.name) + " takes " + std::to_string(spec.min_positional) +
                         (spec.max_positional > spec.min_positional
                              ? " to " + std::to_string(spec.max_positional)
                              : std::string()) +
                         " arguments (plus optional config=, rcpt=, sender=, mode=), got " +
                         std::to_string(n));
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

Result<const Policy*> EnsurePolicy(ProcessState& state, const std::string& path) {
  if (state.policy && state.policy_path == path) return &*state.policy;
  state.policy.reset();
  struct stat st{};
  if (path == kDefaultConfigPath && stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    state.policy = DefaultPolicy();
  } else {
    auto loaded = LoadPolicyFile(path);
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

void LogOnce(ProcessState& state, Host& host, std::string_view function, const std::string& cause,
             bool fail_open) {
  if (state.logged.contains(cause)) return;
  if (state.logged.size() < 64) state.logged.insert(cause);
  host.LogMain("senderwatch: " + std::string(function) + ": " + EscapeForLog(cause, 400) +
               (fail_open ? " (failing open)" : " (deferring: on_error = defer)"));
}

std::string Run(Function function, const CallSpec& spec, const ParsedCall& call,
                ProcessState& state, Host& host, std::string& error, bool& defer_on_error) {
  auto policy = EnsurePolicy(state, call.config_path);
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
  const std::string notify = (*policy)->notify;
  engine.set_lock_listener([&](const AccountRecord& record) {
    if (notify.empty()) return;
    if (std::string failure = RunNotify(notify, record); !failure.empty()) {
      host.LogMain("senderwatch: notify command failed: " + EscapeForLog(failure));
    }
  });

  const auto& args = call.positional;
  const auto arg = [&](size_t i) { return i < args.size() ? args[i] : std::string_view(); };
  if (function == Function::kCheckSender || function == Function::kPeekSender) {
    const std::string_view override_text =
        function == Function::kCheckSender ? arg(2) : arg(1);
    LimitOverrides overrides;
    if (!override_text.empty()) {
      auto parsed = ParseLimitOverrides(override_text);
      if (!parsed) {
        error = parsed.error().message;  // reported, but the check still runs
      } else {
        overrides = std::move(*parsed);
      }
    }
    auto verdict = function == Function::kCheckSender
                       ? engine.CheckSender(arg(0), arg(1), overrides,
                                            CheckContext{call.recipient, call.sender})
                       : engine.PeekSender(arg(0), overrides);
    if (!verdict) {
      error = verdict.error().message;
      return {};
    }
    if (!error.empty()) verdict->error = error;
    return FormatVerdict(*verdict);
  }
  Result<uint64_t> count = function == Function::kRecordBounce ? engine.RecordBounce(arg(0), arg(1), arg(2))
                           : function == Function::kRecordDefer ? engine.RecordDefer(arg(0), arg(1), arg(2))
                                                                : engine.RecordAuthfail(arg(0), arg(1));
  if (!count) {
    error = count.error().message;
    return {};
  }
  return std::string(spec.counter) + "=" + std::to_string(*count);
}

std::string FailureResult(Function function, const CallSpec& spec, const std::string& error,
                          bool defer_on_error) {
  if (function == Function::kCheckSender || function == Function::kPeekSender) {
    Verdict verdict;
    verdict.action = defer_on_error ? Action::kDefer : Action::kOk;
    verdict.error = error;
    return FormatVerdict(verdict);
  }
  Verdict carrier;  // reuse the verdict quoting for the error text
  carrier.error = error;
  const std::string formatted = FormatVerdict(carrier);  // "verdict=ok error=..."
  return std::string(spec.counter) + "=0" + formatted.substr(formatted.find(' '));
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
    bool defer_on_error = false;
    std::string result;
    if (!call) {
      error = call.error().message;
    } else {
      result = Run(function, spec, *call, state, host, error, defer_on_error);
    }
    const bool event_mode = call && call->event_mode;
    if (!error.empty()) LogOnce(state, host, spec.name, error, !defer_on_error);
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
