// Process layout of a notification (see notify.h for why):
//
//   Exim process --fork--> helper --fork--> watcher (setsid) --fork--> command
//        waits for helper    exits at once    waits, kills, logs       exec sh
//
// The helper exits at once so Exim reaps it without waiting; the watcher is
// re-parented to init and outlives the Exim process if need be. The watcher
// keeps only regular files open (Exim's log files, so log_write still
// works): an inherited socket or pipe would keep an SMTP client or a parent
// Exim waiting for an end of file until the command finished.
#include "exim/notify.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <vector>

#include "senderwatch/account.h"
#include "senderwatch/units.h"

namespace senderwatch::exim {
namespace {

constexpr int kMaxFd = 4096;

// Why the command could not be started, sent from the command's process to
// the watcher through a close-on-exec pipe (nothing arrives when exec works).
struct StartFailure {
  int step;  // index into kSteps
  int err;
};
constexpr const char* kSteps[] = {"setgroups", "setresgid", "setresuid", "still privileged",
                                  "execve"};

bool IsRegularFile(int fd) {
  struct stat st{};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// Closes every descriptor from `first` on; with `keep_regular` regular files
// stay open (Exim's log files).
void CloseDescriptors(int first, bool keep_regular) {
  for (int fd = first; fd < kMaxFd; ++fd) {
    if (keep_regular && IsRegularFile(fd)) continue;
    ::close(fd);
  }
}

// Points 0, 1 and 2 at /dev/null.
void NullStdio() {
  const int null = ::open("/dev/null", O_RDWR);
  if (null < 0) return;
  for (int fd = 0; fd <= 2; ++fd) {
    if (null != fd) ::dup2(null, fd);
  }
  if (null > 2) ::close(null);
}

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
}

// In the command's process: drop to the notify user for good, then exec.
// Only async-signal-safe calls; on failure the step and errno go to `report`.
[[noreturn]] void StartCommand(const NotifyCommand& notify, char* const argv[], char* const envp[],
                               int report) {
  ResetSignals();
  ::setpgid(0, 0);  // its own group: the watcher kills it and its children
  ::umask(022);
  if (::chdir("/") != 0) {
  }
  const auto fail = [&](int step) {
    const StartFailure failure{step, errno};
    (void)!::write(report, &failure, sizeof failure);
    _exit(127);
  };
  if (::getuid() == 0 || ::geteuid() == 0) {
    if (::geteuid() != 0 && ::seteuid(0) != 0) fail(2);
    const gid_t groups[] = {notify.gid};
    if (::setgroups(1, groups) != 0) fail(0);
    if (::setresgid(notify.gid, notify.gid, notify.gid) != 0) fail(1);
    if (::setresuid(notify.uid, notify.uid, notify.uid) != 0) fail(2);
  }
  uid_t r = 0, e = 0, s = 0;
  if (::getresuid(&r, &e, &s) != 0 || r == 0 || e == 0 || s == 0) {
    errno = EPERM;
    fail(3);
  }
  ::execve(argv[0], argv, envp);
  fail(4);
  _exit(127);  // not reached
}

// In the watcher: waits for the command at most `timeout` seconds, kills its
// process group after that, and says how it ended.
std::string Watch(pid_t command, int report, int64_t timeout_seconds, const std::string& account) {
  StartFailure failure{};
  ssize_t got;
  do {
    got = ::read(report, &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  ::close(report);
  const std::string who = "senderwatch: notify command for account " + EscapeForLog(account);
  const timespec tick{0, 50'000'000};
  int status = 0;
  for (int64_t waited_ticks = 0;; ++waited_ticks) {
    const pid_t done = ::waitpid(command, &status, WNOHANG);
    if (done == command) break;
    if (done < 0 && errno != EINTR) return who + ": waitpid: " + std::strerror(errno);
    if (waited_ticks >= timeout_seconds * 20) {
      ::kill(-command, SIGKILL);
      ::kill(command, SIGKILL);
      while (::waitpid(command, &status, 0) < 0 && errno == EINTR) {
      }
      return who + " killed after " + FormatDuration(timeout_seconds) + " (notify_timeout)";
    }
    ::nanosleep(&tick, nullptr);
  }
  if (got == static_cast<ssize_t>(sizeof failure) && failure.step >= 0 &&
      failure.step < static_cast<int>(std::size(kSteps))) {
    return who + " could not start: " + kSteps[failure.step] + ": " + std::strerror(failure.err);
  }
  if (WIFEXITED(status)) {
    return who + " exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return who + " killed by signal " + std::to_string(WTERMSIG(status));
  }
  return who + " ended";
}

bool ParseId(const std::string& text, unsigned long& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string ResolveNotifyUser(const std::string& notify_user, Host& host, NotifyCommand& out) {
  if (!notify_user.empty()) {
    std::vector<char> buffer(16384);
    passwd pw{};
    passwd* found = nullptr;
    unsigned long numeric = 0;
    int rc = 0;
    if (ParseId(notify_user, numeric)) {
      rc = ::getpwuid_r(static_cast<uid_t>(numeric), &pw, buffer.data(), buffer.size(), &found);
    } else {
      rc = ::getpwnam_r(notify_user.c_str(), &pw, buffer.data(), buffer.size(), &found);
    }
    if (rc != 0 || found == nullptr) return "notify_user " + EscapeForLog(notify_user) + " is unknown";
    out.uid = found->pw_uid;
    out.gid = found->pw_gid;
  } else {
    unsigned long uid = 0;
    unsigned long gid = 0;
    if (!ParseId(host.EximUid(), uid) || !ParseId(host.EximGid(), gid)) {
      return "the Exim user is unknown; set notify_user in the policy";
    }
    out.uid = static_cast<uid_t>(uid);
    out.gid = static_cast<gid_t>(gid);
  }
  if (out.uid == 0) return "the notify command never runs as root; set notify_user in the policy";
  return {};
}

std::string RunNotify(const NotifyCommand& notify, const AccountRecord& record,
                      Host& host) noexcept {
  try {
    if (notify.uid == 0) return "the notify command never runs as root";
    // Everything the children need is prepared before fork.
    char value[32];
    char limit[32];
    std::snprintf(value, sizeof value, "%g", record.lock.value);
    std::snprintf(limit, sizeof limit, "%g", record.lock.limit);
    std::vector<std::string> env = {
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "SENDERWATCH_ACCOUNT=" + record.account,
        "SENDERWATCH_RULE=" + record.lock.rule,
        "SENDERWATCH_METRIC=" + std::string(MetricName(record.lock.metric)),
        "SENDERWATCH_VALUE=" + std::string(value),
        "SENDERWATCH_LIMIT=" + std::string(limit),
        "SENDERWATCH_WINDOW=" + FormatDuration(record.lock.window_seconds),
        "SENDERWATCH_REASON=" + record.lock.reason,
        "SENDERWATCH_SINCE=" + FormatTime(record.lock.since),
        "SENDERWATCH_BY=" + record.lock.by,
    };
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string shell = "/bin/sh";
    std::string dash_c = "-c";
    std::string cmd = notify.command;
    char* argv[] = {shell.data(), dash_c.data(), cmd.data(), nullptr};

    const pid_t helper = ::fork();
    if (helper < 0) return std::string("fork: ") + std::strerror(errno);
    if (helper == 0) {
      if (::fork() != 0) _exit(0);
      // The watcher.
      ::setsid();
      ::signal(SIGCHLD, SIG_DFL);  // waitpid must see the command end
      CloseDescriptors(0, /*keep_regular=*/true);
      NullStdio();
      int report[2];
      if (::pipe2(report, O_CLOEXEC) != 0) _exit(0);
      const pid_t command = ::fork();
      if (command == 0) {
        ::close(report[0]);
        ::dup2(report[1], 3);  // keep the report pipe at 3, close-on-exec
        ::fcntl(3, F_SETFD, FD_CLOEXEC);
        CloseDescriptors(4, /*keep_regular=*/false);
        NullStdio();
        StartCommand(notify, argv, envp.data(), 3);
      }
      ::close(report[1]);
      if (command < 0) {
        host.LogMain("senderwatch: notify command: fork: " + std::string(std::strerror(errno)));
        _exit(0);
      }
      host.LogMain(Watch(command, report[0], notify.timeout_seconds, record.account));
      _exit(0);
    }
    int status = 0;
    while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace senderwatch::exim
