// Exim's own tools, run without a shell; see exim_tools.h.
#include "cli/exim_tools.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace senderwatch::cli {
namespace {

constexpr std::string_view kDefaultSpool = "/var/spool/exim4";
// Message ids per exim4 invocation: keeps argv far below ARG_MAX.
constexpr size_t kIdsPerBatch = 200;

constexpr std::array<std::string_view, 8> kExipickVariables = {
    "message_exim_id",        "deliver_freeze",   "message_age",    "message_size",
    "recipients_undel_count", "recipients_undel", "sender_address", "authenticated_id"};

std::string FromEnvOr(const char* variable, const char* installed, const char* name) {
  if (const char* value = std::getenv(variable); value != nullptr && value[0] != '\0') return value;
  if (access(installed, X_OK) == 0) return installed;
  return name;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

template <typename T>
T ParseNumberOr(std::string_view text, T fallback) {
  T value{};
  text = Trim(text);
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size() ? value : fallback;
}

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool IsAlnumRun(std::string_view text, size_t min, size_t max) {
  if (text.size() < min || text.size() > max) return false;
  for (char c : text) {
    if (!IsAlnum(c)) return false;
  }
  return true;
}

}  // namespace

std::string EximBinary() { return FromEnvOr("SENDERWATCH_EXIM", "/usr/sbin/exim4", "exim4"); }
std::string ExipickBinary() {
  return FromEnvOr("SENDERWATCH_EXIPICK", "/usr/sbin/exipick", "exipick");
}

Result<ProcessResult> RunProgram(const std::vector<std::string>& argv, bool capture_output) {
  if (argv.empty()) return MakeError(ErrorKind::kInvalidArgument, "RunProgram: empty argv");
  std::vector<char*> c_argv;
  for (const auto& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);

  int pipe_fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture_output) {
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      const int error = errno;
      posix_spawn_file_actions_destroy(&actions);
      return MakeError(ErrorKind::kInvalidArgument, std::string("pipe: ") + std::strerror(error),
                       error);
    }
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  }
  // Standard input is not the program's business (exim4 -bP must not wait).
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int spawn_error = posix_spawnp(&pid, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (capture_output) close(pipe_fds[1]);
  if (spawn_error != 0) {
    if (capture_output) close(pipe_fds[0]);
    return MakeError(ErrorKind::kInvalidArgument,
                     "cannot run " + argv[0] + ": " + std::strerror(spawn_error), spawn_error);
  }
  ProcessResult result;
  if (capture_output) {
    char buffer[8192];
    for (;;) {
      const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
      if (n > 0) {
        result.output.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    close(pipe_fds[0]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      const int error = errno;
      return MakeError(ErrorKind::kInvalidArgument,
                       "waitpid " + argv[0] + ": " + std::strerror(error), error);
    }
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  // posix_spawnp reports a missing program through exit status 127.
  if (result.exit_code == 127 && result.output.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "cannot run " + argv[0] + " (not found?)", 127);
  }
  return result;
}

std::string ParseSpoolDirectory(std::string_view output) {
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    std::string_view line = Trim(output.substr(start, end - start));
    start = end + 1;
    if (line.starts_with("spool_directory")) {
      const size_t eq = line.find('=');
      if (eq == std::string_view::npos) continue;
      line = Trim(line.substr(eq + 1));
    }
    if (line.starts_with('/')) return std::string(line);
  }
  return {};
}

std::string FindSpoolDirectory(const std::string& exim_config, std::string* note) {
  note->clear();
  std::vector<std::string> argv = {EximBinary()};
  if (!exim_config.empty()) argv.insert(argv.end(), {"-C", exim_config});
  argv.insert(argv.end(), {"-bP", "spool_directory"});
  auto result = RunProgram(argv, /*capture_output=*/true);
  if (!result) {
    *note = result.error().message + "; assuming " + std::string(kDefaultSpool);
    return std::string(kDefaultSpool);
  }
  std::string spool = ParseSpoolDirectory(result->output);
  if (result->exit_code != 0 || spool.empty()) {
    *note = argv[0] + " -bP spool_directory failed (exit " + std::to_string(result->exit_code) +
            "); assuming " + std::string(kDefaultSpool);
    return std::string(kDefaultSpool);
  }
  return spool;
}

std::span<const std::string_view> ExipickVariables() { return kExipickVariables; }

bool IsMessageId(std::string_view text) {
  const size_t first = text.find('-');
  if (first == std::string_view::npos) return false;
  const size_t second = text.find('-', first + 1);
  if (second == std::string_view::npos) return false;
  return IsAlnumRun(text.substr(0, first), 6, 6) &&
         IsAlnumRun(text.substr(first + 1, second - first - 1), 6, 11) &&
         IsAlnumRun(text.substr(second + 1), 2, 4);
}

Result<std::vector<QueuedMessage>> ParseExipickOutput(std::string_view output) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    lines.push_back(output.substr(start, end - start));
    start = end + 1;
  }
  const size_t per_message = kExipickVariables.size();
  if (lines.size() % per_message != 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "unexpected exipick output: " + std::to_string(lines.size()) +
                         " lines is not a whole number of messages");
  }
  std::vector<QueuedMessage> messages;
  for (size_t i = 0; i < lines.size(); i += per_message) {
    QueuedMessage m;
    m.id = std::string(Trim(lines[i]));
    if (!IsMessageId(m.id)) {
      return MakeError(
          ErrorKind::kInvalidArgument,
          "unexpected exipick output: line " + std::to_string(i + 1) + " is not a message id");
    }
    const std::string_view freeze = Trim(lines[i + 1]);
    m.frozen = !freeze.empty() && freeze != "0";
    m.age_seconds = ParseNumberOr<int64_t>(lines[i + 2], 0);
    m.size = ParseNumberOr<uint64_t>(lines[i + 3], 0);
    m.undelivered = ParseNumberOr<uint64_t>(lines[i + 4], 0);
    m.recipients = std::string(lines[i + 5]);
    m.sender = std::string(lines[i + 6]);
    m.authenticated_id = std::string(lines[i + 7]);
    messages.push_back(std::move(m));
  }
  return messages;
}

Result<std::vector<QueuedMessage>> ListQueue(const std::string& spool_directory) {
  std::string variables;
  for (std::string_view v : kExipickVariables) {
    if (!variables.empty()) variables += ',';
    variables += v;
  }
  const std::vector<std::string> argv = {ExipickBinary(), "--spool",     spool_directory,
                                         "--just-vars",   "--show-vars", variables};
  auto result = RunProgram(argv, /*capture_output=*/true);
  if (!result) return std::unexpected(result.error());
  if (result->exit_code != 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     argv[0] + " failed (exit " + std::to_string(result->exit_code) +
                         "); can this user read " + spool_directory + "/input?");
  }
  return ParseExipickOutput(result->output);
}

Result<int> RunEximOnMessages(const std::string& exim_config, std::string_view action,
                              std::span<const std::string> ids) {
  int failed = 0;
  for (size_t first = 0; first < ids.size(); first += kIdsPerBatch) {
    std::vector<std::string> argv = {EximBinary()};
    if (!exim_config.empty()) argv.insert(argv.end(), {"-C", exim_config});
    argv.emplace_back(action);
    const size_t last = std::min(ids.size(), first + kIdsPerBatch);
    for (size_t i = first; i < last; ++i) argv.push_back(ids[i]);
    auto result = RunProgram(argv, /*capture_output=*/false);
    if (!result) return std::unexpected(result.error());
    if (result->exit_code != 0) ++failed;
  }
  return failed;
}

}  // namespace senderwatch::cli
