// Attacks on the store, replayed (issue 9, items 3, 4 and 6): a damaged or
// newer record must not release a lock; root must neither follow a link nor
// create a file in the Exim user's store directory; a FIFO planted as the
// lock journal must not hang a writer. Each test failed before its fix.
//
// Tests that switch users or plant root's files need root (CI runs as root)
// and skip otherwise. A test that could hang runs in a child with an alarm.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/commands.h"
#include "senderwatch/engine.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"
#include "store/lmdb_env.h"
#include "testutil/testutil.h"

namespace senderwatch {
namespace {

namespace fs = std::filesystem;
using testing::CapturingLogger;
using testing::ReadText;
using testing::RunInChild;
using testing::TempDir;
using testing::TempStoreSettings;

constexpr UnixSeconds kNow = 1764237600;  // 2025-11-27T10:00:00Z
constexpr uid_t kOwnerUid = 65534;        // stands in for Debian-exim
constexpr gid_t kOwnerGid = 65534;



// Reads or replaces one value with LMDB directly, as another program would.
// Only while no Store of the directory is open in this process.
std::optional<std::string> RawGet(const std::string& path, const char* db, std::string_view key) {
  auto env = lmdb::Env::Create();
  if (!env || !env->SetMaxDbs(8) || !env->Open(path, MDB_NOTLS, 0660)) return std::nullopt;
  auto txn = lmdb::Txn::Begin(*env, MDB_RDONLY);
  if (!txn) return std::nullopt;
  auto dbi = txn->OpenDbi(db, 0);
  if (!dbi || !*dbi) return std::nullopt;
  auto value = txn->Get(**dbi, key);
  if (!value || !*value) return std::nullopt;
  return std::string(**value);
}

void RawPut(const std::string& path, const char* db, std::string_view key,
            std::string_view value) {
  auto env = lmdb::Env::Create();
  ASSERT_TRUE(env);
  ASSERT_TRUE(env->SetMaxDbs(8));
  ASSERT_TRUE(env->Open(path, MDB_NOTLS, 0660));
  auto txn = lmdb::Txn::Begin(*env, 0);
  ASSERT_TRUE(txn);
  auto dbi = txn->OpenDbi(db, MDB_CREATE);
  ASSERT_TRUE(dbi && *dbi);
  ASSERT_TRUE(txn->Put(**dbi, key, value));
  ASSERT_TRUE(txn->Commit());
}

// A trailing byte: "trailing bytes", a damaged record.
std::string Damaged(std::string record) { return record + '\0'; }
// Version 3: a record of a newer senderwatch.
std::string Newer(std::string record) {
  record[3] = 3;
  return record;
}

// Locks `account` through the engine (which writes the lock journal), then
// replaces its record with `damage(record)`. Returns the stored bytes.
std::string LockThenDamage(const StoreSettings& settings, const Clock& clock,
                           std::string_view account,
                           const std::function<std::string(std::string)>& damage) {
  {
    NullLogger quiet;
    auto store = OpenLmdbStore(settings, clock, quiet);
    EXPECT_TRUE(store) << store.error().message;
    if (!store) return {};
    const Policy policy = DefaultPolicy();
    Engine engine(policy, **store, clock, quiet);
    auto locked = engine.Lock(account, "phished, ticket 4711", "jane");
    EXPECT_TRUE(locked) << locked.error().message;
  }
  auto raw = RawGet(settings.path, "records", account);
  EXPECT_TRUE(raw.has_value());
  if (!raw) return {};
  const std::string bytes = damage(*raw);
  RawPut(settings.path, "records", account, bytes);
  return bytes;
}


// The tests start from an empty directory, a fake clock at kNow and
// settings_ naming a store in it; those that need several stores make their
// own.
class StoreAttacks : public ::testing::Test {
 protected:
  TempDir dir_;
  ManualClock clock_{kNow};
  StoreSettings settings_ = TempStoreSettings(dir_);
};

// ---- item 3: an undecodable record never releases a lock ----------------------

using Damage = std::function<std::string(std::string)>;
const std::vector<std::pair<std::string, Damage>> kDamages = {{"trailing byte", Damaged},
                                                              {"version 3", Newer}};

TEST_F(StoreAttacks, UndecodableRecordOfALockedAccountIsStillLocked) {
  for (const auto& [name, damage] : kDamages) {
    for (const OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
      TempDir dir;
      ManualClock clock(kNow);
      const StoreSettings settings = TempStoreSettings(dir);
      LockThenDamage(settings, clock, "alice", damage);
      CapturingLogger logger;
      auto store = OpenLmdbStore(settings, clock, logger, mode);
      ASSERT_TRUE(store) << store.error().message;
      auto record = (*store)->Get("alice");
      ASSERT_TRUE(record) << name << ": " << record.error().message;
      ASSERT_TRUE(record->has_value()) << name;
      EXPECT_TRUE((*record)->IsLocked(kNow)) << name;
      EXPECT_EQ((*record)->lock.by, "jane") << name;
      EXPECT_EQ((*record)->lock.reason, "phished, ticket 4711") << name;
    }
  }
}

TEST_F(StoreAttacks, DamagedRecordOfAnUnlockedAccountIsAnErrorNotAbsent) {
  LockThenDamage(settings_, clock_, "alice", Damaged);
  {
    NullLogger quiet;
    auto store = OpenLmdbStore(settings_, clock_, quiet);
    ASSERT_TRUE(store);
    // The journal no longer lists alice (released), the record stays damaged.
    ASSERT_TRUE((*store)->Prune(kNow));  // sets it aside, restores the lock
    const Policy policy = DefaultPolicy();
    Engine engine(policy, **store, clock_, quiet);
    ASSERT_TRUE(engine.Unlock("alice", "password changed", "jane", false));
  }
  auto raw = RawGet(settings_.path, "records", "alice");
  ASSERT_TRUE(raw.has_value());
  RawPut(settings_.path, "records", "alice", Damaged(*raw));
  NullLogger quiet;
  auto store = OpenLmdbStore(settings_, clock_, quiet);
  ASSERT_TRUE(store);
  auto record = (*store)->Get("alice");
  ASSERT_FALSE(record);
  EXPECT_EQ(record.error().kind, ErrorKind::kStoreCorrupt);
}

TEST_F(StoreAttacks, CheckSenderOnADamagedLockedRecordAnswersLockWithAnError) {
  for (const auto& [name, damage] : kDamages) {
    TempDir dir;
    ManualClock clock(kNow);
    const StoreSettings settings = TempStoreSettings(dir);
    LockThenDamage(settings, clock, "alice", damage);
    clock.Advance(60);
    CapturingLogger logger;
    auto store = OpenLmdbStore(settings, clock, logger);
    ASSERT_TRUE(store) << store.error().message;
    const Policy policy = DefaultPolicy();
    Engine engine(policy, **store, clock, logger);
    auto verdict = engine.CheckSender("alice", "192.0.2.1");
    ASSERT_TRUE(verdict) << name << ": " << verdict.error().message;
    EXPECT_EQ(verdict->action, Action::kLock) << name << ": " << FormatVerdict(*verdict);
    EXPECT_NE(verdict->error.find("record of alice"), std::string::npos)
        << name << ": " << FormatVerdict(*verdict);
    auto peek = engine.PeekSender("alice");
    ASSERT_TRUE(peek) << name << ": " << peek.error().message;
    EXPECT_EQ(peek->action, Action::kLock) << name;
  }
}

TEST_F(StoreAttacks, PruneKeepsAccountsTheJournalHoldsLockedAndSetsDamageAside) {
  const std::string damaged = LockThenDamage(settings_, clock_, "alice", Damaged);
  const std::string newer = LockThenDamage(settings_, clock_, "carol", Newer);
  // bob's record lost its lock (MDB_NOSYNC and a crash) but the journal,
  // synced at once, still lists it.
  LockThenDamage(settings_, clock_, "bob", [](std::string record) {
    auto decoded = DecodeRecord(record, "bob");
    EXPECT_TRUE(decoded);
    decoded->lock = LockState{};
    return EncodeRecord(*decoded);
  });

  // Long after the retention: every one of them is stale.
  clock_.Advance(settings_.retention_seconds + 86400);
  CapturingLogger logger;
  {
    auto store = OpenLmdbStore(settings_, clock_, logger);
    ASSERT_TRUE(store) << store.error().message;
    auto pruned = (*store)->Prune(clock_.Now());
    ASSERT_TRUE(pruned) << pruned.error().message;
    EXPECT_EQ(pruned->removed, 0u);
    EXPECT_EQ(pruned->set_aside, 1u);
    for (const char* account : {"alice", "bob", "carol"}) {
      auto record = (*store)->Get(account);
      ASSERT_TRUE(record) << account << ": " << record.error().message;
      ASSERT_TRUE(record->has_value()) << account << " was pruned";
      if (std::string_view(account) != "bob") {
        EXPECT_TRUE((*record)->IsLocked(clock_.Now())) << account;
      }
    }
    auto undecodable = (*store)->Undecodable();
    ASSERT_TRUE(undecodable) << undecodable.error().message;
    ASSERT_EQ(undecodable->size(), 2u);
    EXPECT_EQ((*undecodable)[0].account, "carol");  // in place
    EXPECT_FALSE((*undecodable)[0].set_aside);
    EXPECT_TRUE((*undecodable)[0].journal_locked);
    EXPECT_EQ((*undecodable)[1].account, "alice");  // set aside
    EXPECT_TRUE((*undecodable)[1].set_aside);
    EXPECT_TRUE((*undecodable)[1].journal_locked);
    auto stats = (*store)->Stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->undecodable, 1u);
    EXPECT_EQ(stats->set_aside, 1u);
    EXPECT_EQ(stats->locked, 2u);  // alice (restored) and carol (journal)
  }
  EXPECT_TRUE(logger.Contains("record of alice cannot be decoded")) << "not logged";
  // The damaged bytes are kept, the newer record untouched.
  const auto aside = RawGet(settings_.path, "aside", "alice");
  ASSERT_TRUE(aside.has_value());
  EXPECT_EQ(aside->substr(12), damaged);
  EXPECT_EQ(RawGet(settings_.path, "records", "carol"), newer);
}

TEST_F(StoreAttacks, CliDumpShowStatsAndGcMentionUndecodableRecords) {
  const std::string policy = dir_.Join("senderwatch.toml");
  std::ofstream(policy) << FormatPolicy(DefaultPolicy());
  setenv("NO_COLOR", "1", 1);
  auto run = [&](std::vector<std::string> args, std::string& out) {
    args.insert(args.begin(), {"--db", dir_.Join("store"), "--config", policy});
    ::testing::internal::CaptureStdout();
    const int code = cli::RunCli(args);
    out = ::testing::internal::GetCapturedStdout();
    return code;
  };
  std::string out;
  ASSERT_EQ(run({"lock", "alice", "--reason", "phished"}, out), cli::kExitOk);
  {
    auto raw = RawGet(dir_.Join("store"), "records", "alice");
    ASSERT_TRUE(raw.has_value());
    RawPut(dir_.Join("store"), "records", "alice", Damaged(*raw));
  }
  ASSERT_EQ(run({"show", "alice"}, out), cli::kExitOk);
  EXPECT_NE(out.find("LOCKED"), std::string::npos) << out;
  EXPECT_NE(out.find("Undecodable data"), std::string::npos) << out;
  ASSERT_EQ(run({"dump"}, out), cli::kExitOk);
  EXPECT_NE(out.find("alice: in place"), std::string::npos) << out;
  EXPECT_NE(out.find("LOCKED in the lock journal"), std::string::npos) << out;
  ASSERT_EQ(run({"stats", "--json"}, out), cli::kExitOk);
  EXPECT_NE(out.find(R"("undecodable": 1)"), std::string::npos) << out;
  ASSERT_EQ(run({"gc"}, out), cli::kExitOk);
  EXPECT_NE(out.find("set aside 1 damaged record"), std::string::npos) << out;
  ASSERT_EQ(run({"dump", "--json"}, out), cli::kExitOk);
  EXPECT_NE(out.find(R"("set_aside": true)"), std::string::npos) << out;
  ASSERT_EQ(run({"show", "alice", "--json"}, out), cli::kExitOk);
  EXPECT_NE(out.find(R"("locked": true)"), std::string::npos) << out;
}

// ---- item 4: root neither follows links nor creates files in the store ---------

// A store directory owned by the stand-in Exim user, with a store in it that
// root created (as that user). Skips without root.
#define NEED_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root"

void MakeOwnedStore(const StoreSettings& settings, const Clock& clock) {
  ASSERT_EQ(::mkdir(settings.path.c_str(), 0770), 0);
  ASSERT_EQ(::chown(settings.path.c_str(), kOwnerUid, kOwnerGid), 0);
  ASSERT_EQ(::chmod(settings.path.c_str(), 0770), 0);
  NullLogger quiet;
  auto store = OpenLmdbStore(settings, clock, quiet);
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->Update("alice", [](AccountRecord& r) {
    r.last_seen = kNow;
    r.Count(Counter::kRecipients, kNow);
    return WriteMode::kSoft;
  }));
}

