// The plugin's behaviour behind the C ABI. One ProcessState per Exim
// process holds the store handle (the only global state): Exim forks
// transport children from a delivery process that already loaded us, so the
// state remembers its pid and drops an inherited store without closing it.
#include "exim/dispatch.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "exim/arguments.h"
#include "exim/notify.h"
#include "senderwatch/account.h"
#include "senderwatch/config_file.h"
#include "senderwatch/engine.h"
#include "senderwatch/locate.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"

namespace senderwatch::exim {
namespace {

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

// What identifies one version of the policy file: any rewrite, rename or
// creation changes it. A missing file is a version too (built-in defaults).
struct FileStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t modified_ns = 0;
  int64_t changed_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp StampOf(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return {};
  constexpr int64_t kNs = 1'000'000'000;
  return {true, st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec * kNs + st.st_mtim.tv_nsec,
          st.st_ctim.tv_sec * kNs + st.st_ctim.tv_nsec};
}

struct ProcessState {
  pid_t pid = 0;
  SystemClock clock;
  HostLogger logger;  // must outlive `store`, which keeps a reference
  std::string policy_path;
  FileStamp policy_stamp;  // of policy_path when `policy` was read
  std::optional<Policy> policy;
  std::unique_ptr<Store> store;
  std::string store_path;
  std::set<std::string, std::less<>> logged;  // causes already logged here
};

// Never destroyed: static destructors run in forked transport children,
// which must not close the LMDB environment of their parent.
ProcessState& State() {
  static ProcessState* state = new ProcessState;
  const pid_t pid = ::getpid();
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

// The policy of `path`, read once per process. With `revalidate` (the
// long-lived daemon's preload) it is read again when the file changed, so
// the SMTP children it forks afterwards inherit the new one; a short-lived
// process keeps what it read first.
Result<const Policy*> EnsurePolicy(ProcessState& state, const std::string& path, Host& host,
                                   bool revalidate = false) {
  FileStamp stamp;
  if (revalidate) stamp = StampOf(path);
  if (state.policy && state.policy_path == path && (!revalidate || stamp == state.policy_stamp)) {
    return &*state.policy;
  }
  if (!revalidate) stamp = StampOf(path);  // taken before reading: a later change is seen
  state.policy.reset();
  auto loaded = LoadLocatedPolicy(LocatePolicy(path), PluginFileTrust(host));
  if (!loaded) return std::unexpected(loaded.error());
  state.policy = std::move(*loaded);
  state.policy_path = path;
  state.policy_stamp = stamp;
  return &*state.policy;
}

Result<Store*> EnsureStore(ProcessState& state, const Policy& policy, Host& host) {
  StoreHints hints;
  hints.spool_directory = [&] { return host.SpoolDirectory(); };
  auto path = LocateStorePath(policy, hints);
  if (!path) return std::unexpected(path.error());
  if (state.store && state.store_path == *path) return state.store.get();
  state.store.reset();
  StoreSettings settings = policy.store;
  settings.path = *path;
  auto store = OpenConfiguredStore(settings, state.clock, state.logger);
  if (!store) return std::unexpected(store.error());
  state.store = std::move(*store);
  state.store_path = std::move(*path);
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

// Runs a parsed call. Returns the result string, or an empty string when
// the call failed (then `error` says why and the caller fails open).
// `input_error` receives bad input that the call reported but survived.
std::string Run(Function function, const CallSpec& spec, const ParsedCall& call,
                ProcessState& state, Host& host, std::string& error, std::string& input_error,
                bool& defer_on_error) {
  auto policy = EnsurePolicy(state, call.config_path, host, function == Function::kPreload);
  if (!policy) {
    error = policy.error().message;
    return {};
  }
  // The store stays closed: an LMDB environment must not cross fork().
  if (function == Function::kPreload) return {};
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
    overrides.origin = call.origin;  // check_sender: kAny -> from CLIENT_IP
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
  Result<uint64_t> count = function == Function::kRecordBounce
                               ? engine.RecordBounce(args[0], args[1], args[2], call.origin)
                           : function == Function::kRecordDefer
                               ? engine.RecordDefer(args[0], args[1], args[2], call.origin)
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
    // preload's result is expanded into smtp_accept_max_per_host, which
    // takes digits or nothing: always nothing (errors go to the log).
    const bool event_mode = (call && call->event_mode) || function == Function::kPreload;
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
