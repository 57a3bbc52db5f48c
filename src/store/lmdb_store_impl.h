// The LMDB store's class, shared by the files that implement it, one concern
// each (the public entry point is OpenLmdbStore in senderwatch/store.h):
//
//   lmdb_store_open.cc         opening: directory, files, environment, databases
//   lmdb_store_rebuild.cc      rebuilding a damaged store from the lock journal
//   lmdb_store.cc              transactions, syncing, reading and writing records
//   lmdb_store_prune.cc        pruning, the prune headroom, damaged records set aside
//   lmdb_store_provisional.cc  the bounded table of provisional records
//
// One environment per process in a directory shared by every Exim process
// and the CLI. Exim's process model shapes everything (docs/format.md,
// "Store layout", describes the files):
//
//  * Exim forks constantly and its processes are short-lived, so every write
//    is one short transaction, nothing is cached between calls, and a Store
//    inherited across fork() is neither used nor closed by the child.
//  * Hooks run as Debian-exim and as root with umask 000, the CLI perhaps as
//    root with umask 022: files are 0660 and root hands them to the owner of
//    the directory. Root creates nothing there and follows no link: it opens
//    the store and rewrites the journal as the directory's owner
//    (store_files.h, DirectoryOwnerScope).
//  * Counters are soft state; locks are not. Lock changes are synced before
//    Update returns and also written to the lock journal, which survives the
//    rebuild of a damaged store.
//  * A full map prunes stale records and retries once; a damaged data file is
//    set aside and rebuilt. Neither is fatal to mail.
//  * A record that cannot be decoded never releases a lock: reads answer the
//    lock journal's lock for it, prune keeps every account the journal holds
//    as locked and moves damaged records to the "aside" database.
//  * Failed logins of names without a record live in a bounded table of
//    provisional records, emptied first when the map is full: invented user
//    names cannot crowd out real accounts and their locks.
#ifndef SENDERWATCH_SRC_STORE_LMDB_STORE_IMPL_H_
#define SENDERWATCH_SRC_STORE_LMDB_STORE_IMPL_H_

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/store.h"
#include "store/lmdb_env.h"
#include "store/lock_journal.h"
#include "store/store_files.h"

namespace senderwatch::store_internal {

// ---- the layout of the store directory and environment (docs/format.md) ----

inline constexpr std::string_view kDataFile = "data.mdb";
inline constexpr std::string_view kLockFile = "lock.mdb";
inline constexpr std::string_view kRebuildLock = "rebuild.lock";
inline constexpr char kRecordsDb[] = "records";
inline constexpr char kMetaDb[] = "meta";
// Long-term history (EncodeHistory), one value per account under the same
// key as its record; kept apart so the per-event record stays inline.
inline constexpr char kHistoryDb[] = "history";
// Damaged records set aside by Prune, under the account's key: frames of
// set-aside time (8 bytes LE), length (4 bytes LE) and the record's bytes,
// oldest first, at most a few (docs/format.md).
inline constexpr char kAsideDb[] = "aside";
// Provisional records (Store::ModifyProvisional), under the account name:
// bounded by ProvisionalCap, no history, not in the lock journal.
inline constexpr char kProvisionalDb[] = "provisional";
inline constexpr std::string_view kMetaFormat = "format";
inline constexpr std::string_view kMetaCreated = "created";
inline constexpr std::string_view kMetaLastSync = "last_sync";
// The layout of the environment (named databases, meta keys); records carry
// their own version (kRecordVersion).
inline constexpr uint32_t kStoreFormat = 1;
inline constexpr std::string_view kMetaLastPrune = "last_prune";
inline constexpr std::string_view kMetaPruneBackoff = "prune_backoff_until";

// ---- helpers shared by the files ------------------------------------------

// Whether `path` names anything (a dangling link too).
bool PathExists(const std::string& path);

// Visits the entries under `cursor` in key order, from the first, until
// `visit` returns false or an error. `visit` may delete the entry it was
// given (cursor.Del()); the walk goes on with the next one. The views are
// valid during the call only.
using EntryVisitor =
    std::function<Result<bool>(std::string_view key, std::string_view value)>;
Result<void> ScanCursor(lmdb::Cursor& cursor, const EntryVisitor& visit);
// ScanCursor over all of `dbi`, read only.
Result<void> ScanDb(const lmdb::Txn& txn, MDB_dbi dbi, const EntryVisitor& visit);

// One damaged record kept aside (kAsideDb).
struct AsideFrame {
  UnixSeconds at = 0;
  std::string bytes;
};
std::string EncodeAsideFrames(const std::vector<AsideFrame>& frames);
// Frames up to the first that does not fit (a damaged tail is dropped).
std::vector<AsideFrame> DecodeAsideFrames(std::string_view bytes);

class LmdbStore final : public Store {
 public:
  LmdbStore(const StoreSettings& settings, const Clock& clock, Logger& logger,
            OpenMode mode)
      : settings_(settings),
        path_(settings.path),
        base_(settings.path),
        clock_(clock),
        logger_(logger),
        mode_(mode),
        pid_(getpid()) {}

  // Closes the environment (CloseEnv); in a forked child it is leaked, not
  // closed, and the registry entry belongs to the parent.
  ~LmdbStore() override;

  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  Result<void> Open();