struct FileState {
  std::string text;
  struct stat st {};
};
FileState StateOf(const std::string& path) {
  FileState state;
  EXPECT_EQ(::lstat(path.c_str(), &state.st), 0) << path;
  state.text = ReadText(path);
  return state;
}

TEST_F(StoreAttacks, RootReadOnlyOpenNeverWritesThroughALockFileSymlink) {
  NEED_ROOT();
  MakeOwnedStore(settings_, clock_);
  // Root's file, and the Exim user's link to it in place of lock.mdb.
  const std::string victim = dir_.Join("root-secret");
  std::ofstream(victim) << "root's secret, 0600\n";
  ASSERT_EQ(::chmod(victim.c_str(), 0600), 0);
  const FileState before = StateOf(victim);
  ASSERT_EQ(::unlink((settings_.path + "/lock.mdb").c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (settings_.path + "/lock.mdb").c_str()), 0);

  for (const OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    CapturingLogger logger;
    auto store = OpenLmdbStore(settings_, clock_, logger, mode);
    EXPECT_FALSE(store) << "opened a store whose lock.mdb is a symlink";
    if (!store) {
      EXPECT_NE(store.error().message.find("lock.mdb"), std::string::npos)
          << store.error().message;
    }
  }
  const FileState after = StateOf(victim);
  EXPECT_TRUE(after.text == before.text) << "root's file was overwritten through the link";
  EXPECT_EQ(after.st.st_size, before.st.st_size);
  EXPECT_EQ(after.st.st_uid, 0u);
  EXPECT_EQ(after.st.st_mode & 07777, 0600u);
}

