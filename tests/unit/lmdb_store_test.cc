// The LMDB store under the conditions Exim creates: many short-lived and
// forked processes, root and non-root users, damaged files and a full map.
// Tests that need another process fork; a child never returns into
// GoogleTest: it reports through its exit code or a pipe and _exit()s.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/coding.h"
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

WriteMode CountRecipient(AccountRecord& record) {
  record.last_seen = kNow;
  if (record.first_seen == 0) record.first_seen = kNow;
  record.Count(Counter::kRecipients, kNow);
  return WriteMode::kSoft;
}

WriteMode LockIt(AccountRecord& record) {
  record.last_seen = kNow;
  record.lock.locked = true;
  record.lock.since = kNow;
  record.lock.rule = "bounce-ratio";
  record.lock.metric = Metric::kBounceRatio;
  record.lock.value = 0.45;
  record.lock.limit = 0.3;
  record.lock.window_seconds = 3600;
  record.lock.reason = "54 of 120 recipients bounced";
  record.lock.by = "senderwatch";
  record.lock_count += 1;
  return WriteMode::kDurable;
}

WriteMode Unlock(AccountRecord& record) {
  record.lock = LockState{};
  record.last_release = {kNow, "admin", "password changed"};
  return WriteMode::kDurable;
}

uint64_t Recipients(const AccountRecord& record) {
  return CounterInWindow(record, Counter::kRecipients, 3600, kNow);
}

std::unique_ptr<Store> MustOpen(const StoreSettings& settings, const Clock& clock,
                                Logger& logger, OpenMode mode = OpenMode::kReadWrite) {
  auto store = OpenLmdbStore(settings, clock, logger, mode);
  EXPECT_TRUE(store) << store.error().message;
  return store ? std::move(*store) : nullptr;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}



// Raw access to the environment, as another program would see it. Only
// while no Store of the same directory is open in this process.
class RawEnv {
 public:
  explicit RawEnv(const std::string& path) {
    auto env = lmdb::Env::Create();
    EXPECT_TRUE(env);
    env_ = std::move(*env);
    EXPECT_TRUE(env_.SetMaxDbs(4));
    auto opened = env_.Open(path, MDB_NOTLS, 0660);
    EXPECT_TRUE(opened) << opened.error().message;
  }
  void Put(const char* db, std::string_view key, std::string_view value) {
    auto txn = lmdb::Txn::Begin(env_, 0);
    ASSERT_TRUE(txn);
    auto dbi = txn->OpenDbi(db, MDB_CREATE);
    ASSERT_TRUE(dbi && *dbi);
    ASSERT_TRUE(txn->Put(**dbi, key, value));
    ASSERT_TRUE(txn->Commit());
  }
  std::optional<std::string> Get(const char* db, std::string_view key) {
    auto txn = lmdb::Txn::Begin(env_, MDB_RDONLY);
    EXPECT_TRUE(txn);
    if (!txn) return std::nullopt;
    auto dbi = txn->OpenDbi(db, 0);
    if (!dbi || !*dbi) return std::nullopt;
    auto value = txn->Get(**dbi, key);
    if (!value || !*value) return std::nullopt;
    return std::string(**value);
  }

 private:
  lmdb::Env env_;
};

// Every LmdbStore test starts with an empty temporary directory, a fake
// clock at kNow and a logger that captures; settings_ names a store in the
// directory (durability none), and a test may change it before opening.
class LmdbStore : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(OpenMode mode = OpenMode::kReadWrite) {
    return MustOpen(settings_, clock_, logger_, mode);
  }

  TempDir dir_;
  ManualClock clock_{kNow};
  CapturingLogger logger_;
  StoreSettings settings_ = TempStoreSettings(dir_);
};

// ---- basics -------------------------------------------------------------------

TEST_F(LmdbStore, RoundTripsEveryField) {
  auto store = Open();
  ASSERT_TRUE(store);
  auto network = ParseClientNetwork("192.0.2.77");
  ASSERT_TRUE(network);
  auto written = store->Update("alice@example.org", [&](AccountRecord& r) {
    CountRecipient(r);
    r.Count(Counter::kBounces, kNow, 3);
    r.SeeNetwork(*network, kNow);
    r.evidence_after = kNow - 10;
    return LockIt(r);
  });
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(store->Location(), dir_.Join("store"));

  const auto read = store->Get("alice@example.org");
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_TRUE(read->has_value());
  const AccountRecord& r = **read;
  EXPECT_EQ(r.account, "alice@example.org");
  EXPECT_EQ(r.first_seen, kNow);
  EXPECT_EQ(Recipients(r), 1u);
  EXPECT_EQ(CounterInWindow(r, Counter::kBounces, 3600, kNow), 3u);
  EXPECT_EQ(r.network_count, 1);
  EXPECT_EQ(r.networks[0].network, *network);
  EXPECT_TRUE(r.lock.locked);
  EXPECT_EQ(r.lock.rule, "bounce-ratio");
  EXPECT_EQ(r.lock.reason, "54 of 120 recipients bounced");
  EXPECT_EQ(r.lock_count, 1u);
  EXPECT_EQ(r.evidence_after, kNow - 10);
}

