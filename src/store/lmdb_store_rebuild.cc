// Rebuilding a damaged store (lmdb_store_impl.h; docs/format.md, "Rebuilding
// a damaged store"): the data file is set aside and a fresh environment gets
// the locks of the lock journal back, which is why locks survive damage that
// counters do not.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "store/lmdb_store_impl.h"

namespace senderwatch::store_internal {

// Sets a damaged data file aside and starts afresh with the locks of the
// journal. Serialised by an exclusive flock on rebuild.lock; a process that
// waited for another's rebuild finds a healthy store and does nothing.
Result<void> LmdbStore::Rebuild(const Error& cause) {
  CloseEnv(/*rebuild_lock_held=*/false);
  auto lock = FileLock::Acquire(FilePath(kRebuildLock), /*exclusive=*/true,
                                /*create=*/true, dir_);
  if (!lock) {
    return std::unexpected(OpenError(Error{
        cause.kind, cause.message + "; cannot rebuild it: " + lock.error().message,
        cause.code}));
  }
  auto again = OpenEnv(/*take_open_lock=*/false);
  if (again) return {};  // rebuilt by another process meanwhile
  CloseEnv(/*rebuild_lock_held=*/true);
  if (!lmdb::IsCorruption(again.error().code)) {
    return std::unexpected(OpenError(again.error()));
  }

  const std::string data_path = FilePath(kDataFile);
  std::string aside_name = std::string(kDataFile) + ".corrupt-" + std::to_string(clock_.Now());
  for (int n = 1; PathExists(FilePath(aside_name)); ++n) {
    aside_name = std::string(kDataFile) + ".corrupt-" + std::to_string(clock_.Now()) +
                 "." + std::to_string(n);
  }
  if (::rename(data_path.c_str(), FilePath(aside_name).c_str()) != 0) {
    const int err = errno;
    return std::unexpected(OpenError(Error{
        ErrorKind::kStoreCorrupt,
        cause.message + "; cannot set it aside: rename " + data_path + ": " +
            std::strerror(err) + PermissionHint(err),
        cause.code}));
  }
  // The lock file goes too: its reader table and transaction id describe the
  // old data file. Processes that still have the old pair open keep using
  // it (both unlinked/renamed, consistent with each other) until they exit.
  if (::unlink(FilePath(kLockFile).c_str()) != 0 && errno != ENOENT) {
    const int err = errno;
    return std::unexpected(OpenError(SysError(
        ErrorKind::kStoreOpen, "unlink " + FilePath(kLockFile), err)));
  }
  if (auto r = OpenEnv(/*take_open_lock=*/false); !r) {
    CloseEnv(/*rebuild_lock_held=*/true);
    return std::unexpected(OpenError(r.error()));
  }

  std::string journal_note;
  size_t restored = 0;
  auto journal = ReadJournal(base_);
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
    const std::string bytes = EncodeRecord(RecordFromJournal(entry));
    if (auto r = txn->Put(records_, entry.account, bytes); !r) return std::unexpected(r.error());
    ++restored;
  }
  if (auto r = txn->Commit(); !r) return std::unexpected(r.error());
  if (auto r = env_.Sync(true); !r) return std::unexpected(r.error());
  return restored;
}

}  // namespace senderwatch::store_internal
