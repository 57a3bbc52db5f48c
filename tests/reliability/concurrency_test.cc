// Many Exim processes on one store: exact counts, SIGKILL in the middle of
// a write, and processes that never close the store.
//
// tests/unit/lmdb_store_test.cc already covers the store layer (8 processes
// counting one account through Store::Update; 1100 processes dying inside
// read transactions, with a process keeping the store open). These tests
// run the plugin itself (Dispatch, as the C ABI calls it) in the pattern
// Exim uses: a process that has used the plugin forks children that use it
// too, children _exit() without closing anything, and some are killed.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "reliability/harness.h"
#include "testutil/testutil.h"

namespace senderwatch::reliability {
namespace {

using exim::Function;
using testing::TempDir;

// Eight processes hammer one shared account and one account each, with
// check_sender, record_bounce and record_defer, after their parent used the
// plugin (so each child inherits an open store it must neither use nor
// close). Every count is exact, and the parent's store still works.
TEST(ProcessConcurrency, EightProcessesCountExactlyOnSharedAndOwnAccounts) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, "", "periodic"));
  constexpr int kProcesses = 8;
  constexpr int kCalls = 150;

  const ChildResult parent = RunChild([&](std::string& out) {
    FakeHost host;
    // The "delivery process": it has loaded the plugin and opened the store.
    if (CheckSender(host, config, "shared") != "verdict=ok") {
      out = "first call failed: " + host.Joined();
      return 1;
    }
    std::vector<Child> children;
    for (int p = 0; p < kProcesses; ++p) {
      children.emplace_back([&, p] {
        FakeHost h;
        const std::string own = "own-" + std::to_string(p);
        for (int i = 0; i < kCalls; ++i) {
          if (CheckSender(h, config, "shared") != "verdict=ok") return 2;
          if (CheckSender(h, config, own, "198.51.100." + std::to_string(p)) != "verdict=ok") return 3;
          if (RecordBounce(h, config, own).rfind("bounces=", 0) != 0) return 4;
          const std::string d = Call(Function::kRecordDefer,
                                     {"shared", "tmp@x", "451", "config=" + config}, h);
          if (d.find("error") != std::string::npos) return 5;
        }
        return h.lines().empty() ? 0 : 6;
      });
    }
    int failures = 0;
    for (auto& child : children) {
      const ChildResult r = child.Wait();
      if (!r.ok()) {
        out += "child " + Describe(r) + "; ";
        ++failures;
      }
    }
    // The parent's own store was not disturbed by its children.
    const std::string again = CheckSender(host, config, "shared");
    if (again != "verdict=ok") {
      out += "parent after fork: " + again + " " + host.Joined();
      return 7;
    }
    return failures == 0 ? 0 : 8;
  });
  ASSERT_TRUE(parent.ok()) << Describe(parent);

  std::vector<std::string> accounts = {"shared"};
  for (int p = 0; p < kProcesses; ++p) accounts.push_back("own-" + std::to_string(p));
  const StoreCheck check = InspectStore(store, accounts);
  ASSERT_EQ(check.error, "");
  EXPECT_EQ(check.undecodable, 0u);
  const Snapshot& shared = check.accounts[0].second;
  EXPECT_EQ(shared.recipients, uint64_t{kProcesses * kCalls + 2});
  EXPECT_EQ(shared.defers, uint64_t{kProcesses * kCalls});
  for (int p = 0; p < kProcesses; ++p) {
    const Snapshot& own = check.accounts[static_cast<size_t>(p) + 1].second;
    EXPECT_EQ(own.recipients, uint64_t{kCalls}) << "own-" << p;
    EXPECT_EQ(own.bounces, uint64_t{kCalls}) << "own-" << p;
  }
}

