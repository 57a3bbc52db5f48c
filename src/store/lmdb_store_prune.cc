// Pruning the LMDB store (lmdb_store_impl.h; docs/format.md, "Pruning and a
// full map"): stale records go in short batches, damaged ones are set aside
// (never deleted), and a full map may borrow a little headroom, because in a
// completely full map LMDB cannot even delete.
#include <algorithm>
#include <string>
#include <vector>

#include "core/coding.h"
#include "senderwatch/account.h"
#include "store/lmdb_store_impl.h"

namespace senderwatch::store_internal {
namespace {

// Frames kept per account in kAsideDb: the oldest go first.
constexpr size_t kMaxAsideFrames = 4;
// Records examined per prune transaction: keeps the writer lock short.
constexpr size_t kPruneBatch = 256;
// Headroom a prune may use beyond max_size: max_size/32, at least 64 pages.
// LMDB copies every page it changes, so in a map that is completely full
// even deleting records fails with MDB_MAP_FULL; without headroom a full
// store could never be pruned again.
constexpr uint64_t kHeadroomDivisor = 32;
constexpr uint64_t kMinHeadroomPages = 64;

}  // namespace

std::string EncodeAsideFrames(const std::vector<AsideFrame>& frames) {
  std::string out;
  for (const auto& frame : frames) {
    coding::PutInt64(out, frame.at);
    coding::PutFixed32(out, static_cast<uint32_t>(frame.bytes.size()));
    out += frame.bytes;
  }
  return out;
}

std::vector<AsideFrame> DecodeAsideFrames(std::string_view bytes) {
  std::vector<AsideFrame> frames;
  coding::ByteReader in(bytes);
  while (in.remaining() >= 12) {
    const UnixSeconds at = in.Int64();
    const std::string_view record = in.Bytes(in.Fixed32());
    if (!in.ok()) break;
    frames.push_back(AsideFrame{at, std::string(record)});
  }
  return frames;
}

// One prune transaction over at most `limit` records after `resume` (from
// the first record when nullopt). Its counts reach `report` and `resume`
// moves on only if it commits. Returns true when the last record was seen.
// `journal` is the lock journal as it was when the prune began: an account
// it holds as locked is never removed, whatever its record says.
Result<bool> LmdbStore::PruneBatch(UnixSeconds now, std::optional<std::string>& resume,
                                   size_t limit, const ParsedJournal& journal,
                                   PruneReport& report) {
  auto txn = Begin(/*write=*/true);
  if (!txn) return std::unexpected(InStore(txn.error()));
  const auto journal_locked = LockedAccounts(journal, now);
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
        const auto lock = held_by_journal ? FindLock(journal, key, now)
                                          : std::nullopt;
        if (lock) {
          const std::string restored = EncodeRecord(RecordFromJournal(*lock));
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
        return RemoveFromJournal(base_, dir_, unlocked, now);
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
  if (auto r = txn->Put(meta_, kMetaLastPrune, coding::EncodeInt64(now)); !r) {
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
  return coding::DecodeInt64(**raw);
}

// Written in the headroom: the map is full when this is needed.
void LmdbStore::SetPruneBackoff(UnixSeconds until) {
  const bool grown = GrowForPrune();
  auto write = [&]() -> Result<void> {
    auto txn = Begin(/*write=*/true);
    if (!txn) return std::unexpected(txn.error());
    if (auto r = txn->Put(meta_, kMetaPruneBackoff, coding::EncodeInt64(until)); !r) return r;
    return txn->Commit();
  };
  if (auto r = write(); !r) logger_.Log(LogLevel::kWarning, InStore(r.error()).message);
  if (grown) ShrinkAfterPrune();
}

Result<PruneReport> LmdbStore::PruneAll(UnixSeconds now, bool& grown) {
  PruneReport report;
  // Which accounts are locked is decided by the journal as well as by the
  // records: without it nothing is pruned.
  auto journal = ReadJournal(path_);
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

}  // namespace senderwatch::store_internal
