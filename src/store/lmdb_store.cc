// The LMDB store: one environment per process in a directory shared by every
// Exim process and the CLI. Exim's process model shapes everything here
// (docs/format.md, "Store layout", describes the files):
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
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "senderwatch/account.h"
#include "senderwatch/process.h"
#include "senderwatch/store.h"
#include "store/lmdb_env.h"
#include "store/lock_journal.h"
#include "store/provisional.h"
#include "store/store_files.h"

namespace senderwatch {
namespace {

using store_internal::DirInfo;
using store_internal::FileLock;
using store_internal::JournalEntry;

constexpr std::string_view kDataFile = "data.mdb";
constexpr std::string_view kLockFile = "lock.mdb";
constexpr std::string_view kRebuildLock = "rebuild.lock";
constexpr char kRecordsDb[] = "records";
constexpr char kMetaDb[] = "meta";
// Long-term history (EncodeHistory), one value per account under the same
// key as its record; kept apart so the per-event record stays inline.
constexpr char kHistoryDb[] = "history";
// Damaged records set aside by Prune, under the account's key: frames of
// set-aside time (8 bytes LE), length (4 bytes LE) and the record's bytes,
// oldest first, at most kMaxAsideFrames (docs/format.md).
constexpr char kAsideDb[] = "aside";
constexpr size_t kMaxAsideFrames = 4;
// Provisional records (Store::ModifyProvisional), under the account name:
// bounded by ProvisionalCap, no history, not in the lock journal.
constexpr char kProvisionalDb[] = "provisional";
constexpr std::string_view kMetaFormat = "format";
constexpr std::string_view kMetaCreated = "created";
constexpr std::string_view kMetaLastSync = "last_sync";
// The layout of the environment (named databases, meta keys); records carry
// their own version (kRecordVersion).
constexpr uint32_t kStoreFormat = 1;
// Exim may run hundreds of processes at once; a slot costs 64 bytes.
constexpr unsigned int kMaxReaders = 1024;
constexpr MDB_dbi kMaxDbs = 8;  // 5 used; room for more without a format change
constexpr std::string_view kMetaLastPrune = "last_prune";
constexpr std::string_view kMetaPruneBackoff = "prune_backoff_until";
// After a prune that left the map full, writes that find it full fail at once
// for this long instead of scanning every record again for each recipient.
constexpr int64_t kPruneBackoffSeconds = 60;
// Records examined per prune transaction: keeps the writer lock short.
constexpr size_t kPruneBatch = 256;
// Headroom a prune may use beyond max_size: max_size/32, at least 64 pages.
// LMDB copies every page it changes, so in a map that is completely full
// even deleting records fails with MDB_MAP_FULL; without headroom a full
// store could never be pruned again.
constexpr uint64_t kHeadroomDivisor = 32;
constexpr uint64_t kMinHeadroomPages = 64;

std::string EncodeU32(uint32_t value) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

std::string EncodeI64(int64_t value) {
  const auto bits = static_cast<uint64_t>(value);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
  return out;
}

std::optional<uint64_t> DecodeLittleEndian(std::string_view bytes, size_t size) {
  if (bytes.size() != size) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) {
    value |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  }
  return value;
}

// One damaged record kept aside (kAsideDb).
struct AsideFrame {
  UnixSeconds at = 0;
  std::string bytes;
};

std::string EncodeAsideFrames(const std::vector<AsideFrame>& frames) {
  std::string out;
  for (const auto& frame : frames) {
    out += EncodeI64(frame.at);
    out += EncodeU32(static_cast<uint32_t>(frame.bytes.size()));
    out += frame.bytes;
  }
  return out;
}

// Frames up to the first that does not fit (a damaged tail is dropped).
std::vector<AsideFrame> DecodeAsideFrames(std::string_view bytes) {
  std::vector<AsideFrame> frames;
  while (bytes.size() >= 12) {
    const auto at = DecodeLittleEndian(bytes.substr(0, 8), 8);
    const auto size = DecodeLittleEndian(bytes.substr(8, 4), 4);
    if (!at || !size || *size > bytes.size() - 12) break;
    frames.push_back(AsideFrame{static_cast<UnixSeconds>(*at),
                                std::string(bytes.substr(12, static_cast<size_t>(*size)))});
    bytes.remove_prefix(12 + static_cast<size_t>(*size));
  }
  return frames;
}

// Visits every entry of `dbi` in key order until `visit` returns false.
// The views are valid during the call only.
Result<void> ScanDb(const lmdb::Txn& txn, MDB_dbi dbi,
                    const std::function<bool(std::string_view key, std::string_view value)>& visit) {
  auto cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor) return std::unexpected(cursor.error());
  for (auto entry = cursor->Get(MDB_FIRST);; entry = cursor->Get(MDB_NEXT)) {
    if (!entry) return std::unexpected(entry.error());
    if (!*entry || !visit((*entry)->first, (*entry)->second)) return {};
  }
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Which store directories this process has open: LMDB forbids opening one
// environment twice in a process (closing either drops the other's fcntl
// locks on lock.mdb). Entries of a parent process do not count after fork().
class OpenStores {
 public:
  static bool Add(dev_t dev, ino_t ino) {
    std::lock_guard<std::mutex> guard(Mutex());
    Reset();
    return Ids().insert({dev, ino}).second;
  }
  static void Remove(dev_t dev, ino_t ino) {
    std::lock_guard<std::mutex> guard(Mutex());
    Reset();
    Ids().erase({dev, ino});
  }

 private:
  static void Reset() {
    static pid_t owner = 0;
    if (owner != CurrentPid()) {
      Ids().clear();
      owner = CurrentPid();
    }
  }
  static std::mutex& Mutex() {
    static auto* mutex = new std::mutex;  // never destroyed: safe at exit
    return *mutex;
  }
  static std::set<std::pair<dev_t, ino_t>>& Ids() {
    static auto* ids = new std::set<std::pair<dev_t, ino_t>>;
    return *ids;
  }
};

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
        pid_(CurrentPid()) {}

  ~LmdbStore() override {
    // In a forked child the environment is leaked, not closed (Env does the
    // pid check); the registry entry belongs to the parent.
    if (registered_ && CurrentPid() == pid_) OpenStores::Remove(dir_.dev, dir_.ino);
    if (dir_fd_ >= 0) ::close(dir_fd_);
  }

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
    auto scope = store_internal::DirectoryOwnerScope::Enter(dir_fd_, dir_);
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
      message += store_internal::PermissionHint(error.code);
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
                          const store_internal::ParsedJournal& journal, PruneReport& report);
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

// ---- opening ----------------------------------------------------------------