TEST_F(LmdbStore, KeepsExactCountsAcrossReopen) {
  for (const auto durability : {Durability::kAlways, Durability::kPeriodic, Durability::kNone}) {
    TempDir dir;
    ManualClock clock(kNow);
    CapturingLogger logger;
    for (int round = 1; round <= 3; ++round) {
      auto store = MustOpen(TempStoreSettings(dir, durability), clock, logger);
      ASSERT_TRUE(store);
      for (int i = 0; i < 30; ++i) ASSERT_TRUE(store->Update("alice", CountRecipient));
      const auto read = store->Get("alice");
      ASSERT_TRUE(read && read->has_value());
      EXPECT_EQ(Recipients(**read), static_cast<uint64_t>(30 * round));
    }
  }
}

TEST_F(LmdbStore, CreatesDirectoryParentAndFilesWithGroupModes) {
  settings_.path = dir_.Join("db/senderwatch");  // the parent is missing too
  const mode_t old_umask = ::umask(022);       // the CLI's usual umask
  auto store = OpenLmdbStore(settings_, clock_, logger_);
  ::umask(old_umask);
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->Update("alice", LockIt));  // writes the journal too
  EXPECT_EQ(ModeOf(dir_.Join("db")), 0770u);
  EXPECT_EQ(ModeOf(settings_.path), 0770u);
  EXPECT_EQ(ModeOf(settings_.path + "/data.mdb"), 0660u);
  EXPECT_EQ(ModeOf(settings_.path + "/lock.mdb"), 0660u);
  EXPECT_EQ(ModeOf(settings_.path + "/locks.journal"), 0660u);
}

TEST_F(LmdbStore, NonRootCreatorMakesGroupWritableFiles) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(settings_.path.c_str(), 0770), 0);
  ASSERT_EQ(::chown(settings_.path.c_str(), 65534, 65534), 0);
  std::string message;
  const int code = RunInChild(
      [&](std::string& out) {
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
          return 2;
        }
        ::umask(022);  // an admin's shell, not Exim's umask 000
        NullLogger quiet;
        auto store = OpenLmdbStore(settings_, clock_, quiet);
        if (!store) {
          out = store.error().message;
          return 1;
        }
        auto locked = (*store)->Update("alice", LockIt);
        if (!locked) out = locked.error().message;
        return locked ? 0 : 1;
      },
      &message);
  if (code == 2) GTEST_SKIP() << "cannot drop privileges here";
  ASSERT_EQ(code, 0) << message;
  for (const char* name : {"/data.mdb", "/lock.mdb", "/locks.journal", "/rebuild.lock"}) {
    EXPECT_EQ(ModeOf(settings_.path + name), 0660u) << name;
  }
}

TEST_F(LmdbStore, RootGivesItsFilesToTheDirectoryOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_EQ(::mkdir(settings_.path.c_str(), 0770), 0);
  const uid_t exim_uid = 65534;  // stands in for Debian-exim
  const gid_t exim_gid = 65534;
  ASSERT_EQ(::chown(settings_.path.c_str(), exim_uid, exim_gid), 0);
  // Files left by an earlier root run with umask 022: root:root 0644.
  for (const char* name : {"/data.mdb", "/lock.mdb"}) {
    const int fd = ::open((settings_.path + name).c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::fchmod(fd, 0644);
    ::close(fd);
  }
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Update("alice", LockIt));
  }
  for (const char* name : {"/data.mdb", "/lock.mdb", "/locks.journal", "/rebuild.lock"}) {
    struct stat st {};
    ASSERT_EQ(::stat((settings_.path + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, exim_uid) << name;
    EXPECT_EQ(st.st_gid, exim_gid) << name;
    EXPECT_EQ(st.st_mode & 07777, 0660u) << name;
  }
  // And the Exim user can now use the store root touched.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  std::string message;
  const int code = RunInChild(
      [&](std::string& out) {
        if (::setresgid(exim_gid, exim_gid, exim_gid) != 0 ||
            ::setresuid(exim_uid, exim_uid, exim_uid) != 0) {
          return 2;
        }
        NullLogger quiet;
        auto store = OpenLmdbStore(settings_, clock_, quiet);
        if (!store) {
          out = store.error().message;
          return 1;
        }
        auto updated = (*store)->Update("alice", CountRecipient);
        if (!updated) out = updated.error().message;
        return updated ? 0 : 1;
      },
      &message);
  EXPECT_EQ(code, 0) << message;
}

TEST_F(LmdbStore, PermissionProblemNamesThePathAndTheFix) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  {
    // Created by root in a root-owned directory: unusable by anyone else.
    auto store = Open();
    ASSERT_TRUE(store);
  }
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  std::string message;
  const int code = RunInChild(
      [&](std::string& out) {
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
          return 2;
        }
        NullLogger quiet;
        auto store = OpenLmdbStore(settings_, clock_, quiet);
        if (store) return 0;
        out = store.error().message;
        return store.error().kind == ErrorKind::kStoreOpen ? 1 : 3;
      },
      &message);
  if (code == 2) GTEST_SKIP() << "cannot drop privileges here";
  ASSERT_EQ(code, 1) << message;
  EXPECT_NE(message.find("cannot open store " + settings_.path + ": "), std::string::npos)
      << message;
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
  EXPECT_NE(message.find("chown Debian-exim:Debian-exim, mode 0770/0660"), std::string::npos)
      << message;
}

