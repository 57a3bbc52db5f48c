// Everything the dlfunc entry points do, without Exim's header: argument
// checking, the per-process store handle, policy loading and the result
// string. plugin.cc (the only file that includes local_scan.h) adapts Exim's
// calling convention to Dispatch(); tests and fuzzers call Dispatch() with a
// fake Host, exactly as Exim would call the entry points.
#ifndef SENDERWATCH_SRC_EXIM_DISPATCH_H_
#define SENDERWATCH_SRC_EXIM_DISPATCH_H_

#include <string>
#include <string_view>

namespace senderwatch::exim {

// What the plugin needs from the Exim process it runs in.
class Host {
 public:
  virtual ~Host() = default;
  // One line for Exim's main log (already escaped and prefixed).
  virtual void LogMain(std::string_view line) noexcept = 0;
  // Exim's spool directory ($spool_directory); empty when unknown.
  virtual std::string SpoolDirectory() noexcept = 0;
  // The Exim user and group ($exim_uid, $exim_gid) as decimal numbers;
  // empty when unknown. Files this user owns are trusted like root's, and
  // the notify command runs as this user unless the policy names another.
  virtual std::string EximUid() noexcept = 0;
  virtual std::string EximGid() noexcept = 0;
};

enum class Function {
  kCheckSender,
  kPeekSender,
  kRecordBounce,
  kRecordDefer,
  kRecordAuthfail,
  // Reads the policy (again if its file changed since) and returns an empty
  // string; opens no store. For Exim's daemon, which expands
  // smtp_accept_max_per_host before it forks each SMTP connection: the
  // children then inherit the loaded module and the parsed policy instead
  // of each paying for them (docs/performance.md, "Per process").
  kPreload,
};

// Arguments longer than this are refused before any parsing.
inline constexpr size_t kMaxArgumentLength = 64 * 1024;

// Runs one call as Exim makes it: `argv` holds `argc` NUL-terminated
// strings (the arguments after the function name). Never throws; every
// failure becomes a fail-open result with error="..." and one main-log line
// per process and cause.
std::string Dispatch(Function function, int argc, const char* const* argv, Host& host) noexcept;

}  // namespace senderwatch::exim

#endif  // SENDERWATCH_SRC_EXIM_DISPATCH_H_
