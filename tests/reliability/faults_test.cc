// Faults around the plugin: a full map, a full disk, a read-only store, a
// store owned by the wrong user, a record written by a newer senderwatch,
// and a clock that jumps. In every case, through Dispatch() (what the C ABI
// entry points run), in processes of their own with a deadline:
//
//  * nothing crashes or hangs (the child must exit 0 in time);
//  * mail keeps flowing: check_sender answers verdict=ok (fail open) or the
//    verdict the store still supports, never nothing, never an error code;
//  * the cause is logged once per process, naming the store path;
//  * a lock that was stored stays in force wherever the store can be read.
//
// The mount tricks (tmpfs, read-only bind mounts) happen in a private
// mount namespace of the child, so they need root; without it those tests
// are skipped.
#include <fcntl.h>
#include <grp.h>
#include <lmdb.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include "reliability/harness.h"
#include "senderwatch/engine.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"
#include "testutil/testutil.h"

namespace senderwatch::reliability {
namespace {

using exim::Function;
using testing::TempDir;

bool IsLockVerdict(std::string_view answer) { return answer.starts_with("verdict=lock"); }

// Makes this (child) process's mounts private, so what it mounts is seen by
// nobody else and disappears with it. Returns an error text or "".
std::string EnterPrivateMounts() {
  if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("mount --make-rprivate /: ") + std::strerror(errno);
  }
  return "";
}

// Exit code of a child that could not set up its fault (not a failure).
constexpr int kCannotSetUp = 77;

#define SKIP_IF_CANNOT_SET_UP(result)                                      \
  if ((result).exited && (result).code == kCannotSetUp) {                  \
    GTEST_SKIP() << "cannot set up the fault here: " << (result).output;   \
  }

// Locks mallory, then calls check_sender for new accounts until the store
// refuses them, then 20 more times. Checks every promise and reports each
// one broken in `out`; returns 0 only when all held.
int FillUntilRefused(const std::string& config, const std::string& store_path,
                     const std::string& cause_word, std::string& out) {
  FakeHost host;
  for (int i = 0; i < 3; ++i) CheckSender(host, config, "mallory");
  if (!IsLockVerdict(PeekSender(host, config, "mallory"))) {
    out = "mallory was not locked to begin with: " + host.Joined();
    return 10;
  }
  int refused = 0;
  int code = 0;
  std::string first_error;
  for (int i = 0; i < 20000 && refused < 20; ++i) {
    const std::string answer = CheckSender(host, config, "filler-" + std::to_string(i));
    if (answer == "verdict=ok") continue;
    if (!IsFailOpen(answer)) {
      out += "answer that is neither ok nor fail-open: " + answer + "\n";
      code = 11;
      break;
    }
    if (first_error.empty()) first_error = answer;
    ++refused;
  }
  if (refused == 0) {
    out += "the store never filled up\n";
    return 12;
  }
  if (first_error.find(store_path) == std::string::npos ||
      first_error.find(cause_word) == std::string::npos) {
    out += "the error does not name the store and the cause (" + cause_word + "): " + first_error + "\n";
    code = 13;
  }
  // The lock is still readable, so it must still be enforced.
  const std::string check = CheckSender(host, config, "mallory");
  const std::string peek = PeekSender(host, config, "mallory");
  if (!IsLockVerdict(check) || !IsLockVerdict(peek)) {
    out += "locked account answered [" + check + "] / [" + peek + "] while the store is full\n";
    code = 14;
  }
  std::string bad;
  if (!AllLinesClean(host, &bad)) {
    out += "unclean main-log line: " + bad + "\n";
    code = 15;
  }
  // Once per process and cause: at least one line names the store, and no
  // line is repeated.
  if (host.Count(store_path) == 0) {
    out += "no main-log line names the store\n";
    code = 16;
  }
  std::vector<std::string> lines = host.lines();
  std::sort(lines.begin(), lines.end());
  if (std::adjacent_find(lines.begin(), lines.end()) != lines.end()) {
    out += "a main-log line repeats after " + std::to_string(refused) + " refused calls:\n" +
           host.Joined();
    code = 17;
  }
  if (code == 0) out = first_error;
  return code;
}

TEST(Faults, FullMapFailsOpenLogsOnceAndKeepsLocks) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, kLockAfterTwo, "none", "max_size = \"256KiB\"\n"));
  const ChildResult r = RunChild([&](std::string& out) {
    return FillUntilRefused(config, store, "full", out);
  });
  EXPECT_TRUE(r.ok()) << Describe(r);
  // A new process meets the full store: same promises, logged once there too.
  const ChildResult next = RunChild([&](std::string& out) {
    FakeHost host;
    std::string answer;
    for (int i = 0; i < 10; ++i) answer = CheckSender(host, config, "late-" + std::to_string(i));
    const std::string mallory = CheckSender(host, config, "mallory");
    out = answer + " | " + mallory + " | " + host.Joined();
    if (!IsFailOpen(answer)) return 1;
    if (!IsLockVerdict(mallory)) return 2;
    return host.Count(store) == 1 ? 0 : 3;
  });
  EXPECT_TRUE(next.ok()) << Describe(next);
}