Result<void> LmdbStore::Open() {
  if (path_.empty()) {
    return MakeError(ErrorKind::kStoreOpen, "cannot open store: no path given");
  }
  auto dir = store_internal::EnsureDirectory(path_, writable());
  if (!dir) return std::unexpected(OpenError(dir.error()));
  dir_ = *dir;
  if (!OpenStores::Add(dir_.dev, dir_.ino)) {
    return MakeError(ErrorKind::kStoreOpen,
                     "cannot open store " + path_ +
                         ": it is already open in this process (LMDB allows one "
                         "environment per file per process)");
  }
  registered_ = true;
  if (geteuid() == 0) {
    auto fd = store_internal::OpenDirectoryAsRoot(path_, dir_);
    if (!fd) return std::unexpected(OpenError(fd.error()));
    dir_fd_ = *fd;
    // Files root left behind with its own owner (a shell's umask 022, an
    // older version) go to the directory's owner, by descriptor: what the
    // owner then opens must be theirs.
    for (const std::string_view name : {kDataFile, kLockFile, kRebuildLock,
                                        store_internal::kJournalName}) {
      auto r = store_internal::HandExistingFileToOwner(dir_fd_, name,
                                                       path_ + "/" + std::string(name), dir_);
      if (!r) return std::unexpected(OpenError(r.error()));
    }
  }
  auto opened = AsDirectoryOwner([&] { return OpenInDirectory(); });
  if (!opened) env_ = lmdb::Env();
  return opened;
}

// The rest of Open, in the store directory (as its owner when root).
Result<void> LmdbStore::OpenInDirectory() {
  auto opened = OpenEnv(/*take_open_lock=*/true);
  if (opened) {
    // A new store next to a lock journal (the files were deleted, or an
    // earlier rebuild failed half-way): the journal's locks still hold.
    if (created_) {
      auto journal = store_internal::ReadJournal(base_);
      if (journal && !journal->entries.empty()) {
        auto restored = RestoreLocks(journal->entries);
        if (!restored) return std::unexpected(OpenError(restored.error()));
        if (*restored > 0) logger_.Log(LogLevel::kWarning, "store " + path_ + " was created anew; " +
                                            std::to_string(*restored) +
                                            " locks restored from the lock journal");
      }
    }
    return {};
  }
  if (!lmdb::IsCorruption(opened.error().code) || !writable()) {
    env_ = lmdb::Env();
    return std::unexpected(OpenError(opened.error()));
  }
  return Rebuild(opened.error());
}

// mdb_env_open with the store's flags. LMDB opens both files by path, with
// O_CREAT (lock.mdb even in read-only mode) and following links: a link or
// anything but a regular file there is refused first, and as root this runs
// as the directory's owner (Open), so LMDB creates nothing of root's.
Result<void> LmdbStore::OpenEnvFiles() {
  env_ = lmdb::Env();
  have_dbs_ = false;
  created_ = false;
  const std::string data_path = FilePath(kDataFile);
  const std::string lock_path = FilePath(kLockFile);
  for (const auto& file : {data_path, lock_path}) {
    if (auto r = store_internal::RequireRegularOrAbsent(file); !r) return r;
  }
  const bool data_existed = Exists(data_path);
  const bool lock_existed = Exists(lock_path);
  if (writable()) {
    // The reader table: a header plus 64 bytes per reader slot.
    if (auto r = store_internal::ReserveLockFile(lock_path, dir_, 8192 + 64 * off_t{kMaxReaders}); !r) {
      return std::unexpected(r.error());
    }
  }
  auto env = lmdb::Env::Create();
  if (!env) return std::unexpected(env.error());
  if (auto r = env->SetMaxReaders(kMaxReaders); !r) return r;
  if (auto r = env->SetMaxDbs(kMaxDbs); !r) return r;
  if (auto r = env->SetMapSize(static_cast<size_t>(settings_.max_size)); !r) return r;
  unsigned int flags = MDB_NOTLS;
  if (settings_.durability != Durability::kAlways) flags |= MDB_NOSYNC;
  if (!writable()) flags |= MDB_RDONLY;
  if (auto r = env->Open(base_, flags, store_internal::kFileMode); !r) return r;
  // LMDB created missing files with 0660 & ~umask; make them 0660. (Root
  // runs this with umask 0.) chmod by path does not touch fcntl locks.
  if (writable() && geteuid() != 0) {
    if (!data_existed) ::chmod(data_path.c_str(), store_internal::kFileMode);
    if (!lock_existed) ::chmod(lock_path.c_str(), store_internal::kFileMode);
  }
  env_ = std::move(*env);
  return {};
}

Result<void> LmdbStore::OpenEnv(bool take_open_lock) {
  {
    // A shared lock on rebuild.lock while opening, so that no process pairs
    // a lock.mdb and a data.mdb from either side of a rebuild. Best effort:
    // a store directory we cannot lock in is reported by mdb_env_open.
    //
    // Creating a store takes the lock exclusively: LMDB writes the meta
    // pages of a new (empty) data.mdb in mdb_env_open without any lock, so
    // two processes creating it at once could both initialise it and one
    // would wipe what the other had already counted.
    std::optional<FileLock> open_lock;
    if (take_open_lock) {
      struct stat st{};
      const bool fresh = ::stat(FilePath(kDataFile).c_str(), &st) != 0 || st.st_size == 0;
      auto lock = FileLock::Acquire(FilePath(kRebuildLock), /*exclusive=*/fresh && writable(),
                                    /*create=*/writable(), dir_);
      if (lock) open_lock = std::move(*lock);
    }
    if (auto r = OpenEnvFiles(); !r) return r;
  }
  // Free the reader slots of processes that died inside a read transaction
  // (an Exim child killed mid-call): they would pin old pages forever.
  auto dead = env_.ReaderCheck();
  if (!dead) return std::unexpected(dead.error());
  if (*dead > 0) {
    stale_readers_cleared_ += static_cast<uint64_t>(*dead);
    logger_.Log(LogLevel::kInfo, "store " + path_ + ": cleared " +
                                     std::to_string(*dead) +
                                     " stale reader slot(s) of dead processes");
  }
  return InitDatabases();
}

