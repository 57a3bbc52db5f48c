// Shared machinery of the reliability suite: running a piece of the plugin
// in a child process with a deadline (so a crash, a hang or a deadlock is a
// test failure, not a dead test run), a fake Exim host that keeps its main
// log, and policy files.
//
// Every scenario runs the plugin through exim::Dispatch(), the function the
// C ABI entry points call, in processes of its own, the way Exim runs it:
// one plugin state per process, inherited across fork(), never closed by
// an SMTP child that _exit()s.
#ifndef SENDERWATCH_TESTS_RELIABILITY_HARNESS_H_
#define SENDERWATCH_TESTS_RELIABILITY_HARNESS_H_

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exim/dispatch.h"
#include "senderwatch/record.h"

namespace senderwatch::reliability {

using namespace std::chrono_literals;

// How a child ended.
struct ChildResult {
  bool exited = false;     // normal exit (then `code` is valid)
  int code = -1;
  int signal = 0;          // the signal that killed it, if any
  bool timed_out = false;  // killed by us at the deadline
  std::string output;      // what the child wrote to `out`
  bool ok() const { return exited && code == 0 && !timed_out; }
};
std::string Describe(const ChildResult& result);

// Runs `body` in a forked child and waits for it, at most `timeout` (then
// SIGKILLs it). The child's return value is its exit code; text it puts in
// `out` reaches the parent. An exception in the child is exit code 125.
// The child ends with _exit(), like Exim's SMTP children: no destructors.
ChildResult RunChild(const std::function<int(std::string& out)>& body,
                     std::chrono::milliseconds timeout = 120s);

// A started child that the test may kill; Wait() reaps it.
class Child {
 public:
  explicit Child(const std::function<int()>& body);
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  ~Child();
  pid_t pid() const { return pid_; }
  void Kill(int signal);
  // Waits at most `timeout`; SIGKILLs and reports timed_out after it.
  ChildResult Wait(std::chrono::milliseconds timeout = 120s);

 private:
  pid_t pid_ = -1;
};

// The Exim process as the plugin sees it: a main log and a spool directory.
class FakeHost final : public exim::Host {
 public:
  explicit FakeHost(std::string spool = "/nonexistent-spool") : spool_(std::move(spool)) {}
  void LogMain(std::string_view line) noexcept override;
  std::string SpoolDirectory() noexcept override { return spool_; }
  std::string EximUid() noexcept override { return std::to_string(::geteuid()); }
  std::string EximGid() noexcept override { return std::to_string(::getegid()); }
  const std::vector<std::string>& lines() const { return lines_; }
  // Lines containing `needle`.
  int Count(std::string_view needle) const;
  std::string Joined() const;

 private:
  std::string spool_;
  std::vector<std::string> lines_;
};

// One plugin call, argv exactly as Exim builds it.
std::string Call(exim::Function function, const std::vector<std::string>& args, exim::Host& host);

// Convenience for the common calls; `config` is a path (config=PATH is added).
std::string CheckSender(exim::Host& host, const std::string& config, const std::string& account,
                        const std::string& ip = "192.0.2.1");
std::string PeekSender(exim::Host& host, const std::string& config, const std::string& account);
std::string RecordBounce(exim::Host& host, const std::string& config, const std::string& account);

// A rule that locks any account with more than 2 recipients in an hour
// (the faults tests lock "mallory" with it and give every other account one
// call).
inline constexpr std::string_view kLockAfterTwo = R"(
[[rule]]
name = "two-is-enough"
metric = "recipients"
window = "1h"
above = 2
action = "lock"
)";

// Writes `text` to `path` (mode 0644); throws on failure.
void WriteFile(const std::string& path, std::string_view text);

// A policy file for a store at `store` with `durability`, the given TOML
// for rules (empty: `rule = []`, no rules at all) and extra [store] lines.
std::string PolicyText(const std::string& store, std::string_view rules_toml,
                       std::string_view durability = "none", std::string_view store_extra = "");

// The store's view of an account, read in a fresh child process with a
// read-only store (a test process must not open an environment twice).
struct Snapshot {
  bool present = false;
  uint64_t recipients = 0;
  uint64_t bounces = 0;
  uint64_t defers = 0;
  bool locked = false;
  std::string lock_rule;
};
struct StoreCheck {
  std::string error;                // non-empty when the store could not be read
  uint64_t records = 0;
  uint64_t undecodable = 0;
  std::vector<std::pair<std::string, Snapshot>> accounts;  // those asked for
};
StoreCheck InspectStore(const std::string& store, const std::vector<std::string>& accounts);

// True when `answer` is a fail-open check_sender answer: verdict=ok with an
// error="..." naming the problem.
bool IsFailOpen(std::string_view answer);

// Every main-log line is one escaped line of ours.
bool AllLinesClean(const FakeHost& host, std::string* bad = nullptr);

}  // namespace senderwatch::reliability

#endif  // SENDERWATCH_TESTS_RELIABILITY_HARNESS_H_
