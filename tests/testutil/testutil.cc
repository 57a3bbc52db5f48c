#include "testutil/testutil.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace senderwatch::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/senderwatch-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

StoreSettings TempStoreSettings(const TempDir& dir, Durability durability) {
  StoreSettings settings;
  settings.path = dir.Join("store");
  settings.durability = durability;
  return settings;
}

void CapturingLogger::Log(LogLevel level, std::string_view message) noexcept {
  try {
    lines_.push_back({level, std::string(message)});
  } catch (...) {
  }
}

bool CapturingLogger::Contains(std::string_view needle) const {
  for (const auto& line : lines_) {
    if (line.text.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int RunInChild(const std::function<int(std::string& out)>& body, std::string* out,
               unsigned timeout_seconds) {
  int fds[2];
  if (::pipe(fds) != 0) return -2;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (timeout_seconds > 0) ::alarm(timeout_seconds);
    int code = 99;
    std::string text;
    try {
      code = body(text);
    } catch (...) {
      code = 98;
    }
    const char* data = text.data();
    size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(fds[1], data, left);
      if (n <= 0) break;
      data += n;
      left -= static_cast<size_t>(n);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace senderwatch::testing