TEST(Faults, FullDiskFailsOpenLogsOnceKeepsLocksAndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private tmpfs";
  TempDir dir;
  const std::string mnt = dir.Join("mnt");
  std::filesystem::create_directory(mnt);
  const std::string store = mnt + "/db";
  const std::string config = dir.Join("policy.toml");
  // The map may grow to 64 MiB, the file system holds 1 MiB.
  WriteFile(config, PolicyText(store, kLockAfterTwo, "periodic", "max_size = \"64MiB\"\n"));
  const ChildResult r = RunChild([&](std::string& out) {
    if (std::string why = EnterPrivateMounts(); !why.empty()) {
      out = why;
      return kCannotSetUp;
    }
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m,mode=0755") != 0) {
      out = std::string("mount tmpfs: ") + std::strerror(errno);
      return kCannotSetUp;
    }
    // Ballast to free later: the disk is full "because of something else".
    const std::string ballast = mnt + "/ballast";
    {
      FILE* f = std::fopen(ballast.c_str(), "w");
      std::string chunk(64 * 1024, 'x');
      for (int i = 0; i < 4; ++i) std::fwrite(chunk.data(), 1, chunk.size(), f);
      std::fclose(f);
    }
    const int code = FillUntilRefused(config, store, "No space left", out);
    // Space comes back: counting resumes in the same process, no restart.
    std::filesystem::remove(ballast);
    FakeHost host;
    const std::string after = CheckSender(host, config, "newcomer");
    if (after != "verdict=ok") {
      out += "\nafter freeing space: " + after + " " + host.Joined();
      return 20;
    }
    return code;
  });
  SKIP_IF_CANNOT_SET_UP(r);
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// The file system is already full when the store is first created: LMDB
// sizes lock.mdb with ftruncate() and writes it through mmap(), which on a
// full tmpfs raises SIGBUS instead of returning an error.
TEST(Faults, StoreCreatedOnAFullDiskFailsOpenWithoutCrashing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private tmpfs";
  TempDir dir;
  const std::string mnt = dir.Join("mnt");
  std::filesystem::create_directory(mnt);
  const std::string store = mnt + "/db";
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, "", "none"));
  const ChildResult r = RunChild([&](std::string& out) {
    if (std::string why = EnterPrivateMounts(); !why.empty()) {
      out = why;
      return kCannotSetUp;
    }
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k,mode=0755") != 0) {
      out = std::string("mount tmpfs: ") + std::strerror(errno);
      return kCannotSetUp;
    }
    FILE* f = std::fopen((mnt + "/ballast").c_str(), "w");
    std::string chunk(4096, 'x');
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
    FakeHost host;
    std::string answers;
    for (int i = 0; i < 3; ++i) {
      const std::string a = CheckSender(host, config, "alice");
      answers += a + "\n";
      if (a.rfind("verdict=ok", 0) != 0) {
        out = "not accepted: " + answers;
        return 1;
      }
    }
    out = answers + host.Joined();
    return host.Count(store) == 1 ? 0 : 2;
  });
  SKIP_IF_CANNOT_SET_UP(r);
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// The store was created while there was space, then the disk filled up, and
// Exim gets busy: each process holds a reader slot in lock.mdb, and slots
// beyond the first page of that (sparse) file have never been touched. A
// process that touches one on a full file system must not die of SIGBUS.
TEST(Faults, BusyStoreOnAFullDiskDoesNotCrashNewProcesses) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private tmpfs";
  TempDir dir;
  const std::string mnt = dir.Join("mnt");
  std::filesystem::create_directory(mnt);
  const std::string store = mnt + "/db";
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, "", "none"));
  const ChildResult r = RunChild([&](std::string& out) {
    if (std::string why = EnterPrivateMounts(); !why.empty()) {
      out = why;
      return kCannotSetUp;
    }
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m,mode=0755") != 0) {
      out = std::string("mount tmpfs: ") + std::strerror(errno);
      return kCannotSetUp;
    }
    const ChildResult create = RunChild([&](std::string& o) {
      FakeHost host;
      o = CheckSender(host, config, "alice");
      return o == "verdict=ok" ? 0 : 1;
    });
    if (!create.ok()) {
      out = "creating the store: " + Describe(create);
      return 1;
    }
    FILE* f = std::fopen((mnt + "/ballast").c_str(), "w");
    std::string chunk(4096, 'x');
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
    // 300 concurrent processes (5 pages of reader slots), each holding its
    // slot for a moment.
    int hold[2];
    if (::pipe(hold) != 0) return 1;
    std::vector<Child> busy;
    for (int i = 0; i < 300; ++i) {
      busy.emplace_back([&] {
        ::close(hold[1]);
        FakeHost host;
        const std::string a = PeekSender(host, config, "alice");
        char c;
        (void)::read(hold[0], &c, 1);  // until the parent closes the pipe
        return a.rfind("verdict=ok", 0) == 0 ? 0 : 1;
      });
    }
    ::close(hold[0]);
    ::usleep(500 * 1000);
    ::close(hold[1]);
    int crashed = 0;
    int refused = 0;
    for (auto& c : busy) {
      const ChildResult b = c.Wait(60s);
      if (!b.exited) ++crashed;
      else if (b.code != 0) ++refused;
    }
    out = std::to_string(crashed) + " of 300 processes crashed, " + std::to_string(refused) +
          " did not answer verdict=ok";
    return crashed == 0 && refused == 0 ? 0 : 2;
  });
  SKIP_IF_CANNOT_SET_UP(r);
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// Creates a store with mallory locked, as root, in `store`.
void StoreWithLockedMallory(const std::string& config) {
  const ChildResult r = RunChild([&](std::string& out) {
    FakeHost host;
    for (int i = 0; i < 3; ++i) out = CheckSender(host, config, "mallory");
    return IsLockVerdict(out) ? 0 : 1;
  });
  ASSERT_TRUE(r.ok()) << Describe(r);
}

