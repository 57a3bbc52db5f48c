// The LMDB store's table of provisional records (lmdb_store_impl.h;
// docs/format.md, "provisional"): failed logins of names that have no
// record, bounded, and the first to go when the map is full.
#include <string>
#include <vector>

#include "store/lmdb_store_impl.h"
#include "store/provisional.h"

namespace senderwatch::store_internal {

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
    if (const uint64_t evict = ProvisionalEvictions(stat->ms_entries, cap)) {
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
  std::vector<ProvisionalRank> ranks;
  {
    auto cursor = lmdb::Cursor::Open(txn, *provisional_);
    if (!cursor) return std::unexpected(cursor.error());
    auto scanned = ScanCursor(*cursor, [&](std::string_view key, std::string_view value) {
      auto decoded = DecodeRecord(value, key);
      ranks.push_back(decoded ? RankProvisional(*decoded, now)
                              : ProvisionalRank{.account = std::string(key)});
      return true;
    });
    if (!scanned) return std::unexpected(scanned.error());
  }
  const auto victims = PickEvictions(std::move(ranks), count);
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
    auto scanned = ScanCursor(
        *cursor, [&](std::string_view key, std::string_view value) -> Result<bool> {
          ++report.examined;
          auto decoded = DecodeRecord(value, key);
          if (decoded && (decoded->last_seen + settings_.retention_seconds >= now ||
                          decoded->IsLocked(now))) {
            return true;
          }
          report.bytes_freed += value.size();
          if (auto r = cursor->Del(); !r) return std::unexpected(r.error());
          ++removed;
          return true;
        });
    if (!scanned) return std::unexpected(InStore(scanned.error()));
  }
  if (removed == 0) return {};
  if (auto r = txn->Commit(); !r) return std::unexpected(InStore(r.error()));
  report.removed += removed;
  return StampPrune(now);
}

}  // namespace senderwatch::store_internal