// The first transaction: opens the named databases and checks the store
// format, creating both in a new store. Damage in the main database shows
// up here as MDB_CORRUPTED or MDB_PAGE_NOTFOUND, which triggers a rebuild.
Result<void> LmdbStore::InitDatabases() {
  {
    auto txn = Begin(/*write=*/false);
    if (!txn) return std::unexpected(txn.error());
    auto records = txn->OpenDbi(kRecordsDb, 0);
    if (!records) return std::unexpected(records.error());
    auto meta = txn->OpenDbi(kMetaDb, 0);
    if (!meta) return std::unexpected(meta.error());
    if (*records && *meta) {
      auto format = txn->Get(**meta, kMetaFormat);
      if (!format) return std::unexpected(format.error());
      if (*format) {
        const auto version = DecodeLittleEndian(**format, 4);
        if (!version) {
          return MakeError(ErrorKind::kStoreCorrupt, "meta key \"format\" is malformed");
        }
        if (*version > kStoreFormat) {
          return MakeError(ErrorKind::kUnsupported,
                           "store format " + std::to_string(*version) +
                               " was written by a newer senderwatch (this one reads up "
                               "to format " +
                               std::to_string(kStoreFormat) + ")");
        }
      }
      auto history = txn->OpenDbi(kHistoryDb, 0);
      if (!history) return std::unexpected(history.error());
      auto provisional = txn->OpenDbi(kProvisionalDb, 0);
      if (!provisional) return std::unexpected(provisional.error());
      if ((*history && *provisional) || !writable()) {
        // Committing (not aborting) a read transaction keeps the handles.
        if (auto r = txn->Commit(); !r) return r;
        records_ = **records;
        meta_ = **meta;
        history_ = *history;
        provisional_ = *provisional;
        have_dbs_ = true;
        return {};
      }
      // A store from before the history or provisional database: create
      // them below.
    }
  }
  if (!writable()) return {};  // never written: reads see an empty store

  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(txn.error());
  auto records = txn->OpenDbi(kRecordsDb, MDB_CREATE);
  if (!records) return std::unexpected(records.error());
  auto meta = txn->OpenDbi(kMetaDb, MDB_CREATE);
  if (!meta) return std::unexpected(meta.error());
  auto history = txn->OpenDbi(kHistoryDb, MDB_CREATE);
  if (!history) return std::unexpected(history.error());
  auto provisional = txn->OpenDbi(kProvisionalDb, MDB_CREATE);
  if (!provisional) return std::unexpected(provisional.error());
  auto format = txn->Get(**meta, kMetaFormat);
  if (!format) return std::unexpected(format.error());
  if (!*format) {  // not created meanwhile by another process
    created_ = true;
    const std::string now = EncodeI64(clock_.Now());
    if (auto r = txn->Put(**meta, kMetaFormat, EncodeU32(kStoreFormat)); !r) return r;
    if (auto r = txn->Put(**meta, kMetaCreated, now); !r) return r;
    if (auto r = txn->Put(**meta, kMetaLastSync, now); !r) return r;
  }
  if (auto r = txn->Commit(); !r) return r;
  records_ = **records;
  meta_ = **meta;
  history_ = **history;
  provisional_ = **provisional;
  have_dbs_ = true;
  return env_.Sync(true);
}

// Sets a damaged data file aside and starts afresh with the locks of the
// journal. Serialised by an exclusive flock on rebuild.lock; a process that
// waited for another's rebuild finds a healthy store and does nothing.
Result<void> LmdbStore::Rebuild(const Error& cause) {
  env_ = lmdb::Env();
  auto lock = FileLock::Acquire(FilePath(kRebuildLock), /*exclusive=*/true,
                                /*create=*/true, dir_);
  if (!lock) {
    return std::unexpected(OpenError(Error{
        cause.kind, cause.message + "; cannot rebuild it: " + lock.error().message,
        cause.code}));
  }
  auto again = OpenEnv(/*take_open_lock=*/false);
  if (again) return {};  // rebuilt by another process meanwhile
  if (!lmdb::IsCorruption(again.error().code)) {
    env_ = lmdb::Env();
    return std::unexpected(OpenError(again.error()));
  }
  env_ = lmdb::Env();

  const std::string data_path = FilePath(kDataFile);
  std::string aside_name = std::string(kDataFile) + ".corrupt-" + std::to_string(clock_.Now());
  for (int n = 1; Exists(FilePath(aside_name)); ++n) {
    aside_name = std::string(kDataFile) + ".corrupt-" + std::to_string(clock_.Now()) +
                 "." + std::to_string(n);
  }
  if (::rename(data_path.c_str(), FilePath(aside_name).c_str()) != 0) {
    const int err = errno;
    return std::unexpected(OpenError(Error{
        ErrorKind::kStoreCorrupt,
        cause.message + "; cannot set it aside: rename " + data_path + ": " +
            std::strerror(err) + store_internal::PermissionHint(err),
        cause.code}));
  }
  // The lock file goes too: its reader table and transaction id describe the
  // old data file. Processes that still have the old pair open keep using
  // it (both unlinked/renamed, consistent with each other) until they exit.
  if (::unlink(FilePath(kLockFile).c_str()) != 0 && errno != ENOENT) {
    const int err = errno;
    return std::unexpected(OpenError(store_internal::SysError(
        ErrorKind::kStoreOpen, "unlink " + FilePath(kLockFile), err)));
  }
  if (auto r = OpenEnv(/*take_open_lock=*/false); !r) {
    env_ = lmdb::Env();
    return std::unexpected(OpenError(r.error()));
  }

  std::string journal_note;
  size_t restored = 0;
  auto journal = store_internal::ReadJournal(base_);
  if (!journal) {
    journal_note = "; lock journal unreadable: " + journal.error().message;
  } else {
    auto count = RestoreLocks(journal->entries);
    if (!count) {
      journal_note = "; restoring locks failed: " + count.error().message;
    } else {
      restored = *count;
    }
    if (journal->bad_lines > 0) {
      journal_note += "; " + std::to_string(journal->bad_lines) +
                      " unreadable journal line(s) skipped";
    }
  }
  logger_.Log(LogLevel::kError,
              "store " + path_ + " was corrupt (" + cause.message + "); set aside as " +
                  aside_name + "; rebuilt with " + std::to_string(restored) +
                  " locks restored" + journal_note);
  return {};
}

Result<size_t> LmdbStore::RestoreLocks(const std::vector<JournalEntry>& entries) {
  if (entries.empty()) return size_t{0};
  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(txn.error());
  size_t restored = 0;
  for (const auto& entry : entries) {
    if (entry.account.empty() || static_cast<int>(entry.account.size()) > env_.MaxKeySize()) {
      continue;
    }
    // A record already there is newer than the journal's view of it: another
    // process counted (and maybe locked) it after this store was created.
    // Overwriting it would lose those counts.
    auto existing = txn->Get(records_, entry.account);
    if (!existing) return std::unexpected(existing.error());
    if (*existing) continue;
    const std::string bytes = EncodeRecord(store_internal::RecordFromJournal(entry));
    if (auto r = txn->Put(records_, entry.account, bytes); !r) return std::unexpected(r.error());
    ++restored;
  }
  if (auto r = txn->Commit(); !r) return std::unexpected(r.error());
  if (auto r = env_.Sync(true); !r) return std::unexpected(r.error());
  return restored;
}

// ---- transactions -------------------------------------------------------------