TEST_F(LmdbStore, MissingStoreInReadOnlyModeNamesThePath) {
  auto store = OpenLmdbStore(settings_, clock_, logger_, OpenMode::kReadOnly);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kStoreOpen);
  EXPECT_NE(store.error().message.find(settings_.path), std::string::npos)
      << store.error().message;
  EXPECT_FALSE(fs::exists(settings_.path));  // read-only creates nothing
}

TEST_F(LmdbStore, DataFileThatIsADirectoryIsAnOpenError) {
  ASSERT_TRUE(fs::create_directories(settings_.path + "/data.mdb"));
  auto store = OpenLmdbStore(settings_, clock_, logger_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kStoreOpen);
  EXPECT_NE(store.error().message.find("cannot open store " + settings_.path),
            std::string::npos)
      << store.error().message;
  EXPECT_TRUE(fs::is_directory(settings_.path + "/data.mdb"));  // not "repaired"
}

TEST_F(LmdbStore, ReadOnlyStoreReadsAndRefusesWrites) {
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Update("alice", CountRecipient));
  }
  auto store = Open(OpenMode::kReadOnly);
  ASSERT_TRUE(store);
  const auto read = store->Get("alice");
  ASSERT_TRUE(read && read->has_value());
  EXPECT_EQ(Recipients(**read), 1u);
  const auto write = store->Update("alice", CountRecipient);
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_FALSE(store->Prune(kNow));
  EXPECT_TRUE(store->Stats());
}

TEST_F(LmdbStore, RefusesASecondEnvironmentInOneProcess) {
  auto first = Open();
  ASSERT_TRUE(first);
  auto second = OpenLmdbStore(settings_, clock_, logger_);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("already open in this process"), std::string::npos);
  first.reset();
  EXPECT_TRUE(OpenLmdbStore(settings_, clock_, logger_));  // fine once closed
}

// ---- durability ------------------------------------------------------------------

TEST_F(LmdbStore, PeriodicSyncTimeIsSharedThroughTheStore) {
  settings_.durability = Durability::kPeriodic;
  settings_.sync_interval_seconds = 30;
  auto last_sync = [&] {
    RawEnv raw(settings_.path);
    const auto value = raw.Get("meta", "last_sync");
    return value ? coding::DecodeInt64(*value).value_or(-2) : -1;
  };
  auto update_at = [&](UnixSeconds t, Store::Mutator mutate) {
    clock_.Set(t);
    auto store = Open();  // a short-lived process
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Update("alice", mutate));
  };
  update_at(kNow, CountRecipient);  // a new store syncs at creation
  EXPECT_EQ(last_sync(), kNow);
  update_at(kNow + 10, CountRecipient);
  EXPECT_EQ(last_sync(), kNow);  // within the interval: no sync
  update_at(kNow + 29, CountRecipient);
  EXPECT_EQ(last_sync(), kNow);
  update_at(kNow + 30, CountRecipient);
  EXPECT_EQ(last_sync(), kNow + 30);  // due: synced and recorded
  update_at(kNow + 31, LockIt);
  EXPECT_EQ(last_sync(), kNow + 31);  // a lock is always synced
}

TEST_F(LmdbStore, StoreFormatIsRecordedInMeta) {
  { ASSERT_TRUE(Open()); }
  RawEnv raw(settings_.path);
  EXPECT_EQ(raw.Get("meta", "format"), std::string("\x01\x00\x00\x00", 4));
  const auto created = raw.Get("meta", "created");
  ASSERT_TRUE(created);
  EXPECT_EQ(coding::DecodeInt64(*created), kNow);
}

TEST_F(LmdbStore, RefusesAStoreOfANewerFormat) {
  { ASSERT_TRUE(Open()); }
  { RawEnv(settings_.path).Put("meta", "format", std::string("\x02\x00\x00\x00", 4)); }
  auto store = OpenLmdbStore(settings_, clock_, logger_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kUnsupported);
  EXPECT_TRUE(fs::exists(settings_.path + "/data.mdb"));  // not set aside
}

// ---- the lock journal --------------------------------------------------------------

