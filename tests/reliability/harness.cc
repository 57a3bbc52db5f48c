#include "reliability/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "senderwatch/clock.h"
#include "senderwatch/log.h"
#include "senderwatch/store.h"

namespace senderwatch::reliability {
namespace {

// Waits for `pid` until `deadline`; SIGKILLs it after. Fills `result`.
void Reap(pid_t pid, std::chrono::steady_clock::time_point deadline, ChildResult& result) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.timed_out = true;
      break;
    }
    ::usleep(2000);
  }
  if (WIFEXITED(status)) {
    result.exited = true;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
}

}  // namespace

std::string Describe(const ChildResult& r) {
  std::string s;
  if (r.timed_out) s = "timed out (hung) and was killed";
  else if (r.exited) s = "exited with " + std::to_string(r.code);
  else if (r.signal != 0) s = std::string("killed by signal ") + strsignal(r.signal);
  else s = "vanished";
  if (!r.output.empty()) s += "; it said: " + r.output;
  return s;
}

ChildResult RunChild(const std::function<int(std::string& out)>& body,
                     std::chrono::milliseconds timeout) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    int code = 125;
    try {
      code = body(out);
    } catch (const std::exception& e) {
      out += std::string(" exception: ") + e.what();
    } catch (...) {
      out += " unknown exception";
    }
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  ChildResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Read the child's report until it closes the pipe or the deadline.
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      break;
    }
  }
  ::close(fds[0]);
  Reap(pid, deadline, result);
  return result;
}

Child::Child(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int code = 125;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
}

Child::Child(Child&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void Child::Kill(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

ChildResult Child::Wait(std::chrono::milliseconds timeout) {
  ChildResult result;
  if (pid_ <= 0) return result;
  Reap(pid_, std::chrono::steady_clock::now() + timeout, result);
  pid_ = -1;
  return result;
}

void FakeHost::LogMain(std::string_view line) noexcept {
  try {
    lines_.emplace_back(line);
  } catch (...) {
  }
}

int FakeHost::Count(std::string_view needle) const {
  int n = 0;
  for (const auto& line : lines_) n += line.find(needle) != std::string::npos;
  return n;
}

std::string FakeHost::Joined() const {
  std::string all;
  for (const auto& line : lines_) all += line + "\n";
  return all;
}

std::string Call(exim::Function function, const std::vector<std::string>& args, exim::Host& host) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return exim::Dispatch(function, static_cast<int>(args.size()), argv.data(), host);
}

std::string CheckSender(exim::Host& host, const std::string& config, const std::string& account,
                        const std::string& ip) {
  return Call(exim::Function::kCheckSender, {account, ip, "config=" + config}, host);
}

std::string PeekSender(exim::Host& host, const std::string& config, const std::string& account) {
  return Call(exim::Function::kPeekSender, {account, "config=" + config}, host);
}

std::string RecordBounce(exim::Host& host, const std::string& config, const std::string& account) {
  return Call(exim::Function::kRecordBounce,
              {account, "dead@remote.test", "550 5.1.1 user unknown", "config=" + config}, host);
}

void WriteFile(const std::string& path, std::string_view text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("cannot write " + path);
  ::chmod(path.c_str(), 0644);
}

std::string PolicyText(const std::string& store, std::string_view rules_toml,
                       std::string_view durability, std::string_view store_extra) {
  std::string text = rules_toml.empty() ? "rule = []\n" : "";
  text.append("[store]\npath = \"").append(store).append("\"\ndurability = \"");
  text.append(durability).append("\"\n").append(store_extra);
  if (!rules_toml.empty()) text.append("\n").append(rules_toml);
  return text;
}

StoreCheck InspectStore(const std::string& store, const std::vector<std::string>& accounts) {
  const ChildResult child = RunChild([&](std::string& out) {
    SystemClock clock;
    NullLogger quiet;
    StoreSettings settings;
    settings.path = store;
    auto opened = OpenLmdbStore(settings, clock, quiet, OpenMode::kReadOnly);
    if (!opened) {
      out = "open: " + opened.error().message;
      return 1;
    }
    auto scan = (*opened)->ForEach([](const AccountRecord&) { return true; });
    if (!scan) {
      out = "scan: " + scan.error().message;
      return 1;
    }
    std::ostringstream s;
    s << "scan " << scan->records << " " << scan->undecodable << "\n";
    const UnixSeconds now = clock.Now();
    for (const auto& account : accounts) {
      auto got = (*opened)->Get(account);
      if (!got) {
        out = "get " + account + ": " + got.error().message;
        return 1;
      }
      if (!got->has_value()) {
        s << "absent\n";
        continue;
      }
      const AccountRecord& r = **got;
      s << "present " << CounterInWindow(r, Counter::kRecipients, 3600, now) << " "
        << CounterInWindow(r, Counter::kBounces, 3600, now) << " "
        << CounterInWindow(r, Counter::kDefers, 3600, now) << " " << (r.IsLocked(now) ? 1 : 0)
        << " " << (r.lock.rule.empty() ? "-" : r.lock.rule) << "\n";
    }
    out = s.str();
    return 0;
  });
  StoreCheck check;
  if (!child.ok()) {
    check.error = Describe(child);
    return check;
  }
  std::istringstream in(child.output);
  std::string word;
  in >> word >> check.records >> check.undecodable;
  for (const auto& account : accounts) {
    Snapshot snap;
    in >> word;
    if (word == "present") {
      snap.present = true;
      int locked = 0;
      in >> snap.recipients >> snap.bounces >> snap.defers >> locked >> snap.lock_rule;
      snap.locked = locked != 0;
    }
    check.accounts.emplace_back(account, snap);
  }
  return check;
}

bool IsFailOpen(std::string_view answer) {
  return answer.starts_with("verdict=ok error=");
}

bool AllLinesClean(const FakeHost& host, std::string* bad) {
  for (const auto& line : host.lines()) {
    bool clean = line.starts_with("senderwatch");
    for (const char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) clean = false;
    }
    if (!clean) {
      if (bad != nullptr) *bad = line;
      return false;
    }
  }
  return true;
}

}  // namespace senderwatch::reliability