Result<void> LmdbStore::CheckUsable(bool write) const {
  if (CurrentPid() != pid_) {
    return MakeError(ErrorKind::kStoreIo,
                     "store " + path_ + " was opened by process " + std::to_string(pid_) +
                         "; a forked child must open its own");
  }
  if (!env_) return MakeError(ErrorKind::kStoreIo, "store " + path_ + " is not open");
  if (write && !writable()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "store " + path_ + " was opened read-only");
  }
  return {};
}

Result<void> LmdbStore::CheckKey(std::string_view account) const {
  const auto max = static_cast<size_t>(env_.MaxKeySize());
  if (account.empty() || account.size() > max) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "store " + path_ + ": an account name must have 1 to " +
                         std::to_string(max) + " bytes, not " +
                         std::to_string(account.size()));
  }
  return {};
}

// Begins a transaction. When another process has written beyond this
// process's map (MDB_MAP_RESIZED), the map is remapped once to max_size,
// which LMDB rounds up to the pages in use: the size the file has reached,
// not the larger size a prune may have used for a moment.
Result<lmdb::Txn> LmdbStore::Begin(bool write) {
  for (int attempt = 0;; ++attempt) {
    auto txn = lmdb::Txn::Begin(env_, write ? 0 : MDB_RDONLY);
    if (txn || txn.error().code != MDB_MAP_RESIZED || attempt > 0) return txn;
    if (auto r = env_.SetMapSize(static_cast<size_t>(settings_.max_size)); !r) {
      return std::unexpected(r.error());
    }
  }
}

// Decides whether this write transaction must be followed by an fsync, and
// for periodic durability records the time of that sync in the meta
// database, so the interval holds across short-lived processes.
Result<bool> LmdbStore::SyncDue(lmdb::Txn& txn, WriteMode mode) {
  switch (settings_.durability) {
    case Durability::kAlways:
      return false;  // every commit is synced by LMDB itself
    case Durability::kNone:
      return mode == WriteMode::kDurable;
    case Durability::kPeriodic:
      break;
  }
  const UnixSeconds now = clock_.Now();
  auto raw = txn.Get(meta_, kMetaLastSync);
  if (!raw) return std::unexpected(raw.error());
  std::optional<UnixSeconds> last;
  if (*raw) {
    if (auto value = DecodeLittleEndian(**raw, 8)) last = static_cast<UnixSeconds>(*value);
  }
  const bool due = mode == WriteMode::kDurable || !last || now < *last ||
                   now - *last >= settings_.sync_interval_seconds;
  if (!due) return false;
  if (auto r = txn.Put(meta_, kMetaLastSync, EncodeI64(now)); !r) {
    return std::unexpected(r.error());
  }
  return true;
}

Result<void> LmdbStore::SyncAfterCommit(bool need_sync, WriteMode mode) {
  if (!need_sync) return {};
  auto synced = env_.Sync(true);
  if (synced) return {};
  if (mode == WriteMode::kDurable) return std::unexpected(synced.error());
  // Counters are soft state: the commit stands, the next sync will catch up.
  logger_.Log(LogLevel::kWarning, InStore(synced.error()).message);
  return {};
}

// Rewrites the lock journal; called inside a write transaction, whose writer
// lock serialises journal updates between processes. A journal that cannot
// be written does not stop the lock itself: the failure is logged.
void LmdbStore::WriteJournal(std::string_view account,
                             const std::optional<JournalEntry>& entry) {
  auto r = AsDirectoryOwner([&] {
    return store_internal::UpdateJournal(base_, dir_, account, entry, clock_.Now());
  });
  if (!r) {
    logger_.Log(LogLevel::kError,
                "store " + path_ + ": cannot update the lock journal: " + r.error().message);
  }
}

Result<std::optional<JournalEntry>> LmdbStore::JournalLock(std::string_view account) {
  auto journal = store_internal::ReadJournal(path_);
  if (!journal) return std::unexpected(journal.error());
  return store_internal::FindLock(*journal, account, clock_.Now());
}

std::set<std::string, std::less<>> LmdbStore::JournalLockedAccounts() {
  auto journal = store_internal::ReadJournal(path_);
  if (!journal) return {};
  return store_internal::LockedAccounts(*journal, clock_.Now());
}

// ---- the Store interface ------------------------------------------------------

// Reads the history of `account` into record.history; returns its stored
// bytes ("" when there is none). Undecodable history is dropped, not fatal:
// learned limits fall back to static ones until it has grown again.
Result<std::string> LmdbStore::LoadHistory(lmdb::Txn& txn, std::string_view account,
                                           AccountRecord& record) {
  record.history = AccountHistory{};
  if (!history_) return std::string();
  auto raw = txn.Get(*history_, account);
  if (!raw) return std::unexpected(raw.error());
  if (!*raw) return std::string();
  if (auto decoded = DecodeHistory(**raw)) record.history = std::move(*decoded);
  return std::string(**raw);
}

Result<AccountRecord> LmdbStore::UpdateOnce(std::string_view account, const Mutator& mutate,
                                            bool provisional) {
  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(txn.error());
  auto raw = txn->Get(records_, account);
  if (!raw) return std::unexpected(raw.error());
  AccountRecord record;
  if (*raw) {
    auto decoded = DecodeRecord(**raw, account);
    if (!decoded) {
      // Left untouched: it may be a record of a newer senderwatch. Get
      // answers the journal's lock for it (the engine's fallback).
      const bool damaged = decoded.error().kind != ErrorKind::kUnsupported;
      return MakeError(decoded.error().kind,
                       "record of " + EscapeForLog(account) + ": " + decoded.error().message +
                           (damaged ? " ('senderwatch gc' sets it aside)" : ""),
                       decoded.error().code);
    }
    record = std::move(*decoded);
  }
  // A name without a record starts from its provisional record, if any (an
  // undecodable one is replaced).
  bool adopted = false;
  if (!*raw) {
    auto entry = txn->Get(*provisional_, account);
    if (!entry) return std::unexpected(entry.error());
    if (*entry) {
      auto decoded = DecodeRecord(**entry, account);
      if (decoded) record = std::move(*decoded);
      adopted = true;
    }
  }
  record.account = std::string(account);
  if (provisional && !*raw) return WriteProvisional(*txn, account, record, adopted, mutate);
  auto history_before = LoadHistory(*txn, account, record);
  if (!history_before) return std::unexpected(history_before.error());
  // The journal does not list a provisional lock: joining the records adds it.
  const auto journal_before =
      adopted ? std::nullopt : store_internal::JournalEntryOf(record);

  WriteMode mode = mutate(record);
  record.account = std::string(account);  // the key is the identity
  if (mode == WriteMode::kSkip) return record;
  if (adopted && record.lock.locked) mode = WriteMode::kDurable;

  if (auto r = txn->Put(records_, account, EncodeRecord(record)); !r) {
    return std::unexpected(r.error());
  }
  if (adopted) {
    if (auto r = txn->Del(*provisional_, account); !r) return std::unexpected(r.error());
  }
  // Most events leave the history as it was (it changes once an hour and
  // when a new recipient is seen): write it only then.
  if (history_) {
    // An account without history (new, or only seen in failed logins)
    // stores none: no bytes read as an empty history.
    static const std::string kEmptyHistory = EncodeHistory(AccountHistory{});
    std::string history = EncodeHistory(record.history);
    const bool unchanged = history == *history_before ||
                           (history_before->empty() && history == kEmptyHistory);
    if (!unchanged) {
      if (auto r = txn->Put(*history_, account, history); !r) return std::unexpected(r.error());
    }
  }
  auto need_sync = SyncDue(*txn, mode);
  if (!need_sync) return std::unexpected(need_sync.error());
  const auto journal_after = store_internal::JournalEntryOf(record);
  const bool journal_changed = store_internal::JournalDiffers(journal_before, journal_after);
  if (journal_changed) WriteJournal(account, journal_after);
  if (auto r = txn->Commit(); !r) {
    if (journal_changed) WriteJournal(account, journal_before);  // undo
    return std::unexpected(r.error());
  }
  if (auto r = SyncAfterCommit(*need_sync, mode); !r) return std::unexpected(r.error());
  return record;
}