TEST_F(LmdbStore, JournalFollowsLockChangesOnly) {
  const std::string journal = settings_.path + "/locks.journal";
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Update("alice", CountRecipient));
  EXPECT_FALSE(fs::exists(journal));  // counters never touch it

  ASSERT_TRUE(store->Update("mallory", LockIt));
  EXPECT_NE(ReadText(journal).find("lock account=mallory since="), std::string::npos);
  struct stat before {};
  ASSERT_EQ(::stat(journal.c_str(), &before), 0);
  ASSERT_TRUE(store->Update("mallory", CountRecipient));  // locked, lock unchanged
  struct stat after {};
  ASSERT_EQ(::stat(journal.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // not rewritten

  ASSERT_TRUE(store->Update("mallory", Unlock));
  EXPECT_EQ(ReadText(journal).find("mallory"), std::string::npos);

  ASSERT_TRUE(store->Update("eve", LockIt));
  ASSERT_TRUE(store->Erase("eve"));
  EXPECT_EQ(ReadText(journal).find("eve"), std::string::npos);
}

// ---- corruption -------------------------------------------------------------------

void WriteRandomBytes(const std::string& path, size_t size) {
  std::mt19937 random(42);
  std::string bytes(size, '\0');
  for (auto& b : bytes) b = static_cast<char>(random());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

TEST_F(LmdbStore, KeepsLockAcrossRebuild) {
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Update("alice", CountRecipient));
    ASSERT_TRUE(store->Update("mallory", LockIt));
    ASSERT_TRUE(store->Update("bob", LockIt));
    ASSERT_TRUE(store->Update("bob", Unlock));
  }
  WriteRandomBytes(settings_.path + "/data.mdb", 64 * 1024);
  clock_.Set(kNow + 100);

  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(fs::exists(settings_.path + "/data.mdb.corrupt-" + std::to_string(kNow + 100)));
  const auto mallory = store->Get("mallory");
  ASSERT_TRUE(mallory && mallory->has_value());
  EXPECT_TRUE((*mallory)->lock.locked);
  EXPECT_EQ((*mallory)->lock.since, kNow);
  EXPECT_EQ((*mallory)->lock.rule, "bounce-ratio");
  EXPECT_EQ((*mallory)->lock.reason, "54 of 120 recipients bounced");
  EXPECT_EQ((*mallory)->lock_count, 1u);
  const auto alice = store->Get("alice");  // counters are soft state: gone
  ASSERT_TRUE(alice);
  EXPECT_FALSE(alice->has_value());
  const auto bob = store->Get("bob");  // released before: not restored
  ASSERT_TRUE(bob);
  EXPECT_FALSE(bob->has_value());

  ASSERT_FALSE(logger_.lines().empty());
  const auto& line = logger_.lines().back();
  EXPECT_EQ(line.level, LogLevel::kError);
  EXPECT_NE(line.text.find("store " + settings_.path + " was corrupt ("), std::string::npos)
      << line.text;
  EXPECT_NE(line.text.find("MDB_INVALID"), std::string::npos) << line.text;
  EXPECT_NE(line.text.find("set aside as data.mdb.corrupt-" + std::to_string(kNow + 100)),
            std::string::npos)
      << line.text;
  EXPECT_NE(line.text.find("rebuilt with 1 locks restored"), std::string::npos) << line.text;

  // The rebuilt store works and is reopened without another rebuild.
  ASSERT_TRUE(store->Update("alice", CountRecipient));
  store.reset();
  const size_t lines = logger_.lines().size();
  store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(logger_.lines().size(), lines);
}

TEST_F(LmdbStore, RebuildsATruncatedDataFile) {
  { ASSERT_TRUE(Open()); }
  WriteRandomBytes(settings_.path + "/data.mdb", 100);  // shorter than a page
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(logger_.Contains("was corrupt"));
  EXPECT_TRUE(logger_.Contains("rebuilt with 0 locks restored"));
  EXPECT_TRUE(store->Update("alice", CountRecipient));
}

TEST_F(LmdbStore, RebuildsWhenTheTreeIsDamaged) {
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Update("mallory", LockIt));
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->Update("u" + std::to_string(i), CountRecipient));
  }
  // Valid meta pages, every other page zeroed, as after a power loss that
  // wrote the meta page but not the pages it points to (MDB_NOSYNC):
  // mdb_env_open succeeds and the first transaction finds the damage.
  // (Random bytes instead of zeros can crash LMDB itself, which trusts the
  // offsets inside its pages; LMDB has no checksums.)
  const std::string data = settings_.path + "/data.mdb";
  const auto size = fs::file_size(data);
  {
    std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
    const std::string page(4096, '\0');
    for (uint64_t offset = 2 * 4096; offset + 4096 <= size; offset += 4096) {
      file.seekp(static_cast<std::streamoff>(offset));
      file.write(page.data(), static_cast<std::streamsize>(page.size()));
    }
  }
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(logger_.Contains("was corrupt (mdb_dbi_open: MDB_CORRUPTED"))
      << (logger_.lines().empty() ? "" : logger_.lines().back().text);
  EXPECT_TRUE(logger_.Contains("rebuilt with 1 locks restored"));
  const auto mallory = store->Get("mallory");
  ASSERT_TRUE(mallory && mallory->has_value());
  EXPECT_TRUE((*mallory)->lock.locked);
}

TEST_F(LmdbStore, NewStoreTakesTheLocksOfAnExistingJournal) {
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Update("mallory", LockIt));
  }
  ASSERT_TRUE(fs::remove(settings_.path + "/data.mdb"));
  ASSERT_TRUE(fs::remove(settings_.path + "/lock.mdb"));
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(logger_.Contains("created anew; 1 locks restored from the lock journal"));
  const auto mallory = store->Get("mallory");
  ASSERT_TRUE(mallory && mallory->has_value());
  EXPECT_TRUE((*mallory)->lock.locked);
}