// Runs check_sender three times in a child that first becomes `uid`:`gid`
// (or stays root with uid < 0); expects fail-open answers naming the store
// and `cause`, logged once.
ChildResult ExpectFailOpenAs(uid_t uid, gid_t gid, bool switch_user, const std::string& config,
                             const std::string& store, const std::string& cause,
                             const std::function<std::string()>& setup = {}) {
  return RunChild([&](std::string& out) {
    if (setup) {
      if (std::string why = setup(); !why.empty()) {
        out = why;
        return kCannotSetUp;
      }
    }
    if (switch_user && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) {
      out = std::string("cannot switch user: ") + std::strerror(errno);
      return kCannotSetUp;
    }
    FakeHost host;
    std::string first;
    for (const char* account : {"alice", "bob", "mallory"}) {
      const std::string a = CheckSender(host, config, account);
      // A store that can still be read may even keep mallory's lock.
      const bool fine = IsFailOpen(a) || (std::string_view(account) == "mallory" && IsLockVerdict(a));
      if (!fine) {
        out = std::string(account) + ": " + a + " " + host.Joined();
        return 1;
      }
      if (first.empty()) first = a;
    }
    const std::string bounce = RecordBounce(host, config, "alice");
    if (bounce.rfind("bounces=0 error=", 0) != 0) {
      out = "record_bounce: " + bounce;
      return 2;
    }
    out = first + "\n" + host.Joined();
    if (first.find(store) == std::string::npos || first.find(cause) == std::string::npos) return 3;
    std::string bad;
    if (!AllLinesClean(host, &bad)) return 4;
    return host.Count(store) == 1 ? 0 : 5;
  });
}

