// Opening the LMDB store (lmdb_store_impl.h): the directory and its
// ownership, the files LMDB opens by path, the environment and the named
// databases; and closing it again. A damaged data file found here is handed
// to Rebuild (lmdb_store_rebuild.cc).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "core/coding.h"
#include "store/lmdb_store_impl.h"

namespace senderwatch::store_internal {
namespace {

// Exim may run hundreds of processes at once; a slot costs 64 bytes.
constexpr unsigned int kMaxReaders = 1024;
constexpr MDB_dbi kMaxDbs = 8;  // 5 used; room for more without a format change

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
    if (owner != getpid()) {
      Ids().clear();
      owner = getpid();
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

}  // namespace

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

LmdbStore::~LmdbStore() {
  CloseEnv(/*rebuild_lock_held=*/false);
  if (registered_ && getpid() == pid_) OpenStores::Remove(dir_.dev, dir_.ino);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Result<void> LmdbStore::Open() {
  if (path_.empty()) {
    return MakeError(ErrorKind::kStoreOpen, "cannot open store: no path given");
  }
  auto dir = EnsureDirectory(path_, writable());
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
    auto fd = OpenDirectoryAsRoot(path_, dir_);
    if (!fd) return std::unexpected(OpenError(fd.error()));
    dir_fd_ = *fd;
    // Files root left behind with its own owner (a shell's umask 022, an
    // older version) go to the directory's owner, by descriptor: what the
    // owner then opens must be theirs.
    for (const std::string_view name : {kDataFile, kLockFile, kRebuildLock,
                                        kJournalName}) {
      auto r = HandExistingFileToOwner(dir_fd_, name,
                                                       path_ + "/" + std::string(name), dir_);
      if (!r) return std::unexpected(OpenError(r.error()));
    }
  }
  auto opened = AsDirectoryOwner([&] { return OpenInDirectory(); });
  if (!opened) CloseEnv(/*rebuild_lock_held=*/false);
  return opened;
}

// The rest of Open, in the store directory (as its owner when root).
Result<void> LmdbStore::OpenInDirectory() {
  auto opened = OpenEnv(/*take_open_lock=*/true);
  if (opened) {
    // A new store next to a lock journal (the files were deleted, or an
    // earlier rebuild failed half-way): the journal's locks still hold.
    if (created_) {
      auto journal = ReadJournal(base_);
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
    CloseEnv(/*rebuild_lock_held=*/false);
    return std::unexpected(OpenError(opened.error()));
  }
  return Rebuild(opened.error());
}

// mdb_env_open with the store's flags. LMDB opens both files by path, with
// O_CREAT (lock.mdb even in read-only mode) and following links: a link or
// anything but a regular file there is refused first, and as root this runs
// as the directory's owner (Open), so LMDB creates nothing of root's.
Result<void> LmdbStore::OpenEnvFiles() {
  // Callers close env_ first (CloseEnv): closing here, under the shared open
  // lock, could not take that lock exclusively.
  have_dbs_ = false;
  created_ = false;
  const std::string data_path = FilePath(kDataFile);
  const std::string lock_path = FilePath(kLockFile);
  for (const auto& file : {data_path, lock_path}) {
    if (auto r = RequireRegularOrAbsent(file); !r) return r;
  }
  const bool data_existed = PathExists(data_path);
  const bool lock_existed = PathExists(lock_path);
  if (writable()) {
    // The reader table: a header plus 64 bytes per reader slot.
    if (auto r = ReserveLockFile(lock_path, dir_, 8192 + 64 * off_t{kMaxReaders}); !r) {
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
  if (auto r = env->Open(base_, flags, kFileMode); !r) return r;
  // LMDB created missing files with 0660 & ~umask; make them 0660. (Root
  // runs this with umask 0.) chmod by path does not touch fcntl locks.
  if (writable() && geteuid() != 0) {
    if (!data_existed) ::chmod(data_path.c_str(), kFileMode);
    if (!lock_existed) ::chmod(lock_path.c_str(), kFileMode);
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

// Closes the environment while no other process is inside mdb_env_open.
// LMDB 0.9.26 to 0.9.31 (ITS#9278; undone in 0.9.32 by ITS#10095) destroy
// the mutexes in lock.mdb when mdb_env_close finds the closer the last
// user. A process that is opening at that moment waits for the closer's
// file lock, then goes on without initialising them again: its first
// transaction, and that of everyone who opens while it holds the store,
// fails with EINVAL ("Invalid argument"). Every open holds rebuild.lock
// shared around mdb_env_open (OpenEnv), so closing with it held exclusively
// leaves nobody half-way: whoever has opened keeps LMDB's shared lock, and
// the closer does not take itself for the last user. Best effort: if the
// lock cannot be had, the environment is closed anyway. Never with the open
// lock held by this process (flock would wait for itself).
void LmdbStore::CloseEnv(bool rebuild_lock_held) {
  if (!env_) return;
  std::optional<FileLock> lock;
  if (!rebuild_lock_held && getpid() == pid_) {  // a forked child only leaks it
    auto take = [&] {
      return FileLock::Acquire(FilePath(kRebuildLock), /*exclusive=*/true,
                               /*create=*/false, dir_);
    };
    // As root, outside Open, through the directory (AsDirectoryOwner); inside
    // Open base_ already names it.
    auto held = base_ == path_ ? AsDirectoryOwner(take) : take();
    if (held) lock = std::move(*held);
  }
  env_ = lmdb::Env();
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
        const auto version = coding::DecodeFixed32(**format);
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
    const std::string now = coding::EncodeInt64(clock_.Now());
    if (auto r = txn->Put(**meta, kMetaFormat, coding::EncodeFixed32(kStoreFormat)); !r) return r;
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

}  // namespace senderwatch::store_internal

namespace senderwatch {

Result<std::unique_ptr<Store>> OpenLmdbStore(const StoreSettings& settings,
                                             const Clock& clock, Logger& logger,
                                             OpenMode mode) {
  auto store = std::make_unique<store_internal::LmdbStore>(settings, clock, logger, mode);
  if (auto r = store->Open(); !r) return std::unexpected(r.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace senderwatch