TEST_F(LmdbStore, ReadOnlyModeNeverRebuilds) {
  { ASSERT_TRUE(Open()); }
  WriteRandomBytes(settings_.path + "/data.mdb", 64 * 1024);
  auto store = OpenLmdbStore(settings_, clock_, logger_, OpenMode::kReadOnly);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kStoreCorrupt);
  EXPECT_EQ(store.error().code, MDB_INVALID);
  EXPECT_NE(store.error().message.find("cannot open store " + settings_.path +
                                       ": mdb_env_open: MDB_INVALID"),
            std::string::npos)
      << store.error().message;
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(settings_.path)) {
    EXPECT_EQ(entry.path().filename().string().find("corrupt"), std::string::npos);
    ++files;
  }
  EXPECT_GT(files, 0u);
}

TEST_F(LmdbStore, ReportsUndecodableRecordsWithoutOverwritingThem) {
  { ASSERT_TRUE(Open()->Update("alice", CountRecipient)); }
  const std::string garbage = "not a record at all";
  std::string newer = "SWR";
  newer += '\x09';  // a record version from the future
  newer += std::string(2000, '\x5a');
  {
    RawEnv raw(settings_.path);
    raw.Put("records", "broken", garbage);
    raw.Put("records", "future", newer);
  }
  auto store = Open();
  ASSERT_TRUE(store);

  bool called = false;
  auto update = store->Update("broken", [&](AccountRecord& r) {
    called = true;
    return CountRecipient(r);
  });
  ASSERT_FALSE(update);
  EXPECT_FALSE(called);
  EXPECT_EQ(update.error().kind, ErrorKind::kStoreCorrupt);
  EXPECT_NE(update.error().message.find("record of broken"), std::string::npos)
      << update.error().message;
  auto future = store->Update("future", CountRecipient);
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().kind, ErrorKind::kUnsupported);
  const auto get = store->Get("broken");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().kind, ErrorKind::kStoreCorrupt);

  std::vector<std::string> seen;
  const auto report = store->ForEach([&](const AccountRecord& r) {
    seen.push_back(r.account);
    return true;
  });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->records, 1u);
  EXPECT_EQ(report->undecodable, 2u);
  EXPECT_EQ(seen, std::vector<std::string>{"alice"});
  store.reset();
  {
    RawEnv raw(settings_.path);
    EXPECT_EQ(raw.Get("records", "broken"), garbage);  // untouched
    EXPECT_EQ(raw.Get("records", "future"), newer);
  }

  // Prune sets damaged records aside (never deletes them) and keeps those of
  // a newer senderwatch in place.
  store = Open();
  ASSERT_TRUE(store);
  const auto pruned = store->Prune(kNow);
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(pruned->removed, 0u);
  EXPECT_EQ(pruned->set_aside, 1u);
  const auto listed = store->Undecodable();
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].account, "future");
  EXPECT_FALSE((*listed)[0].set_aside);
  EXPECT_EQ((*listed)[1].account, "broken");
  EXPECT_TRUE((*listed)[1].set_aside);
  EXPECT_EQ((*listed)[1].set_aside_at, kNow);
  EXPECT_EQ((*listed)[1].bytes, garbage.size());
  store.reset();
  RawEnv raw(settings_.path);
  EXPECT_FALSE(raw.Get("records", "broken").has_value());
  EXPECT_EQ(raw.Get("records", "future"), newer);
  const auto aside = raw.Get("aside", "broken");
  ASSERT_TRUE(aside.has_value());
  EXPECT_EQ(aside->substr(12), garbage);
}

// ---- a full map ---------------------------------------------------------------------