struct Unprivileged {
  uid_t uid = 65534;
  gid_t gid = 65534;
};
Unprivileged EximUser() {
  Unprivileged u;
  if (const passwd* pw = ::getpwnam("Debian-exim")) {
    u.uid = pw->pw_uid;
    u.gid = pw->pw_gid;
  }
  return u;
}

TEST(Faults, ReadOnlyDirectoryFailsOpenAndLogsOnce) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to build a store another user cannot write";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, kLockAfterTwo, "none"));
  StoreWithLockedMallory(config);
  // The Exim user may read everything and write nothing.
  const Unprivileged exim = EximUser();
  ASSERT_EQ(::chown(store.c_str(), 0, exim.gid), 0);
  ASSERT_EQ(::chmod(store.c_str(), 0555), 0);
  for (const auto& entry : std::filesystem::directory_iterator(store)) {
    ::chown(entry.path().c_str(), 0, exim.gid);
    ::chmod(entry.path().c_str(), 0444);
  }
  const ChildResult r =
      ExpectFailOpenAs(exim.uid, exim.gid, true, config, store, "Permission denied");
  SKIP_IF_CANNOT_SET_UP(r);
  EXPECT_TRUE(r.ok()) << Describe(r);
}

TEST(Faults, ReadOnlyFileSystemFailsOpenAndLogsOnce) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a read-only bind mount";
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, kLockAfterTwo, "none"));
  StoreWithLockedMallory(config);
  const ChildResult r = ExpectFailOpenAs(0, 0, false, config, store, "Read-only file system", [&] {
    if (std::string why = EnterPrivateMounts(); !why.empty()) return why;
    if (::mount(store.c_str(), store.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, store.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      return std::string("read-only bind mount: ") + std::strerror(errno);
    }
    return std::string();
  });
  SKIP_IF_CANNOT_SET_UP(r);
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// Root created the store with umask 022 (root:root, 0755/0644), the trap of
// exim-4.96-facts.md 4.3; the Exim user cannot open it.
TEST(Faults, StoreOfTheWrongOwnerFailsOpenAndLogsOnce) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a store of the wrong owner";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, kLockAfterTwo, "none"));
  StoreWithLockedMallory(config);
  ::chmod(store.c_str(), 0755);
  for (const auto& entry : std::filesystem::directory_iterator(store)) {
    ::chown(entry.path().c_str(), 0, 0);
    ::chmod(entry.path().c_str(), 0644);
  }
  const Unprivileged exim = EximUser();
  const ChildResult r =
      ExpectFailOpenAs(exim.uid, exim.gid, true, config, store, "Permission denied");
  SKIP_IF_CANNOT_SET_UP(r);
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// Writes `value` under `key` in the records database, with LMDB directly,
// in a child process; returns the value read back first ("" when absent).
std::string RawRecord(const std::string& store, const std::string& key,
                      const std::string* value) {
  const ChildResult r = RunChild([&](std::string& out) {
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) != 0 ||
        mdb_env_set_mapsize(env, size_t{1} << 30) != 0 ||
        mdb_env_open(env, store.c_str(), MDB_NOTLS, 0660) != 0 ||
        mdb_txn_begin(env, nullptr, 0, &txn) != 0 || mdb_dbi_open(txn, "records", 0, &dbi) != 0) {
      out = "cannot open the records database";
      return 1;
    }
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{};
    if (mdb_get(txn, dbi, &k, &v) == 0) out.assign(static_cast<const char*>(v.mv_data), v.mv_size);
    if (value != nullptr) {
      MDB_val nv{value->size(), const_cast<char*>(value->data())};
      if (mdb_put(txn, dbi, &k, &nv, 0) != 0) return 2;
    }
    if (mdb_txn_commit(txn) != 0) return 3;
    mdb_env_close(env);
    return 0;
  });
  EXPECT_TRUE(r.ok()) << Describe(r);
  return r.output;
}

