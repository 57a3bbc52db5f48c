// Hostile arguments through Dispatch(): what an authenticated client (its
// login name), a remote server (a bounce reason) or a broken ACL can put in
// a ${dlfunc} argument. tests/abi/abi_test.cc covers a newline in the
// account, 100 KB accounts and "\xff\xfe" through the real .so; this file
// covers the rest of the zoo. For every input: one answer in the contract's
// shape (never empty, never multi-line, quotes balanced for ${extract}), a
// clear error or a safe normalisation, and only clean, prefixed main-log
// lines, so no input can forge a log line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reliability/harness.h"
#include "testutil/testutil.h"

namespace senderwatch::reliability {
namespace {

using exim::Function;
using testing::TempDir;

bool OneLine(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool BalancedQuotes(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += c == '"';
  return n % 2 == 0;
}

constexpr int kEither = 2;

class HostileInput : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Join("db");
    config_ = dir_.Join("policy.toml");
    WriteFile(config_, PolicyText(store_, R"(
[[rule]]
name = "rate"
metric = "recipients"
window = "1h"
above = 1000
action = "defer"
)"));
  }

  // Runs `calls` in one child process; each call's answer must be in shape
  // and, when `expect_error`, carry an error. Returns the child's report.
  struct Case {
    Function function;
    std::vector<std::string> args;  // config= is appended
    int expect_error;               // 1: an error=, 0: none, kEither: both fine
    std::string what;
  };
  void Expect(const std::vector<Case>& cases) {
    const ChildResult r = RunChild([&](std::string& out) {
      FakeHost host;
      int code = 0;
      for (const Case& c : cases) {
        std::vector<std::string> args = c.args;
        args.push_back("config=" + config_);
        const std::string answer = Call(c.function, args, host);
        const bool check = c.function == Function::kCheckSender || c.function == Function::kPeekSender;
        const bool shape = check ? answer.starts_with("verdict=ok") : answer.find('=') != std::string::npos;
        const bool has_error = answer.find(" error=") != std::string::npos;
        const bool error_ok = c.expect_error == kEither || has_error == (c.expect_error == 1);
        if (!shape || !OneLine(answer) || !BalancedQuotes(answer) || !error_ok) {
          out += c.what + ": [" + answer + "]\n";
          code = 1;
        }
      }
      std::string bad;
      if (!AllLinesClean(host, &bad)) {
        out += "forged or unclean main-log line: [" + bad + "]\n";
        code = 2;
      }
      return code;
    });
    EXPECT_TRUE(r.ok()) << Describe(r);
  }

  TempDir dir_;
  std::string store_;
  std::string config_;
};

TEST_F(HostileInput, ControlCharactersInAccountsAreRefused) {
  std::vector<Case> cases;
  for (const std::string& account :
       {std::string("bob\r\n2026-11-27 10:00:00 senderwatch: account eve locked"),
        std::string("bob\rsenderwatch: forged"), std::string("tab\there"),
        std::string("esc\x1b[31mred"), std::string("del\x7f"), std::string("bell\a"),
        std::string("nul-less\x01")}) {
    cases.push_back({Function::kCheckSender, {account, "192.0.2.1"}, 1, "check " + account});
    cases.push_back({Function::kRecordBounce, {account, "x@y", "550"}, 1, "bounce " + account});
    cases.push_back({Function::kRecordAuthfail, {account, "192.0.2.1"}, 1, "authfail " + account});
  }
  Expect(cases);
}

TEST_F(HostileInput, InvalidUtf8IsRefused) {
  std::vector<Case> cases;
  for (const std::string& account :
       {std::string("overlong\xc0\xaf"), std::string("surrogate\xed\xa0\x80"),
        std::string("truncated\xe2\x82"), std::string("five-byte\xf8\x88\x80\x80\x80"),
        std::string("beyond\xf4\x90\x80\x80"), std::string("lone\x80"), std::string("\xfe\xff")}) {
    cases.push_back({Function::kCheckSender, {account, "192.0.2.1"}, 1, "check " + account});
    cases.push_back({Function::kPeekSender, {account}, 1, "peek " + account});
  }
  Expect(cases);
}

TEST_F(HostileInput, LengthLimitsAreExactAndCheap) {
  const std::string max(256, 'a');
  Expect({
      {Function::kCheckSender, {max, "192.0.2.1"}, 0, "256 bytes is allowed"},
      {Function::kCheckSender, {max + "b", "192.0.2.1"}, 1, "257 bytes"},
      {Function::kCheckSender, {std::string(64 * 1024, 'a'), "192.0.2.1"}, 1, "64 KiB"},
      {Function::kCheckSender, {std::string(64 * 1024 + 1, 'a'), "192.0.2.1"}, 1, "64 KiB + 1"},
      {Function::kCheckSender, {std::string(1 << 20, 'a'), "192.0.2.1"}, 1, "1 MiB"},
      {Function::kCheckSender, {"alice", std::string(100 * 1024, '1')}, 1, "100 KB client ip"},
      {Function::kRecordBounce, {"alice", std::string(100 * 1024, 'r'), std::string(100 * 1024, 'x')},
       1, "100 KB recipient and reason"},
      {Function::kCheckSender, {"", "192.0.2.1"}, 1, "empty account"},
      {Function::kCheckSender, {"   ", "192.0.2.1"}, 1, "blank account"},
  });
}

TEST_F(HostileInput, EmbeddedNulEndsTheArgumentAsInExim) {
  // Exim's arguments are C strings: "alice\0evil" arrives as "alice". The
  // plugin cannot see past the NUL and must count alice, nothing else.
  const std::string with_nul("alice\0evil", 10);
  Expect({{Function::kCheckSender, {with_nul, "192.0.2.1"}, 0, "NUL in account"}});
  const StoreCheck check = InspectStore(store_, {"alice", "alice\0evil", "evil"});
  ASSERT_EQ(check.error, "");
  EXPECT_EQ(check.records, 1u);
  EXPECT_EQ(check.accounts[0].second.recipients, 1u);
}

TEST_F(HostileInput, NormalisationIsSafeAndConsistent) {
  // Case and surrounding blanks fold into one account; non-ASCII letters
  // are kept as they are (no locale-dependent folding).
  Expect({
      {Function::kCheckSender, {"  Alice@Example.ORG ", "192.0.2.1"}, 0, "padded mixed case"},
      {Function::kCheckSender, {"alice@example.org", "192.0.2.1"}, 0, "lower case"},
      {Function::kCheckSender, {"J\xc3\xb6rg", "192.0.2.1"}, 0, "valid UTF-8"},
      {Function::kCheckSender, {"line\xe2\x80\xa8sep", "192.0.2.1"}, kEither, "U+2028 (not a newline to Exim)"},
  });
  const StoreCheck check = InspectStore(store_, {"alice@example.org", "j\xc3\xb6rg", "J\xc3\xb6rg"});
  ASSERT_EQ(check.error, "");
  EXPECT_EQ(check.accounts[0].second.recipients, 2u);
  EXPECT_TRUE(check.accounts[1].second.present);
  EXPECT_FALSE(check.accounts[2].second.present);
}

TEST_F(HostileInput, HostileClientAddressesOverridesAndOptionsAreRefused) {
  Expect({
      {Function::kCheckSender, {"alice", "192.0.2.1\nsenderwatch: forged"}, 1, "newline in ip"},
      {Function::kCheckSender, {"alice", "999.1.1.1"}, 1, "bad IPv4"},
      {Function::kCheckSender, {"alice", "2001:db8::1::2"}, 1, "bad IPv6"},
      {Function::kCheckSender, {"alice", "192.0.2.1", "rate=\"1 verdict=lock\""}, 1, "quote in override"},
      {Function::kCheckSender, {"alice", "192.0.2.1", "rate=1e999"}, 1, "infinite override"},
      {Function::kCheckSender, {"alice", "192.0.2.1", "rate=nan"}, 1, "NaN override"},
      {Function::kCheckSender, {"alice", "192.0.2.1", "rate=-5"}, 1, "negative override"},
      {Function::kPeekSender, {"alice", "rate=\x1b[2J"}, 1, "escape in override"},
      {Function::kRecordAuthfail, {"alice", "not-an-ip"}, 1, "bad ip in authfail"},
      {Function::kCheckSender, {"alice", "192.0.2.1", "config=relative/path"}, 1, "relative config="},
  });
}

TEST_F(HostileInput, HostileReasonsAndRecipientsNeverReachTheLogRaw) {
  // The remote server controls the bounce reason ($event_data).
  Expect({
      {Function::kRecordBounce,
       {"alice", "x@y\nsenderwatch: account eve locked", "550 5.1.1\r\nsenderwatch: forged"}, kEither,
       "newlines in recipient and reason"},
      {Function::kRecordDefer, {"alice", "\x1b[2Jx@y", "451 \xff\xfe"}, kEither, "escapes in defer"},
  });
}

TEST_F(HostileInput, ConfigPathWithControlCharactersIsReportedSafely) {
  const ChildResult r = RunChild([&](std::string& out) {
    FakeHost host;
    const std::string answer =
        Call(Function::kCheckSender, {"alice", "192.0.2.1", "config=/nonexistent\nsenderwatch: forged"},
             host);
    out = answer + "\n" + host.Joined();
    std::string bad;
    if (!IsFailOpen(answer) || !OneLine(answer) || !BalancedQuotes(answer)) return 1;
    return AllLinesClean(host, &bad) ? 0 : 2;
  });
  EXPECT_TRUE(r.ok()) << Describe(r);
}

TEST_F(HostileInput, WrongArgumentCountsFailOpenForEveryFunction) {
  const std::string cfg = "config=" + config_;
  const ChildResult r = RunChild([&](std::string& out) {
    FakeHost host;
    int code = 0;
    const auto expect_error = [&](Function f, std::vector<std::string> args, const char* what) {
      const std::string a = Call(f, args, host);
      if (a.find(" error=") == std::string::npos || !OneLine(a)) {
        out += std::string(what) + ": [" + a + "]\n";
        code = 1;
      }
    };
    expect_error(Function::kCheckSender, {}, "check_sender()");
    expect_error(Function::kCheckSender, {"a", "192.0.2.1", "x=1", "y", cfg}, "check_sender(4)");
    expect_error(Function::kPeekSender, {}, "peek_sender()");
    expect_error(Function::kRecordBounce, {}, "record_bounce()");
    expect_error(Function::kRecordBounce, {"a", "b", "c", "d", "e", "f", "g"}, "record_bounce(7)");
    expect_error(Function::kRecordDefer, {}, "record_defer()");
    expect_error(Function::kRecordAuthfail, {}, "record_authfail()");
    // Exim's argv for 8 arguments is broken (exim-4.96-facts.md 1.1); a
    // null entry or a negative count must not be followed.
    const char* broken[] = {"alice", nullptr, "x"};
    const std::string a = exim::Dispatch(Function::kCheckSender, 3, broken, host);
    if (!IsFailOpen(a)) {
      out += "null in argv: [" + a + "]\n";
      code = 1;
    }
    const std::string b = exim::Dispatch(Function::kCheckSender, -1, broken, host);
    if (!IsFailOpen(b)) {
      out += "negative argc: [" + b + "]\n";
      code = 1;
    }
    const std::string c = exim::Dispatch(Function::kCheckSender, 2, nullptr, host);
    if (!IsFailOpen(c)) {
      out += "null argv: [" + c + "]\n";
      code = 1;
    }
    std::string bad;
    if (!AllLinesClean(host, &bad)) {
      out += "unclean line: " + bad;
      code = 2;
    }
    return code;
  });
  EXPECT_TRUE(r.ok()) << Describe(r);
}

}  // namespace
}  // namespace senderwatch::reliability