TEST_F(LmdbStore, FullMapPrunesThenReportsStoreFull) {
  settings_.max_size = 256 * 1024;
  settings_.retention_seconds = 3600;
  auto store = Open();
  ASSERT_TRUE(store);
  auto touch = [&](AccountRecord& r) {
    r.last_seen = clock_.Now();
    r.Count(Counter::kRecipients, clock_.Now());
    return WriteMode::kSoft;
  };
  ASSERT_TRUE(store->Update("locked", [&](AccountRecord& r) {
    touch(r);
    return LockIt(r);
  }));

  // Fill the map with records that are all fresh: nothing can be pruned.
  int first_fill = 0;
  Error error;
  for (;; ++first_fill) {
    auto r = store->Update("old-" + std::to_string(first_fill), touch);
    if (!r) {
      error = r.error();
      break;
    }
    ASSERT_LT(first_fill, 10000) << "the map never filled";
  }
  EXPECT_EQ(error.kind, ErrorKind::kStoreFull) << error.message;
  EXPECT_NE(error.message.find("store " + settings_.path + " is full"), std::string::npos)
      << error.message;
  EXPECT_NE(error.message.find("MDB_MAP_FULL"), std::string::npos) << error.message;
  EXPECT_GT(first_fill, 20);
  // Right after a fruitless prune, a full store fails at once: no scan of
  // every record for each recipient.
  const size_t lines_after_fill = logger_.lines().size();
  clock_.Advance(30);
  // (A few writes may still fit in pages the failed prune's bookkeeping left.)
  int late = 0;
  auto again = store->Update("late-0", touch);
  while (again && late < 20) again = store->Update("late-" + std::to_string(++late), touch);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kStoreFull);
  EXPECT_NE(again.error().message.find("a prune less than 60s ago"), std::string::npos)
      << again.error().message;
  EXPECT_EQ(logger_.lines().size(), lines_after_fill);

  // Later the old records are stale: the write that finds the map full
  // prunes them and succeeds.
  clock_.Advance(2 * 3600);
  const size_t lines_before = logger_.lines().size();
  int second_fill = 0;
  for (; logger_.lines().size() == lines_before; ++second_fill) {
    auto fresh = store->Update("fresh-" + std::to_string(second_fill), touch);
    ASSERT_TRUE(fresh) << second_fill << ": " << fresh.error().message;
    ASSERT_LT(second_fill, first_fill) << "never pruned";
  }
  EXPECT_NE(logger_.lines().back().text.find("pruned " + std::to_string(first_fill + late) +
                                            " of "),
            std::string::npos)
      << logger_.lines().back().text;
  const auto gone = store->Get("old-0");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
  const auto locked = store->Get("locked");  // stale but locked: kept
  ASSERT_TRUE(locked && locked->has_value());
  EXPECT_TRUE((*locked)->lock.locked);

  // Filling it with fresh records again ends in kStoreFull, not a crash.
  for (;; ++second_fill) {
    auto r = store->Update("fresh-" + std::to_string(second_fill), touch);
    if (!r) {
      EXPECT_EQ(r.error().kind, ErrorKind::kStoreFull) << r.error().message;
      break;
    }
    ASSERT_LT(second_fill, 10000);
  }
  EXPECT_GT(second_fill, first_fill * 3 / 4);
  // Reading still works, and so does an update of an existing record.
  const auto read = store->Get("fresh-1");
  ASSERT_TRUE(read && read->has_value());
  auto same = store->Update("fresh-1", touch);
  EXPECT_TRUE(same) << same.error().message;
  // A prune may have used its headroom (max_size/32, at least 64 pages),
  // never more.
  const auto stats = store->Stats();
  ASSERT_TRUE(stats);
  const uint64_t headroom = std::max<uint64_t>(settings_.max_size / 32, 64 * 4096);
  EXPECT_LE(stats->used_bytes, stats->map_size);
  EXPECT_GE(stats->map_size, settings_.max_size);
  EXPECT_LE(stats->map_size, settings_.max_size + headroom);
  EXPECT_LE(stats->file_bytes, settings_.max_size + headroom);
}

TEST_F(LmdbStore, AdoptsAMapGrownByAnotherProcess) {
  StoreSettings small = TempStoreSettings(dir_);
  small.max_size = 256 * 1024;
  auto store = MustOpen(small, clock_, logger_);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Update("alice", CountRecipient));
  // A process configured with a larger map writes past this one's map.
  StoreSettings large = small;
  large.max_size = 8 << 20;
  std::string message;
  ASSERT_EQ(RunInChild(
                [&](std::string& out) {
                  NullLogger quiet;
                  auto other = OpenLmdbStore(large, clock_, quiet);
                  if (!other) {
                    out = other.error().message;
                    return 1;
                  }
                  for (int i = 0; i < 1000; ++i) {
                    auto r = (*other)->Update("k" + std::to_string(i), CountRecipient);
                    if (!r) {
                      out = r.error().message;
                      return 2;
                    }
                  }
                  return 0;
                },
                &message),
            0)
      << message;
  const auto read = store->Get("k999");  // MDB_MAP_RESIZED, remapped, read
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_TRUE(read->has_value());
  // Writing may find the adopted map full (it is exactly the pages in use);
  // then it says so cleanly.
  const auto again = store->Update("alice", CountRecipient);
  if (!again) {
    EXPECT_EQ(again.error().kind, ErrorKind::kStoreFull) << again.error().message;
  }
  const auto stats = store->Stats();
  ASSERT_TRUE(stats);
  EXPECT_GT(stats->map_size, small.max_size);
  EXPECT_EQ(stats->records, 1001u);
}

// ---- Stats ----------------------------------------------------------------------------

TEST_F(LmdbStore, StatsDescribeTheStore) {
  auto store = Open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store->Update("u" + std::to_string(i), CountRecipient));
  ASSERT_TRUE(store->Update("old", [](AccountRecord& r) {
    r.last_seen = kNow - 5000;
    return WriteMode::kSoft;
  }));
  ASSERT_TRUE(store->Update("mallory", LockIt));
  ASSERT_TRUE(store->Update("timed", [](AccountRecord& r) {
    LockIt(r);
    r.lock.until = kNow - 1;  // ended
    return WriteMode::kDurable;
  }));
  const auto stats = store->Stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->location, settings_.path);
  EXPECT_EQ(stats->records, 23u);
  EXPECT_EQ(stats->locked, 1u);
  EXPECT_EQ(stats->oldest_activity, kNow - 5000);
  EXPECT_EQ(stats->map_size, settings_.max_size);
  EXPECT_GT(stats->used_bytes, 23u * 1000);
  EXPECT_GE(stats->file_bytes, stats->used_bytes);
  EXPECT_EQ(stats->file_bytes, fs::file_size(settings_.path + "/data.mdb"));
}

