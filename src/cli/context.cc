// Shared set-up for the verbs; see context.h.
#include "cli/context.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "cli/exim_tools.h"
#include "cli/format.h"
#include "cli/messages.h"

namespace senderwatch::cli {
namespace {

// Library log lines as CLI messages (messages.h). Info and debug lines only
// when verbose.
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(bool verbose) : verbose_(verbose) {}

  void Log(LogLevel level, std::string_view message) noexcept override {
    if (!verbose_ && (level == LogLevel::kDebug || level == LogLevel::kInfo)) return;
    // The library prefixes lines for Exim's main log; MessageLine adds it.
    if (message.starts_with("senderwatch: ")) message.remove_prefix(13);
    try {
      Say("", ToneOf(level), "{}", message);
    } catch (...) {
      // Logging must never take the command down.
    }
  }

 private:
  static Tone ToneOf(LogLevel level) {
    switch (level) {
      case LogLevel::kDebug:
        return Tone::kDebug;
      case LogLevel::kInfo:
        return Tone::kInfo;
      case LogLevel::kWarning:
        return Tone::kWarning;
      case LogLevel::kError:
        return Tone::kError;
    }
    return Tone::kError;
  }

  bool verbose_;
};

}  // namespace

std::unique_ptr<Logger> NewStderrLogger(bool verbose) {
  return std::make_unique<StderrLogger>(verbose);
}

FileTrust CliFileTrust() {
  FileTrust trust = DefaultFileTrust();
  for (const char* name : {"Debian-exim", "exim"}) {
    if (const passwd* pw = ::getpwnam(name)) {
      trust.owners.push_back(pw->pw_uid);
      break;
    }
  }
  return trust;
}

Result<Policy> LoadEffectivePolicy(const GlobalOptions& options) {
  return LoadLocatedPolicy(LocatePolicy(options.config), CliFileTrust());
}

Result<StoreSettings> LocateCliStore(const GlobalOptions& options, const Policy& policy,
                                     Logger& logger) {
  StoreHints hints{.explicit_path = options.db, .spool_directory = [&] {
                     std::string note;
                     std::string spool = FindSpoolDirectory(options.exim_config, &note);
                     if (!note.empty()) logger.Log(LogLevel::kWarning, note);
                     return spool;
                   }};
  return LocateStore(policy, hints);
}

std::string AdminName() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && sudo[0] != '\0') {
    return SanitizeForTerminal(sudo);
  }
  if (const char* login = getlogin(); login != nullptr && login[0] != '\0') {
    return SanitizeForTerminal(login);
  }
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) {
    return SanitizeForTerminal(pw->pw_name);
  }
  return "uid " + std::to_string(getuid());
}

int ExitCodeFor(const Error& error) {
  switch (error.kind) {
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kConfig:
      return kExitUsage;
    case ErrorKind::kStoreOpen:
    case ErrorKind::kStoreCorrupt:
    case ErrorKind::kStoreFull:
    case ErrorKind::kStoreIo:
    case ErrorKind::kUnsupported:
      return kExitStore;
  }
  return kExitStore;
}

int ReportError(const Error& error) {
  Say("", Tone::kError, "{}", error.message);
  if (error.kind == ErrorKind::kStoreOpen && (error.code == EACCES || error.code == EPERM)) {
    Say("", Tone::kHint,
        "the store belongs to the Exim user; run as root or as it:\n"
        "  sudo -u Debian-exim senderwatch ...");
  } else if (error.kind == ErrorKind::kStoreOpen && error.code == ENOENT) {
    Say("", Tone::kHint,
        "create the store directory owned by the Exim user\n"
        "  (install -d -o Debian-exim -g Debian-exim -m 0770 DIR), or pass --db PATH");
  } else if (error.kind == ErrorKind::kConfig) {
    Say("", Tone::kHint, "senderwatch check-config FILE shows what is wrong");
  }
  return ExitCodeFor(error);
}

int UsageError(std::string_view verb, std::string_view message) {
  const std::string name = verb.empty() ? "senderwatch" : fmt::format("senderwatch {}", verb);
  Say(verb, Tone::kPlain, "{}\nTry '{} --help'.", message, name);
  return kExitUsage;
}

int ReportNoRecord(std::string_view account, std::string_view store_path) {
  Say("", Tone::kPlain, "no record of account '{}' in {}", account, store_path);
  return kExitNotFound;
}

Result<std::unique_ptr<Context>> OpenContext(const GlobalOptions& options, OpenMode mode) {
  auto context = std::make_unique<Context>();
  context->options = options;
  context->logger = NewStderrLogger(options.verbose);
  auto policy = LoadEffectivePolicy(options);
  if (!policy) return std::unexpected(policy.error());
  context->policy = std::move(*policy);
  auto settings = LocateCliStore(options, context->policy, *context->logger);
  if (!settings) return std::unexpected(settings.error());
  context->store_path = settings->path;
  auto store = OpenConfiguredStore(*settings, context->clock, *context->logger, mode);
  if (!store) {
    struct stat st;
    const Error& error = store.error();
    if (mode == OpenMode::kReadOnly && error.kind == ErrorKind::kStoreOpen &&
        error.code == ENOENT && stat(settings->path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      context->logger->Log(LogLevel::kInfo,
                           "no store in " + settings->path + " yet: nothing recorded so far");
      context->store_not_created = true;
      context->store = NewMemoryStore(*settings);
      return context;
    }
    return std::unexpected(store.error());
  }
  context->store = std::move(*store);
  return context;
}

bool WriteOut(std::string_view text) {
  if (text.empty()) return true;
  const size_t written = std::fwrite(text.data(), 1, text.size(), stdout);
  return written == text.size() && std::fflush(stdout) == 0;
}

}  // namespace senderwatch::cli