// Writers are SIGKILLed at random moments, again and again, while a lock
// rule fires on the way. Afterwards: the store opens and writes without
// waiting on a dead writer's lock, no record is damaged, every count is
// between what the writers saw acknowledged and that plus the calls in
// flight, and the lock one of them stored is still there.
TEST(ProcessConcurrency, SigkillMidWriteLeavesAConsistentStoreAndKeepsLocks) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  // "victim" is locked once it has more than 40 recipients in an hour.
  WriteFile(config, PolicyText(store, R"(
[[rule]]
name = "victim-rate"
metric = "recipients"
window = "1h"
above = 40
action = "lock"
)", "periodic"));
  // The store exists before the killing starts (its concurrent creation is
  // ConcurrentFirstUseLosesNoCounts's business).
  const ChildResult create = RunChild([&](std::string& out) {
    FakeHost host;
    out = CheckSender(host, config, "probe");
    return out == "verdict=ok" ? 0 : 1;
  });
  ASSERT_TRUE(create.ok()) << Describe(create);
  constexpr int kWriters = 4;
  constexpr int kRounds = 8;
  std::mt19937 rng(20261127);
  std::vector<uint64_t> acked(kWriters, 0);
  uint64_t acked_victim = 0;
  bool saw_lock = false;

  for (int round = 0; round < kRounds; ++round) {
    std::vector<int> pipes;
    std::vector<Child> writers;
    for (int w = 0; w < kWriters; ++w) {
      int fds[2];
      ASSERT_EQ(::pipe(fds), 0);
      writers.emplace_back([&, w, fds] {
        ::close(fds[0]);
        FakeHost host;
        const std::string own = "writer-" + std::to_string(w);
        for (uint64_t i = 0;; ++i) {
          // One byte per acknowledged call: 'o' own account, 'v' victim
          // counted, 'L' victim counted and reported locked. The lock rule
          // is turned off for the writers' own accounts (a per-call
          // override, as an Exim lookup would pass it).
          const std::string o = Call(Function::kCheckSender,
                                     {own, "192.0.2.1", "victim-rate=off", "config=" + config}, host);
          if (o != "verdict=ok") return 2;
          char c = 'o';
          if (::write(fds[1], &c, 1) != 1) return 3;
          // The victim less often: a minute slot saturates at 65535.
          if (i % 8 != 0) continue;
          const std::string v = CheckSender(host, config, "victim");
          if (v.find("error") != std::string::npos) return 4;
          c = v.rfind("verdict=lock", 0) == 0 ? 'L' : 'v';
          if (::write(fds[1], &c, 1) != 1) return 3;
        }
      });
      ::close(fds[1]);
      pipes.push_back(fds[0]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 250));
    for (auto& w : writers) w.Kill(SIGKILL);
    for (int w = 0; w < kWriters; ++w) {
      const ChildResult r = writers[static_cast<size_t>(w)].Wait(30s);
      EXPECT_FALSE(r.exited) << "writer stopped by itself: " << Describe(r);
      char buffer[4096];
      for (;;) {
        const ssize_t n = ::read(pipes[static_cast<size_t>(w)], buffer, sizeof buffer);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
          if (buffer[i] == 'o') ++acked[static_cast<size_t>(w)];
          if (buffer[i] == 'v' || buffer[i] == 'L') ++acked_victim;
          if (buffer[i] == 'L') saw_lock = true;
        }
      }
      ::close(pipes[static_cast<size_t>(w)]);
    }
    // After each massacre a new process must be able to write at once: a
    // writer killed inside its transaction must not leave the write lock
    // held (LMDB's robust mutex) nor a reader slot that pins the map.
    const ChildResult probe = RunChild(
        [&](std::string& out) {
          FakeHost host;
          const std::string r = CheckSender(host, config, "probe");
          out = r + " " + host.Joined();
          return r == "verdict=ok" ? 0 : 1;
        },
        20s);
    ASSERT_TRUE(probe.ok()) << "round " << round << ": " << Describe(probe);
  }
  EXPECT_TRUE(saw_lock) << "the lock rule never fired; the test did not exercise a durable write";

  std::vector<std::string> accounts = {"victim", "probe"};
  for (int w = 0; w < kWriters; ++w) accounts.push_back("writer-" + std::to_string(w));
  const StoreCheck check = InspectStore(store, accounts);
  ASSERT_EQ(check.error, "");
  EXPECT_EQ(check.undecodable, 0u);
  EXPECT_EQ(check.records, accounts.size());
  std::string files;
  for (const auto& entry : std::filesystem::directory_iterator(store)) {
    files += entry.path().filename().string() + " ";
  }
  const Snapshot& victim = check.accounts[0].second;
  EXPECT_GE(victim.recipients, acked_victim) << "store files: " << files;
  EXPECT_LE(victim.recipients, acked_victim + kWriters * kRounds);
  EXPECT_TRUE(victim.locked) << "a lock acknowledged to a client was lost";
  EXPECT_EQ(victim.lock_rule, "victim-rate");
  EXPECT_EQ(check.accounts[1].second.recipients, uint64_t{kRounds + 1});
  for (int w = 0; w < kWriters; ++w) {
    const Snapshot& own = check.accounts[static_cast<size_t>(w) + 2].second;
    EXPECT_GE(own.recipients, acked[static_cast<size_t>(w)]) << "writer " << w;
    EXPECT_LE(own.recipients, acked[static_cast<size_t>(w)] + kRounds) << "writer " << w;
  }
}