TEST_F(StoreAttacks, RootReadOnlyShowCreatesNoRootOwnedLockFile) {
  NEED_ROOT();
  MakeOwnedStore(settings_, clock_);
  const std::string lock_path = settings_.path + "/lock.mdb";
  ASSERT_EQ(::unlink(lock_path.c_str()), 0);
  const mode_t old_umask = ::umask(022);  // an admin's shell
  {
    CapturingLogger logger;
    auto store = OpenLmdbStore(settings_, clock_, logger, OpenMode::kReadOnly);
    ASSERT_TRUE(store) << store.error().message;
    auto record = (*store)->Get("alice");
    ASSERT_TRUE(record && record->has_value());
  }
  EXPECT_EQ(::umask(old_umask), 0022u) << "the umask was not restored";
  struct stat st {};
  if (::lstat(lock_path.c_str(), &st) == 0) {
    EXPECT_EQ(st.st_uid, kOwnerUid) << "lock.mdb created by root for root";
    EXPECT_EQ(st.st_gid, kOwnerGid);
    EXPECT_EQ(st.st_mode & 07777, 0660u);
  }
  EXPECT_EQ(::geteuid(), 0u) << "root was not restored";
  EXPECT_EQ(::getegid(), 0u);
  // And the Exim user can use the store root just read.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  std::string message;
  const int code = RunInChild([&](std::string& out) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kOwnerGid, kOwnerGid, kOwnerGid) != 0 ||
        ::setresuid(kOwnerUid, kOwnerUid, kOwnerUid) != 0) {
      return 2;
    }
    NullLogger quiet;
    auto store = OpenLmdbStore(settings_, clock_, quiet);
    if (!store) {
      out = store.error().message;
      return 1;
    }
    return 0;
  }, &message, 30);
  ASSERT_NE(code, 2) << "cannot switch users";
  EXPECT_EQ(code, 0) << message;
}

