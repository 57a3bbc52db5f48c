// A flood of failed logins with invented user names (issue 9, item 5),
// through Dispatch() as Exim calls record_authfail: before, every name made
// a record, 480 of them filled a 256 KiB store, and then `on_error = defer`
// refused every authenticated RCPT while lock rules stopped firing. Failed
// logins of names that never sent must stay within a bounded part of the
// store, and every real account must keep its record and its lock.
//
// The flood size can be raised to the 1M of the issue with
// SENDERWATCH_AUTHFAIL_FLOOD=1000000, and the map set to the default 1 GiB
// with SENDERWATCH_AUTHFAIL_MAX_SIZE_MIB=1024 (docs/security.md quotes
// that run).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "reliability/harness.h"
#include "testutil/testutil.h"

namespace senderwatch::reliability {
namespace {

using exim::Function;
using testing::TempDir;

// Besides kLockAfterTwo: more than five failed logins in an hour lock a
// name, so invented names reach locks too.
constexpr std::string_view kGuessing = R"(
[[rule]]
name = "guessing"
metric = "authfails"
window = "1h"
above = 5
action = "lock"
)";

// The map: 16 MiB (SENDERWATCH_AUTHFAIL_MAX_SIZE_MIB to change it), so at
// most 4096 provisional records (one per 4 KiB).
uint64_t MaxSize() {
  const char* text = std::getenv("SENDERWATCH_AUTHFAIL_MAX_SIZE_MIB");
  const long mib = text == nullptr ? 0 : std::atol(text);
  return uint64_t(mib > 0 ? mib : 16) << 20;
}
// The size the store may reach under any flood: 256 KiB for the real
// accounts and LMDB's own pages, and 512 bytes per provisional record the
// cap allows (a record of a short name, its key, the B-tree's share and the
// free pages that eviction leaves).
uint64_t StatedSize(uint64_t max_size) {
  return (uint64_t{256} << 10) + 512 * std::min<uint64_t>(100000, max_size / 4096);
}

int FloodSize() {
  const char* text = std::getenv("SENDERWATCH_AUTHFAIL_FLOOD");
  const int n = text == nullptr ? 0 : std::atoi(text);
  return n > 0 ? n : 100000;
}

std::string Account(std::string_view kind, int i) {
  return std::string(kind) + "-" + std::to_string(i) + "@example.org";
}

bool StartsWith(std::string_view text, std::string_view prefix) { return text.starts_with(prefix); }

TEST(AuthfailFlood, InventedNamesStayBoundedAndRealAccountsKeepRecordsAndLocks) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  // on_error = defer: a store that refused a write would defer honest mail.
  WriteFile(config, "on_error = \"defer\"\n" +
                        PolicyText(store, std::string(kLockAfterTwo) + std::string(kGuessing), "none",
                                   "max_size = \"" + std::to_string(MaxSize() >> 20) + "MiB\"\n"));
  const int flood = FloodSize();
  constexpr int kHonest = 20;
  constexpr int kLocked = 5;
  constexpr int kLockedFlood = 1000;  // invented names pushed over the lock
  const ChildResult r = RunChild(
      [&](std::string& out) {
        FakeHost host;
        int code = 0;
        auto fail = [&](int c, const std::string& what) {
          out += what + "\n";
          code = c;
        };
        for (int i = 0; i < kHonest; ++i) CheckSender(host, config, Account("honest", i));
        for (int i = 0; i < kLocked; ++i) {
          for (int n = 0; n < 3; ++n) CheckSender(host, config, Account("locked", i));
        }
        // A real name that never sent, guessed at before the flood.
        const std::string option = "config=" + config;
        for (int n = 0; n < 6; ++n) {
          Call(Function::kRecordAuthfail, {"target@example.org", "203.0.113.9", option}, host);
        }
        for (int i = 0; i < flood; ++i) {
          const std::string ip = "198.51." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
          const std::string answer = Call(Function::kRecordAuthfail, {Account("guess", i), ip, option}, host);
          if (!StartsWith(answer, "authfails=")) {
            fail(10, "record_authfail " + std::to_string(i) + " answered " + answer);
            break;
          }
        }
        for (int i = 0; i < kLockedFlood; ++i) {
          for (int n = 0; n < 6; ++n) {
            Call(Function::kRecordAuthfail, {Account("brute", i), "203.0.113.1", option}, host);
          }
        }
        for (int i = 0; i < kLocked; ++i) {
          const std::string answer = CheckSender(host, config, Account("locked", i));
          if (!StartsWith(answer, "verdict=lock")) fail(11, Account("locked", i) + ": " + answer);
        }
        for (int i = 0; i < kHonest; ++i) {
          const std::string answer = CheckSender(host, config, Account("honest", i));
          if (answer != "verdict=ok") fail(12, Account("honest", i) + ": " + answer);
        }
        // New accounts still get records, and a lock rule still fires and sticks.
        for (int i = 0; i < kLocked; ++i) {
          std::string answer;
          for (int n = 0; n < 3; ++n) answer = CheckSender(host, config, Account("late", i));
          if (!StartsWith(answer, "verdict=lock")) fail(13, Account("late", i) + ": " + answer);
        }
        // The guessed name logs in at last: its lock was kept through the flood.
        const std::string target = CheckSender(host, config, "target@example.org");
        if (!StartsWith(target, "verdict=lock rule=guessing")) fail(14, "target: " + target);
        if (!AllLinesClean(host)) fail(15, "unclean main-log line: " + host.Joined());
        return code;
      },
      std::chrono::seconds(300 + flood / 1000));
  ASSERT_TRUE(r.ok()) << Describe(r);

  std::vector<std::string> accounts;
  for (int i = 0; i < kLocked; ++i) accounts.push_back(Account("locked", i));
  for (int i = 0; i < kLocked; ++i) accounts.push_back(Account("late", i));
  accounts.push_back("target@example.org");
  const StoreCheck check = InspectStore(store, accounts);
  ASSERT_TRUE(check.error.empty()) << check.error;
  for (const auto& [account, snapshot] : check.accounts) {
    EXPECT_TRUE(snapshot.locked) << account << " is not locked in the store";
  }
  // Only real accounts are records: honest, locked, late and the target.
  EXPECT_EQ(check.records, uint64_t{kHonest + 2 * kLocked + 1});
  struct stat st {};
  ASSERT_EQ(::stat((store + "/data.mdb").c_str(), &st), 0);
  EXPECT_LE(static_cast<uint64_t>(st.st_size), StatedSize(MaxSize()))
      << "after " << flood << " failed logins the store takes " << st.st_size << " bytes";
  std::printf("%d failed logins (%d distinct names), max_size %llu: data.mdb %lld bytes "
              "(stated %llu), %llu records\n",
              flood + 6 + 6 * kLockedFlood, flood + 1 + kLockedFlood,
              static_cast<unsigned long long>(MaxSize()), static_cast<long long>(st.st_size),
              static_cast<unsigned long long>(StatedSize(MaxSize())),
              static_cast<unsigned long long>(check.records));
}

}  // namespace
}  // namespace senderwatch::reliability