// ---- processes ----------------------------------------------------------------------

TEST_F(LmdbStore, ConcurrentProcessesCountExactly) {
  { ASSERT_TRUE(Open()); }  // create it once
  constexpr int kProcesses = 8;
  constexpr int kIncrements = 250;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        NullLogger quiet;
        // A failing child says why on stderr (ctest shows it).
        const auto fail = [](int exit_code, const Error& e) {
          std::fprintf(stderr, "child: %s\n", e.message.c_str());
          ::_exit(exit_code);
        };
        auto store = OpenLmdbStore(settings_, clock_, quiet);
        if (!store) fail(1, store.error());
        for (int i = 0; i < kIncrements; ++i) {
          // Half of them reopen between calls, like Exim's processes.
          if (p % 2 == 1 && i % 50 == 0) {
            store->reset();
            store = OpenLmdbStore(settings_, clock_, quiet);
            if (!store) fail(2, store.error());
          }
          if (auto r = (*store)->Update("shared", CountRecipient); !r) fail(3, r.error());
        }
      } catch (...) {
        code = 4;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto store = Open();
  ASSERT_TRUE(store);
  const auto read = store->Get("shared");
  ASSERT_TRUE(read && read->has_value());
  EXPECT_EQ(Recipients(**read), static_cast<uint64_t>(kProcesses * kIncrements));
}

// True when /proc/locks shows `pid` waiting for an exclusive flock.
bool WaitsForExclusiveFlock(pid_t pid) {
  std::ifstream locks("/proc/locks");
  const std::string waiting = "-> FLOCK  ADVISORY  WRITE " + std::to_string(pid) + " ";
  for (std::string line; std::getline(locks, line);) {
    if (line.find(waiting) != std::string::npos) return true;
  }
  return false;
}