TEST_F(StoreAttacks, RootDoesNotFollowAStorePathThatIsASymlink) {
  NEED_ROOT();
  // The Exim user replaced the store directory by a link to a directory of
  // root's (here: an empty one root must not fill).
  const std::string target = dir_.Join("roots-directory");
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(target.c_str(), settings_.path.c_str()), 0);
  for (const OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    CapturingLogger logger;
    auto store = OpenLmdbStore(settings_, clock_, logger, mode);
    EXPECT_FALSE(store) << "root opened a store through a symlink";
  }
  EXPECT_TRUE(fs::is_empty(target)) << "root created files through the link";
}

TEST_F(StoreAttacks, RootRefusesARootOwnedDirectoryAnotherGroupMayWrite) {
  NEED_ROOT();
  ASSERT_EQ(::mkdir(settings_.path.c_str(), 0770), 0);
  ASSERT_EQ(::chown(settings_.path.c_str(), 0, kOwnerGid), 0);
  ASSERT_EQ(::chmod(settings_.path.c_str(), 0770), 0);
  CapturingLogger logger;
  auto store = OpenLmdbStore(settings_, clock_, logger);
  ASSERT_FALSE(store) << "root used a directory the Exim group can plant links in";
  EXPECT_NE(store.error().message.find("others may write"), std::string::npos)
      << store.error().message;
  EXPECT_TRUE(fs::is_empty(settings_.path));
}