Result<AccountRecord> LmdbStore::Write(std::string_view account, const Mutator& mutate,
                                       bool provisional) {
  if (auto r = CheckUsable(/*write=*/true); !r) return std::unexpected(r.error());
  if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
  bool pruned = false;
  bool freed = false;
  for (;;) {
    auto result = UpdateOnce(account, mutate, provisional);
    if (result) return result;
    if (result.error().code != MDB_MAP_FULL) return std::unexpected(InStore(result.error()));
    const UnixSeconds now = clock_.Now();
    const std::string full = "store " + path_ + " is full (max_size " +
                             std::to_string(settings_.max_size) + " bytes)";
    // Provisional records go first: they are failed logins of names that
    // never sent, and must not keep a real record or a lock out.
    if (!freed) {
      freed = true;
      auto evicted = FreeProvisional(now);
      if (!evicted) {
        logger_.Log(LogLevel::kWarning, full + ": evicting provisional records failed: " +
                                            evicted.error().message);
      } else if (*evicted > 0) {
        logger_.Log(LogLevel::kWarning, full + ": evicted " + std::to_string(*evicted) +
                                            " provisional records");
        continue;
      }
    }
    if (pruned) {
      SetPruneBackoff(now + kPruneBackoffSeconds);
      return MakeError(ErrorKind::kStoreFull,
                       full + " even after pruning: " + result.error().message,
                       MDB_MAP_FULL);
    }
    if (auto until = ReadMetaI64(kMetaPruneBackoff); until && *until && now < **until) {
      return MakeError(ErrorKind::kStoreFull,
                       full + "; a prune less than " + std::to_string(kPruneBackoffSeconds) +
                           "s ago did not free enough space: " + result.error().message,
                       MDB_MAP_FULL);
    }
    // Dead readers pin old pages; stale records take space. Free both once.
    if (auto dead = env_.ReaderCheck(); dead && *dead > 0) {
      stale_readers_cleared_ += static_cast<uint64_t>(*dead);
    }
    auto report = Prune(now);
    if (!report) {
      return MakeError(ErrorKind::kStoreFull,
                       full + " and pruning failed: " + report.error().message,
                       MDB_MAP_FULL);
    }
    logger_.Log(LogLevel::kWarning,
                full + ": pruned " + std::to_string(report->removed) + " of " +
                    std::to_string(report->examined) + " records (" +
                    std::to_string(report->bytes_freed) + " bytes)");
    pruned = true;
  }
}

Result<std::optional<AccountRecord>> LmdbStore::Get(std::string_view account) {
  if (auto r = CheckUsable(/*write=*/false); !r) return std::unexpected(r.error());
  if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
  if (!have_dbs_) return std::optional<AccountRecord>();
  auto txn = Begin(/*write=*/false);
  if (!txn) return std::unexpected(InStore(txn.error()));
  auto raw = txn->Get(records_, account);
  if (!raw) return std::unexpected(InStore(raw.error()));
  if (!*raw && provisional_) {
    raw = txn->Get(*provisional_, account);
    if (!raw) return std::unexpected(InStore(raw.error()));
  }
  if (!*raw) return std::optional<AccountRecord>();
  auto decoded = DecodeRecord(**raw, account);
  if (!decoded) {
    // Damaged or newer: the lock journal still knows whether it is locked,
    // and a lock it holds is the answer (never "not locked").
    std::string message = "store " + path_ + ": record of " + EscapeForLog(account) + ": " +
                          decoded.error().message;
    auto lock = JournalLock(account);
    if (lock && *lock) {
      return std::optional<AccountRecord>(store_internal::RecordFromJournal(**lock));
    }
    if (!lock) message += "; and the lock journal: " + lock.error().message;
    return MakeError(decoded.error().kind, std::move(message), decoded.error().code);
  }
  if (auto h = LoadHistory(*txn, account, *decoded); !h) return std::unexpected(InStore(h.error()));
  return std::optional<AccountRecord>(std::move(*decoded));
}

Result<ScanReport> LmdbStore::ForEach(const Visitor& visit) {
  if (auto r = CheckUsable(/*write=*/false); !r) return std::unexpected(r.error());
  ScanReport report;
  if (!have_dbs_) return report;
  auto txn = Begin(/*write=*/false);
  if (!txn) return std::unexpected(InStore(txn.error()));
  std::optional<Error> failure;
  auto scanned = ScanDb(*txn, records_, [&](std::string_view key, std::string_view value) {
    auto decoded = DecodeRecord(value, key);
    if (!decoded) {
      ++report.undecodable;
      return true;
    }
    if (auto h = LoadHistory(*txn, key, *decoded); !h) {
      failure = h.error();
      return false;
    }
    ++report.records;
    return visit(*decoded);
  });
  if (!scanned) return std::unexpected(InStore(scanned.error()));
  if (failure) return std::unexpected(InStore(*failure));
  return report;
}

