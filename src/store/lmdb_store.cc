// The LMDB store's transactions and records (lmdb_store_impl.h, which says
// how the store is split and why it looks the way it does): reading and
// writing records and their history, syncing as the durability setting
// asks, keeping the lock journal in step, and the reports (stats, damaged
// records).
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/coding.h"
#include "senderwatch/account.h"
#include "store/lmdb_store_impl.h"

namespace senderwatch::store_internal {
namespace {

// After a prune that left the map full, writes that find it full fail at once
// for this long instead of scanning every record again for each recipient.
constexpr int64_t kPruneBackoffSeconds = 60;

}  // namespace

Result<void> ScanCursor(lmdb::Cursor& cursor, const EntryVisitor& visit) {
  for (auto entry = cursor.Get(MDB_FIRST);; entry = cursor.Get(MDB_NEXT)) {
    if (!entry) return std::unexpected(entry.error());
    if (!*entry) return {};
    auto more = visit((*entry)->first, (*entry)->second);
    if (!more) return std::unexpected(more.error());
    if (!*more) return {};
  }
}

Result<void> ScanDb(const lmdb::Txn& txn, MDB_dbi dbi, const EntryVisitor& visit) {
  auto cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor) return std::unexpected(cursor.error());
  return ScanCursor(*cursor, visit);
}

// ---- transactions -------------------------------------------------------------

Result<void> LmdbStore::CheckUsable(bool write) const {
  if (getpid() != pid_) {
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
    last = coding::DecodeInt64(**raw);
  }
  const bool due = mode == WriteMode::kDurable || !last || now < *last ||
                   now - *last >= settings_.sync_interval_seconds;
  if (!due) return false;
  if (auto r = txn.Put(meta_, kMetaLastSync, coding::EncodeInt64(now)); !r) {
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
    return UpdateJournal(base_, dir_, account, entry, clock_.Now());
  });
  if (!r) {
    logger_.Log(LogLevel::kError,
                "store " + path_ + ": cannot update the lock journal: " + r.error().message);
  }
}

Result<std::optional<JournalEntry>> LmdbStore::JournalLock(std::string_view account) {
  auto journal = ReadJournal(path_);
  if (!journal) return std::unexpected(journal.error());
  return FindLock(*journal, account, clock_.Now());
}

std::set<std::string, std::less<>> LmdbStore::JournalLockedAccounts() {
  auto journal = ReadJournal(path_);
  if (!journal) return {};
  return LockedAccounts(*journal, clock_.Now());
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
      adopted ? std::nullopt : JournalEntryOf(record);

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
  const auto journal_after = JournalEntryOf(record);
  const bool journal_changed = JournalDiffers(journal_before, journal_after);
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
      return std::optional<AccountRecord>(RecordFromJournal(**lock));
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
  auto scanned = ScanDb(
      *txn, records_, [&](std::string_view key, std::string_view value) -> Result<bool> {
        auto decoded = DecodeRecord(value, key);
        if (!decoded) {
          ++report.undecodable;
          return true;
        }
        if (auto h = LoadHistory(*txn, key, *decoded); !h) return std::unexpected(h.error());
        ++report.records;
        return visit(*decoded);
      });
  if (!scanned) return std::unexpected(InStore(scanned.error()));
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
    if (was_locked) WriteJournal(account, JournalEntryOf(*decoded));
    return std::unexpected(InStore(r.error()));
  }
  if (auto r = SyncAfterCommit(*need_sync, mode); !r) return std::unexpected(InStore(r.error()));
  return true;
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

}  // namespace senderwatch::store_internal
