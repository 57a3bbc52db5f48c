// Helpers shared by all test binaries: a temporary directory removed at the
// end of the test, and a logger that captures lines for assertions.
#ifndef SENDERWATCH_TESTS_TESTUTIL_TESTUTIL_H_
#define SENDERWATCH_TESTS_TESTUTIL_TESTUTIL_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/log.h"
#include "senderwatch/policy.h"

namespace senderwatch::testing {

// mkdtemp under $TMPDIR (or /tmp); removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// Settings for a store in dir/store that is never synced (durability none)
// unless a test asks for another durability.
StoreSettings TempStoreSettings(const TempDir& dir, Durability durability = Durability::kNone);

class CapturingLogger final : public Logger {
 public:
  struct Line {
    LogLevel level;
    std::string text;
  };
  void Log(LogLevel level, std::string_view message) noexcept override;
  const std::vector<Line>& lines() const { return lines_; }
  // True when some captured line contains `needle`.
  bool Contains(std::string_view needle) const;

 private:
  std::vector<Line> lines_;
};

// The whole content of a file ("" when it cannot be read).
std::string ReadText(const std::string& path);

// Runs `body` in a forked child; returns its exit code, -1 when it was killed
// (with `timeout_seconds`, SIGALRM kills a child that hangs). The child never
// returns into GoogleTest: it writes what it wants the parent to see into
// `out` and _exit()s.
int RunInChild(const std::function<int(std::string& out)>& body, std::string* out = nullptr,
               unsigned timeout_seconds = 0);

}  // namespace senderwatch::testing

#endif  // SENDERWATCH_TESTS_TESTUTIL_TESTUTIL_H_
