// Logging is injected. The plugin logs into Exim's main log (log_write), the
// CLI to stderr as its messages (src/cli/messages.h), tests into a capturing sink. No global
// registry, nothing created before a fork. Implementations never throw.
#ifndef SENDERWATCH_LOG_H_
#define SENDERWATCH_LOG_H_

#include <string_view>

namespace senderwatch {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class Logger {
 public:
  virtual ~Logger() = default;
  // `message` is one line, already escaped (see EscapeForLog).
  virtual void Log(LogLevel level, std::string_view message) noexcept = 0;
};

class NullLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view) noexcept override {}
};

}  // namespace senderwatch

#endif  // SENDERWATCH_LOG_H_