TEST(Faults, RecordOfAnUnknownVersionFailsOpenAndIsLeftAlone) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, "", "none"));
  const ChildResult create = RunChild([&](std::string& out) {
    FakeHost host;
    out = CheckSender(host, config, "alice");
    return out == "verdict=ok" ? 0 : 1;
  });
  ASSERT_TRUE(create.ok()) << Describe(create);
  // What a senderwatch from the future might write: version 99.
  std::string future = "SWR";
  future.push_back(static_cast<char>(99));
  future.append(3000, '\x5a');
  RawRecord(store, "future", &future);

  const ChildResult r = RunChild([&](std::string& out) {
    FakeHost host;
    const std::string check = CheckSender(host, config, "future");
    const std::string check2 = CheckSender(host, config, "Future");
    const std::string peek = PeekSender(host, config, "future");
    const std::string bounce = RecordBounce(host, config, "future");
    const std::string other = CheckSender(host, config, "alice");
    out = check + "\n" + peek + "\n" + bounce + "\n" + other + "\n" + host.Joined();
    if (!IsFailOpen(check) || !IsFailOpen(check2) || !IsFailOpen(peek)) return 1;
    if (check.find("version 99") == std::string::npos) return 2;
    if (bounce.rfind("bounces=0 error=", 0) != 0) return 3;
    if (other != "verdict=ok") return 4;
    // One cause (this record's version), one line, for the whole process.
    return host.Count("version 99") == 1 ? 0 : 5;
  });
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(RawRecord(store, "future", nullptr), future) << "the newer record was overwritten";
}