Result<bool> LmdbStore::Erase(std::string_view account) {
  if (auto r = CheckUsable(/*write=*/true); !r) return std::unexpected(r.error());
  if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(InStore(txn.error()));
  auto raw = txn->Get(records_, account);
  if (!raw) return std::unexpected(InStore(raw.error()));
  auto dropped = txn->Del(*provisional_, account);  // its provisional record goes too
  if (!dropped) return std::unexpected(InStore(dropped.error()));
  if (!*raw) {
    if (!*dropped) return false;
    if (auto r = txn->Commit(); !r) return std::unexpected(InStore(r.error()));
    return true;
  }
  auto decoded = DecodeRecord(**raw, account);
  const bool was_locked = decoded && decoded->lock.locked;
  if (auto r = txn->Del(records_, account); !r) return std::unexpected(InStore(r.error()));
  if (history_) {
    if (auto r = txn->Del(*history_, account); !r) return std::unexpected(InStore(r.error()));
  }
  const WriteMode mode = was_locked ? WriteMode::kDurable : WriteMode::kSoft;
  auto need_sync = SyncDue(*txn, mode);
  if (!need_sync) return std::unexpected(InStore(need_sync.error()));
  if (was_locked) WriteJournal(account, std::nullopt);
  if (auto r = txn->Commit(); !r) {
    if (was_locked) WriteJournal(account, store_internal::JournalEntryOf(*decoded));
    return std::unexpected(InStore(r.error()));
  }
  if (auto r = SyncAfterCommit(*need_sync, mode); !r) return std::unexpected(InStore(r.error()));
  return true;
}

// One prune transaction over at most `limit` records after `resume` (from
// the first record when nullopt). Its counts reach `report` and `resume`
// moves on only if it commits. Returns true when the last record was seen.
// `journal` is the lock journal as it was when the prune began: an account
// it holds as locked is never removed, whatever its record says.
Result<bool> LmdbStore::PruneBatch(UnixSeconds now, std::optional<std::string>& resume,
                                   size_t limit, const store_internal::ParsedJournal& journal,
                                   PruneReport& report) {
  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(InStore(txn.error()));
  const auto journal_locked = store_internal::LockedAccounts(journal, now);
  PruneReport batch;
  std::optional<std::string> position = resume;
  std::vector<std::string> unlocked;  // removed records the journal may list
  bool done = false;
  std::optional<MDB_dbi> aside;
  {
    auto cursor = lmdb::Cursor::Open(*txn, records_);
    if (!cursor) return std::unexpected(InStore(cursor.error()));
    auto entry = position ? cursor->Get(MDB_SET_RANGE, *position) : cursor->Get(MDB_FIRST);
    if (entry && *entry && position && (*entry)->first == *position) {
      entry = cursor->Get(MDB_NEXT);
    }
    for (;;) {
      if (!entry) return std::unexpected(InStore(entry.error()));
      if (!*entry) {
        done = true;
        break;
      }
      if (batch.examined == limit) break;
      ++batch.examined;
      // Copies: the map's pages may move once this transaction writes.
      const std::string key((*entry)->first);
      const std::string value((*entry)->second);
      position = key;
      const bool held_by_journal = journal_locked.contains(key);
      auto decoded = DecodeRecord(value, key);
      if (!decoded && decoded.error().kind == ErrorKind::kUnsupported) {
        // A newer senderwatch's record stays where it is, for it.
      } else if (!decoded) {
        // Damaged: kept aside, and the journal's lock put in its place.
        if (!aside) {
          auto dbi = txn->OpenDbi(kAsideDb, MDB_CREATE);
          if (!dbi) return std::unexpected(InStore(dbi.error()));
          aside = **dbi;
        }
        if (auto r = SetAside(*txn, *aside, key, value, now); !r) {
          return std::unexpected(InStore(r.error()));
        }
        const auto lock = held_by_journal ? store_internal::FindLock(journal, key, now)
                                          : std::nullopt;
        if (lock) {
          const std::string restored = EncodeRecord(store_internal::RecordFromJournal(*lock));
          if (auto r = cursor->Put(key, restored, MDB_CURRENT); !r) {
            return std::unexpected(InStore(r.error()));
          }
        } else if (auto r = cursor->Del(); !r) {
          return std::unexpected(InStore(r.error()));
        }
        ++batch.set_aside;
        logger_.Log(LogLevel::kWarning,
                    "store " + path_ + ": record of " + EscapeForLog(key) +
                        " cannot be decoded (" + decoded.error().message + "); set aside" +
                        (lock ? ", its lock restored from the lock journal" : ""));
      } else if (decoded->last_seen + settings_.retention_seconds < now &&
                 !decoded->IsLocked(now) && !held_by_journal) {
        if (decoded->lock.locked) unlocked.push_back(key);
        if (history_) {
          if (auto r = txn->Del(*history_, key); !r) return std::unexpected(InStore(r.error()));
        }
        if (auto r = cursor->Del(); !r) return std::unexpected(InStore(r.error()));
        ++batch.removed;
        batch.bytes_freed += value.size();
      }
      entry = cursor->Get(MDB_NEXT);
    }
  }  // the cursor closes before its transaction ends
  if (batch.removed == 0 && batch.set_aside == 0) {
    // Nothing changed: end the transaction without a commit or a sync.
    txn->Abort();
  } else {
    auto need_sync = SyncDue(*txn, WriteMode::kSoft);
    if (!need_sync) return std::unexpected(InStore(need_sync.error()));
    if (!unlocked.empty()) {
      auto r = AsDirectoryOwner([&] {
        return store_internal::RemoveFromJournal(base_, dir_, unlocked, now);
      });
      if (!r) {
        logger_.Log(LogLevel::kError, "store " + path_ +
                                          ": cannot update the lock journal: " +
                                          r.error().message);
      }
    }
    if (auto r = txn->Commit(); !r) return std::unexpected(InStore(r.error()));
    if (auto r = SyncAfterCommit(*need_sync, WriteMode::kSoft); !r) {
      return std::unexpected(InStore(r.error()));
    }
  }
  resume = std::move(position);
  report.examined += batch.examined;
  report.removed += batch.removed;
  report.bytes_freed += batch.bytes_freed;
  report.set_aside += batch.set_aside;
  return done;
}

// Appends `value` to the frames kept aside for `key` (at most
// kMaxAsideFrames: the oldest go first).
Result<void> LmdbStore::SetAside(lmdb::Txn& txn, MDB_dbi aside, const std::string& key,
                                 const std::string& value, UnixSeconds now) {
  auto old = txn.Get(aside, key);
  if (!old) return std::unexpected(old.error());
  std::vector<AsideFrame> frames = *old ? DecodeAsideFrames(**old) : std::vector<AsideFrame>();
  frames.push_back(AsideFrame{now, value});
  if (frames.size() > kMaxAsideFrames) {
    frames.erase(frames.begin(), frames.end() - kMaxAsideFrames);
  }
  return txn.Put(aside, key, EncodeAsideFrames(frames));
}

bool LmdbStore::GrowForPrune() {
  auto stat = env_.Stat();
  if (!stat) return false;
  const uint64_t headroom = std::max(settings_.max_size / kHeadroomDivisor,
                                     kMinHeadroomPages * stat->ms_psize);
  auto info = env_.Info();
  if (!info || info->me_mapsize >= settings_.max_size + headroom) return false;
  if (auto r = env_.SetMapSize(static_cast<size_t>(settings_.max_size + headroom)); !r) {
    logger_.Log(LogLevel::kWarning, InStore(r.error()).message);
    return false;
  }
  return true;
}

