#include "exim/notify.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "senderwatch/units.h"

namespace senderwatch::exim {

std::string RunNotify(const std::string& command, const AccountRecord& record) noexcept {
  try {
    // Everything the grandchild needs is prepared before fork: after fork
    // only async-signal-safe calls are made.
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
    std::string cmd = command;
    char* argv[] = {shell.data(), dash_c.data(), cmd.data(), nullptr};

    const pid_t child = fork();
    if (child < 0) return std::string("fork: ") + std::strerror(errno);
    if (child == 0) {
      setsid();
      if (fork() != 0) _exit(0);
      const int null = open("/dev/null", O_RDWR);
      if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
      }
      for (int fd = 3; fd < 1024; ++fd) close(fd);
      execve(argv[0], argv, envp.data());
      _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace senderwatch::exim