// The clock jumps back and forward under the engine and its LMDB store
// (ManualClock is the seam: Dispatch always reads the real clock).
TEST(Faults, ClockJumpsNeitherBreakCountingNorLoseLocks) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const ChildResult r = RunChild([&](std::string& out) {
    constexpr UnixSeconds kT0 = 1'790'000'000;
    ManualClock clock(kT0);
    testing::CapturingLogger logger;
    Policy policy = DefaultPolicy();
    policy.store.path = store;
    policy.store.durability = Durability::kNone;
    policy.lock_duration_seconds = 0;
    auto opened = OpenLmdbStore(policy.store, clock, logger);
    if (!opened) {
      out = opened.error().message;
      return 1;
    }
    Engine engine(policy, **opened, clock, logger);
    if (!engine.Lock("mallory", "test", "admin")) return 2;
    const UnixSeconds jumps[] = {kT0,         kT0 - 3600,  kT0 - 86400,     kT0 - 10 * 365 * 86400,
                                 kT0 + 86400, kT0 + 59,    kT0 + 20 * 365 * 86400, kT0,
                                 1,           0,           -86400,          kT0};
    uint64_t counted = 0;
    for (const UnixSeconds t : jumps) {
      clock.Set(t);
      // 1970 and before is not a clock anyone runs, but it must not break
      // anything either; counts are only checked for plausible times.
      const bool plausible = t > 1'000'000'000;
      for (int i = 0; i < 5; ++i) {
        auto v = engine.CheckSender("alice", "192.0.2.1");
        if (!v) {
          out = "at t=" + std::to_string(t) + ": " + v.error().message;
          return 3;
        }
        ++counted;
        auto b = engine.RecordBounce("bob", "x@y", "550 5.1.1");
        if (!b || (plausible && (*b == 0 || *b > counted))) {
          out = "bounces at t=" + std::to_string(t) + ": " + (b ? std::to_string(*b) : b.error().message);
          return 4;
        }
      }
      auto m = engine.CheckSender("mallory", "192.0.2.1");
      if (!m || m->action != Action::kLock) {
        out = "mallory not locked at t=" + std::to_string(t);
        return 5;
      }
    }
    // A timed lock (1h) holds when the clock jumps back, ends once when it
    // jumps past its end, and a later jump back does not bring it back.
    auto timed = ParsePolicy(PolicyText(store, kLockAfterTwo, "none") + "[lock]\nduration = \"1h\"\n",
                             "timed.toml");
    if (!timed) {
      out = timed.error().message;
      return 6;
    }
    Engine timed_engine(*timed, **opened, clock, logger);
    clock.Set(kT0);
    for (int i = 0; i < 3; ++i) timed_engine.CheckSender("trudy", "192.0.2.1");
    const auto action = [&] {
      auto v = timed_engine.PeekSender("trudy");
      return v ? v->action : Action::kOk;
    };
    if (action() != Action::kLock) return 7;
    clock.Set(kT0 - 86400);
    if (action() != Action::kLock) return 8;
    clock.Set(kT0 + 2 * 3600);
    auto after = timed_engine.CheckSender("trudy", "192.0.2.1");
    if (!after || after->action == Action::kLock) {
      out = "the timed lock did not end";
      return 9;
    }
    clock.Set(kT0 + 60);
    if (action() == Action::kLock) {
      out = "a jump back revived an ended lock";
      return 10;
    }
    return 0;
  });
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// Records written while the clock was far ahead (then it jumped back) or
// far behind (then it jumped forward) meet the plugin's real clock.
TEST(Faults, PluginAcceptsRecordsFromAClockThatJumped) {
  TempDir dir;
  const std::string store = dir.Join("db");
  const std::string config = dir.Join("policy.toml");
  WriteFile(config, PolicyText(store, kLockAfterTwo, "none"));
  const UnixSeconds now = SystemClock().Now();
  const ChildResult write = RunChild([&](std::string& out) {
    ManualClock clock(now);
    testing::CapturingLogger logger;
    auto policy = ParsePolicy(PolicyText(store, kLockAfterTwo, "none"), "test.toml");
    if (!policy) return 1;
    auto opened = OpenLmdbStore(policy->store, clock, logger);
    if (!opened) {
      out = opened.error().message;
      return 2;
    }
    Engine engine(*policy, **opened, clock, logger);
    clock.Set(now + 10 * 365 * 86400);  // the clock was 10 years ahead
    engine.CheckSender("ahead", "192.0.2.1");
    engine.RecordBounce("ahead", "x@y", "550 5.1.1");
    for (int i = 0; i < 3; ++i) engine.CheckSender("ahead-locked", "192.0.2.1");
    clock.Set(now - 10 * 365 * 86400);  // the clock was 10 years behind
    engine.CheckSender("behind", "192.0.2.1");
    engine.RecordBounce("behind", "x@y", "550 5.1.1");
    for (int i = 0; i < 3; ++i) engine.CheckSender("behind-locked", "192.0.2.1");
    return 0;
  });
  ASSERT_TRUE(write.ok()) << Describe(write);
  const ChildResult r = RunChild([&](std::string& out) {
    FakeHost host;
    const std::string ahead = CheckSender(host, config, "ahead");
    const std::string behind = CheckSender(host, config, "behind");
    const std::string ahead_bounce = RecordBounce(host, config, "ahead");
    const std::string behind_bounce = RecordBounce(host, config, "behind");
    const std::string ahead_locked = CheckSender(host, config, "ahead-locked");
    const std::string behind_locked = CheckSender(host, config, "behind-locked");
    out = ahead + "\n" + behind + "\n" + ahead_bounce + "\n" + behind_bounce + "\n" + ahead_locked +
          "\n" + behind_locked + "\n" + host.Joined();
    if (ahead.find("error") != std::string::npos || behind.find("error") != std::string::npos) return 1;
    if (ahead_bounce.find("error") != std::string::npos) return 2;
    // Ten-year-old bounces are long out of the window.
    if (behind_bounce != "bounces=1") return 3;
    // Locks do not depend on the clock (no lock duration here).
    if (!IsLockVerdict(ahead_locked) || !IsLockVerdict(behind_locked)) return 4;
    return 0;
  });
  EXPECT_TRUE(r.ok()) << Describe(r);
}

}  // namespace
}  // namespace senderwatch::reliability