// Exim's processes start using a new store all at once (the first minutes
// after installation): four of them create it concurrently, and one account
// gets locked within milliseconds. No count may be lost; repeated because
// it is a race.
TEST(ProcessConcurrency, ConcurrentFirstUseLosesNoCounts) {
  constexpr int kTrials = 25;
  constexpr int kProcesses = 4;
  constexpr int kCalls = 150;
  int lossy = 0;
  std::string example;
  for (int trial = 0; trial < kTrials; ++trial) {
    TempDir dir;
    const std::string store = dir.Join("db");
    const std::string config = dir.Join("policy.toml");
    WriteFile(config, PolicyText(store, R"(
[[rule]]
name = "quick-lock"
metric = "recipients"
window = "1h"
above = 5
action = "lock"
)", "periodic"));
    int start[2];
    ASSERT_EQ(::pipe(start), 0);
    std::vector<Child> children;
    for (int p = 0; p < kProcesses; ++p) {
      children.emplace_back([&] {
        ::close(start[1]);
        char c;
        (void)::read(start[0], &c, 1);  // all start when the parent closes the pipe
        FakeHost host;
        for (int i = 0; i < kCalls; ++i) {
          if (CheckSender(host, config, "victim").find("error") != std::string::npos) return 2;
        }
        return 0;
      });
    }
    ::close(start[0]);
    ::close(start[1]);
    for (auto& child : children) {
      const ChildResult r = child.Wait(60s);
      ASSERT_TRUE(r.ok()) << Describe(r);
    }
    const StoreCheck check = InspectStore(store, {"victim"});
    ASSERT_EQ(check.error, "");
    const uint64_t stored = check.accounts[0].second.recipients;
    if (stored != uint64_t{kProcesses * kCalls}) {
      ++lossy;
      example = std::to_string(stored) + " of " + std::to_string(kProcesses * kCalls) +
                " recipients stored";
    }
  }
  EXPECT_EQ(lossy, 0) << lossy << " of " << kTrials << " trials lost counts, e.g. " << example;
}

// 1000 Exim processes, 8 at a time, each calling the plugin once and
// _exit()ing without closing the store (as Exim's SMTP children end), and
// nothing else keeping the store open: no MDB_READERS_FULL, no error, and
// every call counted.
TEST(ProcessConcurrency, ThousandProcessesThatNeverCloseTheStore) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, "", "none"));
  constexpr int kProcesses = 1000;
  constexpr int kParallel = 8;
  int failures = 0;
  std::string last;
  for (int started = 0; started < kProcesses; started += kParallel) {
    std::vector<int> pipes;
    std::vector<Child> batch;
    for (int i = 0; i < kParallel; ++i) {
      int fds[2];
      ASSERT_EQ(::pipe(fds), 0);
      batch.emplace_back([&, fds] {
        ::close(fds[0]);
        FakeHost host;
        // A read (peek) and a write (check) per process, in that order, so
        // each leaves a reader slot behind.
        const std::string peek = PeekSender(host, config, "everyone");
        const std::string check = CheckSender(host, config, "everyone");
        const std::string report = peek + " | " + check + " | " + host.Joined();
        (void)::write(fds[1], report.data(), report.size());
        return peek == "verdict=ok" && check == "verdict=ok" ? 0 : 1;
      });
      ::close(fds[1]);
      pipes.push_back(fds[0]);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const ChildResult r = batch[i].Wait(60s);
      char buffer[2048];
      const ssize_t n = ::read(pipes[i], buffer, sizeof buffer);
      ::close(pipes[i]);
      if (!r.ok()) {
        ++failures;
        last = Describe(r) + ": " + std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0);
      }
    }
  }
  EXPECT_EQ(failures, 0) << last;
  EXPECT_EQ(last.find("MDB_READERS_FULL"), std::string::npos) << last;
  const StoreCheck check = InspectStore(store, {"everyone"});
  ASSERT_EQ(check.error, "");
  EXPECT_EQ(check.accounts[0].second.recipients, uint64_t{kProcesses});
}

}  // namespace
}  // namespace senderwatch::reliability