  Result<AccountRecord> Update(std::string_view account, const Mutator& mutate) override {
    return Write(account, mutate, /*provisional=*/false);
  }
  Result<void> ModifyProvisional(std::string_view account, const Mutator& mutate) override {
    auto written = Write(account, mutate, /*provisional=*/true);
    if (!written) return std::unexpected(written.error());
    return {};
  }
  Result<std::optional<AccountRecord>> Get(std::string_view account) override;
  Result<ScanReport> ForEach(const Visitor& visit) override;
  Result<bool> Erase(std::string_view account) override;
  Result<PruneReport> Prune(UnixSeconds now) override;
  Result<StoreStats> Stats() override;
  Result<std::vector<UndecodableRecord>> Undecodable() override;
  std::string Location() const override { return path_; }

 private:
  bool writable() const { return mode_ == OpenMode::kReadWrite; }
  // A file of the store for system calls: relative to the working directory
  // inside a DirectoryOwnerScope.
  std::string FilePath(std::string_view name) const {
    return base_ + "/" + std::string(name);
  }
  // Runs `work` (returning a Result) in the store directory as its owner
  // when this process is root (store_files.h); FilePath and base_ follow.
  template <typename Work>
  auto AsDirectoryOwner(Work&& work) -> decltype(work()) {
    auto scope = DirectoryOwnerScope::Enter(dir_fd_, dir_);
    if (!scope) return std::unexpected(InStore(scope.error()));
    if (scope->active()) base_ = ".";
    auto result = work();
    base_ = path_;
    return result;
  }
  // "store PATH: " + the cause, same kind and code.
  Error InStore(const Error& error) const {
    return Error{error.kind, "store " + path_ + ": " + error.message, error.code};
  }
  Error OpenError(const Error& error) const {
    std::string message = "cannot open store " + path_ + ": " + error.message;
    if (error.message.find(" (the Exim user") == std::string::npos) {
      message += PermissionHint(error.code);
    }
    // Damage and newer formats keep their kind; anything else means the
    // store could not be opened.
    const ErrorKind kind =
        error.kind == ErrorKind::kStoreIo ? ErrorKind::kStoreOpen : error.kind;
    return Error{kind, std::move(message), error.code};
  }

  Result<void> OpenInDirectory();
  Result<void> CheckUsable(bool write) const;
  Result<void> CheckKey(std::string_view account) const;
  Result<void> OpenEnvFiles();
  Result<void> OpenEnv(bool take_open_lock);
  void CloseEnv(bool rebuild_lock_held);
  Result<void> InitDatabases();
  Result<void> Rebuild(const Error& cause);
  Result<size_t> RestoreLocks(const std::vector<JournalEntry>& entries);
  Result<lmdb::Txn> Begin(bool write);
  Result<std::string> LoadHistory(lmdb::Txn& txn, std::string_view account, AccountRecord& record);
  Result<AccountRecord> Write(std::string_view account, const Mutator& mutate, bool provisional);
  Result<AccountRecord> UpdateOnce(std::string_view account, const Mutator& mutate,
                                   bool provisional);
  Result<AccountRecord> WriteProvisional(lmdb::Txn& txn, std::string_view account,
                                         AccountRecord& record, bool existed, const Mutator& mutate);
  Result<uint64_t> EvictProvisional(lmdb::Txn& txn, uint64_t count, UnixSeconds now);
  Result<uint64_t> FreeProvisional(UnixSeconds now);
  Result<void> PruneProvisional(UnixSeconds now, PruneReport& report);
  Result<bool> SyncDue(lmdb::Txn& txn, WriteMode mode);
  Result<bool> PruneBatch(UnixSeconds now, std::optional<std::string>& resume, size_t limit,
                          const ParsedJournal& journal, PruneReport& report);
  Result<PruneReport> PruneAll(UnixSeconds now, bool& grown);
  Result<void> SetAside(lmdb::Txn& txn, MDB_dbi aside, const std::string& key,
                        const std::string& value, UnixSeconds now);
  Result<std::optional<int64_t>> ReadMetaI64(std::string_view key);
  void SetPruneBackoff(UnixSeconds until);
  Result<void> StampPrune(UnixSeconds now);
  bool GrowForPrune();
  void ShrinkAfterPrune();
  Result<void> SyncAfterCommit(bool need_sync, WriteMode mode);
  void WriteJournal(std::string_view account, const std::optional<JournalEntry>& entry);
  // The lock journal's lock of `account`, for a record that cannot be decoded.
  Result<std::optional<JournalEntry>> JournalLock(std::string_view account);
  // The accounts the journal holds as locked now; none when it is unreadable
  // (for reports, never for deciding what to delete).
  std::set<std::string, std::less<>> JournalLockedAccounts();

  const StoreSettings settings_;
  const std::string path_;
  std::string base_;  // path_, or "." inside AsDirectoryOwner
  const Clock& clock_;
  Logger& logger_;
  const OpenMode mode_;
  const pid_t pid_;
  DirInfo dir_;
  int dir_fd_ = -1;  // as root: the store directory, opened without following links
  bool registered_ = false;
  lmdb::Env env_;
  MDB_dbi records_ = 0;
  MDB_dbi meta_ = 0;
  std::optional<MDB_dbi> history_;  // absent in a read-only store never given history
  std::optional<MDB_dbi> provisional_;  // likewise, for a store from before it existed
  bool have_dbs_ = false;  // false: a read-only store never written yet
  bool created_ = false;   // the last OpenEnv created the databases
  uint64_t stale_readers_cleared_ = 0;
};

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_LMDB_STORE_IMPL_H_
