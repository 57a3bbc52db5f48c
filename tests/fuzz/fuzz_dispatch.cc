// Fuzzes the dlfunc argument handling: Dispatch() exactly as the C ABI calls
// it, with a fake Host, on real LMDB stores in a temporary directory.
//
// Input: byte 0 picks the function, byte 1 the policy, the rest is split at
// NUL bytes into at most 7 arguments (Exim 4.96 passes at most 7). A
// "config=" argument in the input is redirected to one of the prepared
// policies, so the fuzzer explores the option parsing without reading
// arbitrary files (config= comes from the admin's ACL, not from mail).
//
// Policies: a normal store; a 64 KiB store that fills up (MDB_MAP_FULL,
// pruning, fail-open); a missing file; an invalid file with
// on_error = "defer"; and none at all (the built-in default under the fake
// spool directory).
//
// Beyond "never crash": every answer is one line in the contract's shape,
// every main-log line is one escaped line starting "senderwatch: ", and no
// piece of the input placed in a data position (account, address, reason)
// ever sets the config path, the mode or an override.
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "exim/arguments.h"
#include "exim/dispatch.h"

namespace {

using senderwatch::exim::CallSpec;
using senderwatch::exim::Dispatch;
using senderwatch::exim::ParseArguments;
using senderwatch::exim::SpecOf;
using senderwatch::exim::Function;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_dispatch: %s: [%.*s]\n", what, static_cast<int>(detail.size()),
               detail.data());
  __builtin_trap();
}

bool OneSafeLine(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

class FuzzHost final : public senderwatch::exim::Host {
 public:
  explicit FuzzHost(std::string spool) : spool_(std::move(spool)) {}
  void LogMain(std::string_view line) noexcept override {
    if (!OneSafeLine(line)) Fail("main-log line with a control character", line);
    if (line.rfind("senderwatch: ", 0) != 0) Fail("main-log line without the prefix", line);
  }
  std::string SpoolDirectory() noexcept override { return spool_; }
  std::string EximUid() noexcept override { return std::to_string(::geteuid()); }
  std::string EximGid() noexcept override { return std::to_string(::getegid()); }

 private:
  std::string spool_;
};

struct Fixture {
  std::string dir;
  std::vector<std::string> configs;  // "config=PATH" arguments
  FuzzHost* host = nullptr;
};

void WriteFile(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) Fail("cannot write", path);
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

Fixture& GetFixture() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/senderwatch-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp", pattern);
    f->dir = pattern;
    WriteFile(f->dir + "/normal.toml",
              "[store]\npath = \"" + f->dir + "/normal\"\ndurability = \"none\"\n");
    WriteFile(f->dir + "/tiny.toml", "[store]\npath = \"" + f->dir +
                                         "/tiny\"\ndurability = \"none\"\nmax_size = \"64KiB\"\n");
    WriteFile(f->dir + "/bad.toml", "on_error = \"defer\"\n[store]\npath = 12\n");
    f->configs = {"config=" + f->dir + "/normal.toml", "config=" + f->dir + "/tiny.toml",
                  "config=" + f->dir + "/missing.toml", "config=" + f->dir + "/bad.toml"};
    f->host = new FuzzHost(f->dir);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(GetFixture().dir, ignored);
    });
    return f;
  }();
  return *fixture;
}

void CheckAnswer(Function function, const std::string& answer, bool event_mode) {
  if (event_mode || function == Function::kPreload) {
    // preload's answer goes into smtp_accept_max_per_host: always nothing.
    if (!answer.empty()) Fail("mode=event and preload must answer nothing", answer);
    return;
  }
  if (!OneSafeLine(answer)) Fail("answer with a control character", answer);
  const std::string_view prefix = function == Function::kCheckSender || function == Function::kPeekSender
                                      ? "verdict="
                                  : function == Function::kRecordBounce ? "bounces="
                                  : function == Function::kRecordDefer  ? "defers="
                                                                        : "authfails=";
  if (answer.rfind(prefix, 0) != 0) Fail("answer in the wrong shape", answer);
  // ${extract} must always parse it: quotes come in pairs.
  size_t quotes = 0;
  for (const char c : answer) quotes += c == '"';
  if (quotes % 2 != 0) Fail("unbalanced quotes", answer);
}

// The property of the argument positions: the input's pieces, placed in
// every data position, never change the config path, the mode or the
// overrides that the literal arguments after them set.
void CheckDataNeverChoosesOptions(Function function, std::string_view rest) {
  const CallSpec spec = SpecOf(function);
  std::vector<std::string> args;
  size_t start = 0;
  while (static_cast<int>(args.size()) < spec.positional) {
    size_t end = rest.find('\0', start);
    if (end == std::string_view::npos) end = rest.size();
    args.emplace_back(start <= rest.size() ? rest.substr(start, end - start) : std::string_view());
    start = end + 1;
  }
  if (spec.overrides) args.emplace_back("rcpt-rate=off");
  args.emplace_back("config=/etc/exim4/fuzz.toml");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  auto call = ParseArguments(spec, static_cast<int>(args.size()), argv.data());
  if (!call) Fail("data arguments made the call invalid", call.error().message);
  if (call->config_path != "/etc/exim4/fuzz.toml") Fail("data chose the policy", call->config_path);
  if (call->event_mode) Fail("data chose mode=event", rest);
  if (!call->recipient.empty() || !call->sender.empty()) Fail("data chose rcpt=/sender=", rest);
  if (call->overrides != (spec.overrides ? "rcpt-rate=off" : "")) Fail("data chose overrides", rest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Fixture& fixture = GetFixture();
  const Function function = static_cast<Function>(data[0] % 6);  // the five calls and preload
  const uint8_t policy = data[1];
  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);

  std::vector<std::string> args;
  bool event_mode = false;
  size_t start = 0;
  while (start <= rest.size() && args.size() < 7) {
    size_t end = rest.find('\0', start);
    if (end == std::string_view::npos) end = rest.size();
    std::string arg(rest.substr(start, end - start));
    if (arg.rfind("config=", 0) == 0) {
      arg = fixture.configs[static_cast<size_t>(policy) % fixture.configs.size()];
    }
    if (arg == "mode=event") event_mode = true;
    args.push_back(std::move(arg));
    start = end + 1;
  }
  // Most inputs get the policy byte's config appended (when there is room),
  // the rest use the built-in default policy under the fake spool directory.
  if (policy % 5 != 4 && args.size() < 7) {
    args.push_back(fixture.configs[policy % fixture.configs.size()]);
  }
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  const std::string answer =
      Dispatch(function, static_cast<int>(args.size()), argv.data(), *fixture.host);
  // mode=event only counts when it sits in the optional zone; an answer
  // that is empty is fine only if some argument asked for it.
  CheckAnswer(function, answer, event_mode && answer.empty());
  CheckDataNeverChoosesOptions(function, rest);
  return 0;
}