void LmdbStore::ShrinkAfterPrune() {
  // LMDB rounds up to the pages in use; only prunes extend the file past
  // max_size, by at most the headroom.
  if (auto r = env_.SetMapSize(static_cast<size_t>(settings_.max_size)); !r) {
    logger_.Log(LogLevel::kWarning, InStore(r.error()).message);
  }
}

// A small commit after the deletions. LMDB reuses the pages a commit frees
// only two commits later (the previous snapshot stays intact), so without it
// the write that asked for the prune could not use the space just freed.
Result<void> LmdbStore::StampPrune(UnixSeconds now) {
  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(InStore(txn.error()));
  if (auto r = txn->Put(meta_, kMetaLastPrune, EncodeI64(now)); !r) {
    return std::unexpected(InStore(r.error()));
  }
  if (auto r = txn->Commit(); !r) return std::unexpected(InStore(r.error()));
  return {};
}

Result<std::optional<int64_t>> LmdbStore::ReadMetaI64(std::string_view key) {
  auto txn = Begin(/*write=*/false);
  if (!txn) return std::unexpected(txn.error());
  auto raw = txn->Get(meta_, key);
  if (!raw) return std::unexpected(raw.error());
  if (!*raw) return std::optional<int64_t>();
  const auto value = DecodeLittleEndian(**raw, 8);
  if (!value) return std::optional<int64_t>();
  return std::optional<int64_t>(static_cast<int64_t>(*value));
}

// Written in the headroom: the map is full when this is needed.
void LmdbStore::SetPruneBackoff(UnixSeconds until) {
  const bool grown = GrowForPrune();
  auto write = [&]() -> Result<void> {
    auto txn = Begin(/*write=*/true);
    if (!txn) return std::unexpected(txn.error());
    if (auto r = txn->Put(meta_, kMetaPruneBackoff, EncodeI64(until)); !r) return r;
    return txn->Commit();
  };
  if (auto r = write(); !r) logger_.Log(LogLevel::kWarning, InStore(r.error()).message);
  if (grown) ShrinkAfterPrune();
}

Result<PruneReport> LmdbStore::PruneAll(UnixSeconds now, bool& grown) {
  PruneReport report;
  // Which accounts are locked is decided by the journal as well as by the
  // records: without it nothing is pruned.
  auto journal = store_internal::ReadJournal(path_);
  if (!journal) {
    return MakeError(journal.error().kind,
                     "store " + path_ + ": not pruning, the lock journal is unreadable: " +
                         journal.error().message,
                     journal.error().code);
  }
  std::optional<std::string> resume;
  size_t limit = kPruneBatch;
  // On a full map: first use the headroom, then ever smaller transactions.
  auto retry_when_full = [&](const Error& error) {
    if (error.code != MDB_MAP_FULL) return false;
    if (!grown && GrowForPrune()) {
      grown = true;
      return true;
    }
    if (limit > 1) {
      limit = std::max<size_t>(1, limit / 8);
      return true;
    }
    return false;
  };
  for (;;) {
    auto done = PruneBatch(now, resume, limit, *journal, report);
    if (!done) {
      if (retry_when_full(done.error())) continue;
      return std::unexpected(done.error());
    }
    if (*done) break;
    limit = std::min(kPruneBatch, limit * 2);
  }
  if (report.removed == 0 && report.set_aside == 0) return report;
  for (;;) {
    auto stamped = StampPrune(now);
    if (stamped) return report;
    if (stamped.error().code == MDB_MAP_FULL && !grown && GrowForPrune()) {
      grown = true;
      continue;
    }
    return std::unexpected(stamped.error());
  }
}

Result<PruneReport> LmdbStore::Prune(UnixSeconds now) {
  if (auto r = CheckUsable(/*write=*/true); !r) return std::unexpected(r.error());
  bool grown = false;
  auto report = PruneAll(now, grown);
  if (grown) ShrinkAfterPrune();
  // Provisional records are bounded anyway: failing to tidy them is no error.
  if (report) {
    if (auto r = PruneProvisional(now, *report); !r) logger_.Log(LogLevel::kWarning, r.error().message);
  }
  return report;
}

// ---- provisional records ------------------------------------------------------

// The rest of UpdateOnce for a name without a record: `record` is its
// provisional record (`existed`) or a new one. A new name that finds the
// table full evicts a batch first, in the same transaction.
Result<AccountRecord> LmdbStore::WriteProvisional(lmdb::Txn& txn, std::string_view account,
                                                  AccountRecord& record, bool existed,
                                                  const Mutator& mutate) {
  const WriteMode mode = mutate(record);
  record.account = std::string(account);
  record.history = AccountHistory{};  // none is kept for provisional records
  if (mode == WriteMode::kSkip) return record;
  if (!existed) {
    auto stat = txn.Stat(*provisional_);
    if (!stat) return std::unexpected(stat.error());
    const uint64_t cap = ProvisionalCap(settings_);
    if (const uint64_t evict = store_internal::ProvisionalEvictions(stat->ms_entries, cap)) {
      if (auto r = EvictProvisional(txn, evict, record.last_seen); !r) {
        return std::unexpected(r.error());
      }
    }
    if (cap == 0) return record;
  }
  if (auto r = txn.Put(*provisional_, account, EncodeRecord(record)); !r) {
    return std::unexpected(r.error());
  }
  auto need_sync = SyncDue(txn, mode);
  if (!need_sync) return std::unexpected(need_sync.error());
  if (auto r = txn.Commit(); !r) return std::unexpected(r.error());
  if (auto r = SyncAfterCommit(*need_sync, mode); !r) return std::unexpected(r.error());
  return record;
}

// Deletes the `count` provisional records that PickEvictions chooses; an
// undecodable one ranks first.
Result<uint64_t> LmdbStore::EvictProvisional(lmdb::Txn& txn, uint64_t count, UnixSeconds now) {
  std::vector<store_internal::ProvisionalRank> ranks;
  {
    auto cursor = lmdb::Cursor::Open(txn, *provisional_);
    if (!cursor) return std::unexpected(cursor.error());
    for (auto entry = cursor->Get(MDB_FIRST);; entry = cursor->Get(MDB_NEXT)) {
      if (!entry) return std::unexpected(entry.error());
      if (!*entry) break;
      const auto [key, value] = **entry;
      auto decoded = DecodeRecord(value, key);
      ranks.push_back(decoded ? store_internal::RankProvisional(*decoded, now)
                              : store_internal::ProvisionalRank{.account = std::string(key)});
    }
  }
  const auto victims = store_internal::PickEvictions(std::move(ranks), count);
  for (const auto& victim : victims) {
    if (auto r = txn.Del(*provisional_, victim); !r) return std::unexpected(r.error());
  }
  return victims.size();
}