TEST_F(StoreAttacks, RootWritesTheJournalAndNewFilesAsTheDirectoryOwner) {
  NEED_ROOT();
  MakeOwnedStore(settings_, clock_);
  {
    NullLogger quiet;
    auto store = OpenLmdbStore(settings_, clock_, quiet);
    ASSERT_TRUE(store) << store.error().message;
    const Policy policy = DefaultPolicy();
    Engine engine(policy, **store, clock_, quiet);
    ASSERT_TRUE(engine.Lock("alice", "phished", "jane"));
  }
  for (const auto& entry : fs::directory_iterator(settings_.path)) {
    struct stat st {};
    ASSERT_EQ(::lstat(entry.path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << entry.path();
    EXPECT_EQ(st.st_uid, kOwnerUid) << entry.path();
    EXPECT_EQ(st.st_gid, kOwnerGid) << entry.path();
  }
  EXPECT_EQ(::geteuid(), 0u);
}

// ---- item 6: a FIFO as the lock journal --------------------------------------------

TEST_F(StoreAttacks, FifoNamedLocksJournalHangsNoWriter) {
  ASSERT_EQ(::mkdir(settings_.path.c_str(), 0770), 0);
  ASSERT_EQ(::mkfifo((settings_.path + "/locks.journal").c_str(), 0660), 0);
  std::string message;
  const int code = RunInChild([&](std::string& out) {
    CapturingLogger logger;
    auto store = OpenLmdbStore(settings_, clock_, logger);
    if (!store) {
      out = "open: " + store.error().message;
      return 1;
    }
    const Policy policy = DefaultPolicy();
    Engine engine(policy, **store, clock_, logger);
    auto locked = engine.Lock("alice", "phished", "jane");
    if (!locked) {
      out = "lock: " + locked.error().message;
      return 1;
    }
    auto record = (*store)->Get("alice");
    if (!record || !record->has_value() || !(*record)->IsLocked(kNow)) {
      out = "the lock was not stored";
      return 1;
    }
    if (!logger.Contains("lock journal")) {
      out = "the unusable journal was not logged";
      return 1;
    }
    auto pruned = (*store)->Prune(kNow);  // refuses: it cannot tell the locks
    if (pruned) {
      out = "pruned without a readable journal";
      return 1;
    }
    out = pruned.error().message;
    return 0;
  }, &message, 20);
  ASSERT_NE(code, -1) << "a writer hung on the FIFO named locks.journal";
  EXPECT_EQ(code, 0) << message;
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
}

}  // namespace
}  // namespace senderwatch