// LMDB 0.9.26 to 0.9.31 destroy lock.mdb's mutexes when a closing process
// finds itself the last user, under the feet of a process inside
// mdb_env_open, whose first transaction then fails with EINVAL (and so does
// everyone's who opens after it): ConcurrentProcessesCountExactly failed so
// on Debian 13. An opener holds rebuild.lock shared around mdb_env_open, so
// a close must wait for that lock exclusively. This process plays the
// opener; the child's close must wait for it. (Reproduce the LMDB race
// itself with an LMDB 0.9.31 built from source in LD_LIBRARY_PATH and
// ConcurrentProcessesCountExactly repeated.)
TEST_F(LmdbStore, ClosingWaitsWhileAnotherProcessIsOpening) {
  { ASSERT_TRUE(Open()); }  // create it once
  const int opening = ::open((settings_.path + "/rebuild.lock").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(opening, 0);
  ASSERT_EQ(::flock(opening, LOCK_SH), 0);
  int progress[2];
  ASSERT_EQ(::pipe(progress), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(progress[0]);
    ::close(opening);  // the lock belongs to the parent's descriptor alone
    NullLogger quiet;
    auto store = OpenLmdbStore(settings_, clock_, quiet);
    if (!store) ::_exit(1);
    (void)!::write(progress[1], "o", 1);
    store->reset();
    (void)!::write(progress[1], "c", 1);
    ::_exit(0);
  }
  ::close(progress[1]);
  char step = 0;
  ASSERT_EQ(::read(progress[0], &step, 1), 1);
  ASSERT_EQ(step, 'o');
  // Either the child closes (wrong: it did not wait) or it shows up in
  // /proc/locks waiting for rebuild.lock. 10 s is only a bound for a
  // broken build, not a timing assumption.
  bool waited = false;
  for (int i = 0; i < 10000 && !waited; ++i) {
    pollfd closed{progress[0], POLLIN, 0};
    ASSERT_EQ(::poll(&closed, 1, 1), 0) << "the store was closed while another process was opening it";
    waited = WaitsForExclusiveFlock(child);
  }
  EXPECT_TRUE(waited);
  ::close(opening);  // the "opener" is done: now the child may close
  ASSERT_EQ(::read(progress[0], &step, 1), 1);
  EXPECT_EQ(step, 'c');
  ::close(progress[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(LmdbStore, ProcessesDyingInsideReadsLeaveNoStaleReaders) {
  // This process keeps the store open throughout, as some Exim process
  // always does; otherwise each opener would find the lock file unused and
  // reset its reader table.
  auto keeper = Open();
  ASSERT_TRUE(keeper);
  ASSERT_TRUE(keeper->Update("alice", CountRecipient));
  // More processes than reader slots (1024), each _exit()ing in the middle of
  // a read transaction like an Exim child killed mid-call. Each must find
  // the slot of the one before it stale and clear it.
  constexpr int kProcesses = 1100;
  int failures = 0;
  std::string last_message;
  for (int i = 0; i < kProcesses; ++i) {
    std::string message;
    const int code = RunInChild(
        [&](std::string& out) {
          NullLogger quiet;
          auto store = OpenLmdbStore(settings_, clock_, quiet);
          if (!store) {
            out = store.error().message;
            return 1;
          }
          auto stats = (*store)->Stats();
          if (!stats) {
            out = stats.error().message;
            return 2;
          }
          const int code_in_scan = i == 0 || stats->stale_readers_cleared == 1 ? 0 : 3;
          auto scan = (*store)->ForEach(
              [&](const AccountRecord&) -> bool { ::_exit(code_in_scan); });
          out = scan ? "visitor not called" : scan.error().message;
          return 4;
        },
        &message);
    if (code != 0) {
      ++failures;
      last_message = std::to_string(code) + ": " + message;
    }
  }
  EXPECT_EQ(failures, 0) << last_message;
  EXPECT_TRUE(keeper->Update("alice", CountRecipient));
}

TEST_F(LmdbStore, ForkedChildNeitherUsesNorReleasesTheParentsEnvironment) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Update("alice", CountRecipient));
  const pid_t parent = ::getpid();

  int use_code = -5;
  int reader_code = -5;
  const auto report = store->ForEach([&](const AccountRecord&) {
    // Inside the parent's read transaction: a child inherits it, tries to
    // use the store, then unwinds and destroys everything it inherited.
    use_code = RunInChild([&](std::string&) {
      auto read = store->Get("alice");
      const int code =
          !read && read.error().kind == ErrorKind::kStoreIo ? 0 : 1;
      store.reset();  // must neither close the env nor abort the parent's txn
      return code;
    });
    // Another child opens the environment afresh and looks for the parent's
    // reader slot, which the first child must not have released.
    reader_code = RunInChild([&](std::string& out) {
      auto env = lmdb::Env::Create();
      if (!env || !env->SetMaxDbs(4) || !env->Open(settings_.path, MDB_NOTLS, 0660)) return 2;
      mdb_reader_list(
          env->get(),
          [](const char* msg, void* ctx) -> int {
            *static_cast<std::string*>(ctx) += msg;
            return 0;
          },
          &out);
      std::istringstream lines(out);
      std::string token;
      while (lines >> token) {
        if (token == std::to_string(parent)) return 0;
      }
      return 1;
    });
    return false;
  });
  ASSERT_TRUE(report);
  EXPECT_EQ(use_code, 0);
  EXPECT_EQ(reader_code, 0);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Update("alice", CountRecipient));
}

// The wrapper's own fork rule, without the Store around it: a child that
// destroys an inherited read transaction must not free the parent's slot.
TEST(LmdbEnv, ChildLeavesInheritedReaderSlotAlone) {
  TempDir dir;
  auto env = lmdb::Env::Create();
  ASSERT_TRUE(env);
  ASSERT_TRUE(env->Open(dir.path(), MDB_NOTLS, 0660));
  auto txn = lmdb::Txn::Begin(*env, MDB_RDONLY);
  ASSERT_TRUE(txn);
  const pid_t parent = ::getpid();
  EXPECT_EQ(RunInChild([&](std::string&) {
              *txn = lmdb::Txn();  // runs the destructor in the child
              *env = lmdb::Env();
              return 0;
            }),
            0);
  std::string readers;
  const int code = RunInChild(
      [&](std::string& out) {
        auto fresh = lmdb::Env::Create();
        if (!fresh || !fresh->Open(dir.path(), MDB_NOTLS, 0660)) return 2;
        mdb_reader_list(
            fresh->get(),
            [](const char* msg, void* ctx) -> int {
              *static_cast<std::string*>(ctx) += msg;
              return 0;
            },
            &out);
        std::istringstream lines(out);
        for (std::string token; lines >> token;) {
          if (token == std::to_string(parent)) return 0;
        }
        return 1;
      },
      &readers);
  EXPECT_EQ(code, 0) << readers;
  ASSERT_TRUE(txn->Commit());
}

TEST(LmdbEnv, ErrorsNameTheCallAndTheCode) {
  const Error error = lmdb::CallError("mdb_put", MDB_MAP_FULL);
  EXPECT_EQ(error.kind, ErrorKind::kStoreFull);
  EXPECT_EQ(error.code, MDB_MAP_FULL);
  EXPECT_TRUE(error.message.starts_with("mdb_put: MDB_MAP_FULL: ")) << error.message;
  EXPECT_EQ(lmdb::CallError("mdb_env_open", EACCES).message,
            "mdb_env_open: Permission denied");
  EXPECT_EQ(lmdb::KindOf(MDB_CORRUPTED), ErrorKind::kStoreCorrupt);
  EXPECT_TRUE(lmdb::IsCorruption(MDB_PAGE_NOTFOUND));
  EXPECT_FALSE(lmdb::IsCorruption(MDB_MAP_FULL));
}

}  // namespace
}  // namespace senderwatch