// On a full map: evicts half the provisional records (in the prune
// headroom, since a full map cannot even delete) and makes the space usable
// at once. Returns how many went.
Result<uint64_t> LmdbStore::FreeProvisional(UnixSeconds now) {
  const bool grown = GrowForPrune();
  auto evict = [&]() -> Result<uint64_t> {
    auto txn = Begin(/*write=*/true);
    if (!txn) return std::unexpected(txn.error());
    auto stat = txn->Stat(*provisional_);
    if (!stat) return std::unexpected(stat.error());
    auto evicted = EvictProvisional(*txn, (stat->ms_entries + 1) / 2, now);
    if (!evicted || *evicted == 0) return evicted;
    if (auto r = txn->Commit(); !r) return std::unexpected(r.error());
    if (auto r = StampPrune(now); !r) return std::unexpected(r.error());
    return evicted;
  };
  auto evicted = evict();
  if (grown) ShrinkAfterPrune();
  if (!evicted) return std::unexpected(InStore(evicted.error()));
  return evicted;
}

// Prune's part for provisional records: the same retention rule.
Result<void> LmdbStore::PruneProvisional(UnixSeconds now, PruneReport& report) {
  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(InStore(txn.error()));
  uint64_t removed = 0;
  {
    auto cursor = lmdb::Cursor::Open(*txn, *provisional_);
    if (!cursor) return std::unexpected(InStore(cursor.error()));
    for (auto entry = cursor->Get(MDB_FIRST);; entry = cursor->Get(MDB_NEXT)) {
      if (!entry) return std::unexpected(InStore(entry.error()));
      if (!*entry) break;
      ++report.examined;
      const auto [key, value] = **entry;
      auto decoded = DecodeRecord(value, key);
      if (decoded && (decoded->last_seen + settings_.retention_seconds >= now ||
                      decoded->IsLocked(now))) {
        continue;
      }
      report.bytes_freed += value.size();
      if (auto r = cursor->Del(); !r) return std::unexpected(InStore(r.error()));
      ++removed;
    }
  }
  if (removed == 0) return {};
  if (auto r = txn->Commit(); !r) return std::unexpected(InStore(r.error()));
  report.removed += removed;
  return StampPrune(now);
}

Result<StoreStats> LmdbStore::Stats() {
  if (auto r = CheckUsable(/*write=*/false); !r) return std::unexpected(r.error());
  StoreStats stats;
  stats.location = path_;
  stats.stale_readers_cleared = stale_readers_cleared_;
  auto info = env_.Info();
  if (!info) return std::unexpected(InStore(info.error()));
  auto env_stat = env_.Stat();
  if (!env_stat) return std::unexpected(InStore(env_stat.error()));
  stats.map_size = info->me_mapsize;
  stats.used_bytes = (uint64_t{info->me_last_pgno} + 1) * env_stat->ms_psize;
  struct stat st {};
  if (::stat(FilePath(kDataFile).c_str(), &st) == 0) {
    stats.file_bytes = static_cast<uint64_t>(st.st_size);
  }
  if (!have_dbs_) return stats;

  const UnixSeconds now = clock_.Now();
  // An undecodable record counts as locked when the journal says so (as Get
  // answers); an unreadable journal adds nothing.
  const auto journal_locked = JournalLockedAccounts();
  auto txn = Begin(/*write=*/false);
  if (!txn) return std::unexpected(InStore(txn.error()));
  if (provisional_) {
    auto provisional = txn->Stat(*provisional_);
    if (!provisional) return std::unexpected(InStore(provisional.error()));
    stats.provisional = provisional->ms_entries;
  }
  auto aside = txn->OpenDbi(kAsideDb, 0);
  if (!aside) return std::unexpected(InStore(aside.error()));
  if (*aside) {
    auto scanned = ScanDb(*txn, **aside, [&](std::string_view, std::string_view value) {
      stats.set_aside += DecodeAsideFrames(value).size();
      return true;
    });
    if (!scanned) return std::unexpected(InStore(scanned.error()));
  }
  auto scanned = ScanDb(*txn, records_, [&](std::string_view key, std::string_view value) {
    ++stats.records;
    auto decoded = DecodeRecord(value, key);
    if (!decoded) {
      ++stats.undecodable;
      if (journal_locked.contains(key)) ++stats.locked;
      return true;
    }
    if (decoded->IsLocked(now)) ++stats.locked;
    if (decoded->last_seen > 0 &&
        (stats.oldest_activity == 0 || decoded->last_seen < stats.oldest_activity)) {
      stats.oldest_activity = decoded->last_seen;
    }
    return true;
  });
  if (!scanned) return std::unexpected(InStore(scanned.error()));
  return stats;
}

Result<std::vector<UndecodableRecord>> LmdbStore::Undecodable() {
  if (auto r = CheckUsable(/*write=*/false); !r) return std::unexpected(r.error());
  std::vector<UndecodableRecord> found;
  if (!have_dbs_) return found;
  const auto journal_locked = JournalLockedAccounts();
  auto describe = [&](std::string_view key, std::string_view bytes) {
    UndecodableRecord record;
    record.account = std::string(key);
    auto decoded = DecodeRecord(bytes, key);
    record.problem = decoded ? "decodable now (written while damaged?)" : decoded.error().message;
    record.bytes = bytes.size();
    record.journal_locked = journal_locked.contains(key);
    return record;
  };
  auto txn = Begin(/*write=*/false);
  if (!txn) return std::unexpected(InStore(txn.error()));
  auto scanned = ScanDb(*txn, records_, [&](std::string_view key, std::string_view value) {
    if (!DecodeRecord(value, key)) found.push_back(describe(key, value));
    return true;
  });
  if (!scanned) return std::unexpected(InStore(scanned.error()));
  auto aside = txn->OpenDbi(kAsideDb, 0);
  if (!aside) return std::unexpected(InStore(aside.error()));
  if (!*aside) return found;
  scanned = ScanDb(*txn, **aside, [&](std::string_view key, std::string_view value) {
    for (const auto& frame : DecodeAsideFrames(value)) {
      UndecodableRecord record = describe(key, frame.bytes);
      record.set_aside = true;
      record.set_aside_at = frame.at;
      found.push_back(std::move(record));
    }
    return true;
  });
  if (!scanned) return std::unexpected(InStore(scanned.error()));
  return found;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenLmdbStore(const StoreSettings& settings,
                                             const Clock& clock, Logger& logger,
                                             OpenMode mode) {
  auto store = std::make_unique<LmdbStore>(settings, clock, logger, mode);
  if (auto r = store->Open(); !r) return std::unexpected(r.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace senderwatch
