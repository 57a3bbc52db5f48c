// A Store kept in a std::map with a hash index: log replay runs the policy
// over weeks of Exim logs in seconds with it, and tests use it where LMDB is
// beside the point.
// It follows the LmdbStore's semantics (key order, key limits, what Prune
// removes) so code tested against one behaves the same against the other.
// Records are kept decoded: nothing here can be undecodable. Provisional
// records are evicted by the same rule as in LMDB (store/provisional.h).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/linear_probing.h"
#include "senderwatch/store.h"
#include "store/provisional.h"

namespace senderwatch {
namespace {

// LMDB's default maximum key size, kept here too so both stores refuse the
// same keys.
constexpr size_t kMaxKeyBytes = 511;

using RecordMap = std::map<std::string, AccountRecord, std::less<>>;

// The hash index over the records' map: open addressing with the hash kept
// in the slot, so a lookup reads one slot and the key it points to, where
// std::unordered_map walks a bucket, the node before, the node and then the
// key (log replay looks an account up for every event: these misses were
// 12% of a replay's CPU). Entries are removed by rebuilding the index
// (Erase and Prune are rare next to lookups).
class RecordIndex {
 public:
  RecordIndex() : slots_(64) {}

  AccountRecord* Find(std::string_view key) const {
    const uint64_t hash = Hash(key);
    for (size_t i = hash & mask();; i = (i + 1) & mask()) {
      const Slot& slot = slots_[i];
      if (slot.entry == nullptr) return nullptr;
      if (slot.hash == hash && slot.entry->first == key) return &slot.entry->second;
    }
  }

  // `entry` must not be indexed yet; it stays where it is (map nodes never move).
  void Insert(RecordMap::value_type& entry) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    Place({Hash(entry.first), &entry});
    ++size_;
  }

  void Rebuild(RecordMap& records) {
    slots_.assign(64, Slot{});
    size_ = 0;
    for (auto& entry : records) Insert(entry);
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    RecordMap::value_type* entry = nullptr;  // null: empty
  };
  static uint64_t Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }
  size_t mask() const { return slots_.size() - 1; }
  static bool InUse(const Slot& slot) { return slot.entry != nullptr; }
  void Place(const Slot& slot) { probing::Place(slots_, slot, InUse); }
  void Grow() { probing::Grow(slots_, InUse); }

  std::vector<Slot> slots_;  // size a power of two, at most 3/4 full
  size_t size_ = 0;
};

class MemoryStore final : public Store {
 public:
  MemoryStore(int64_t retention_seconds, uint64_t provisional_cap)
      : retention_seconds_(retention_seconds), provisional_cap_(provisional_cap) {}

  Result<AccountRecord> Update(std::string_view account, const Mutator& mutate) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    if (AccountRecord* hit = index_.Find(account)) {
      // In place: kSkip promises that nothing changed.
      AccountRecord& record = *hit;
      mutate(record);
      record.account.assign(account);
      return record;
    }
    AccountRecord record;
    auto provisional = provisional_.find(account);
    if (provisional != provisional_.end()) record = provisional->second;  // joins the record
    record.account = std::string(account);
    const WriteMode mode = mutate(record);
    record.account = std::string(account);
    if (mode == WriteMode::kSkip) return record;
    if (provisional != provisional_.end()) provisional_.erase(provisional);
    auto [it, inserted] = records_.emplace(std::string(account), record);
    index_.Insert(*it);
    return record;
  }

  Result<void> ModifyProvisional(std::string_view account, const Mutator& mutate) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    if (index_.Find(account) != nullptr) return Modify(account, mutate);
    auto it = provisional_.find(account);
    if (it != provisional_.end()) {
      mutate(it->second);
      it->second.account.assign(account);
      it->second.history = AccountHistory{};  // as in LMDB: none is kept
      return {};
    }
    AccountRecord record;
    record.account = std::string(account);
    if (mutate(record) == WriteMode::kSkip) return {};
    record.account = std::string(account);
    record.history = AccountHistory{};
    if (const uint64_t evict = store_internal::ProvisionalEvictions(provisional_.size(),
                                                                    provisional_cap_)) {
      std::vector<store_internal::ProvisionalRank> ranks;
      ranks.reserve(provisional_.size());
      for (const auto& [key, entry] : provisional_) {
        ranks.push_back(store_internal::RankProvisional(entry, record.last_seen));
      }
      for (const auto& victim : store_internal::PickEvictions(std::move(ranks), evict)) {
        provisional_.erase(victim);
      }
    }
    if (provisional_cap_ > 0) provisional_.emplace(std::string(account), std::move(record));
    return {};
  }

  Result<void> Modify(std::string_view account, const Mutator& mutate) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    if (AccountRecord* hit = index_.Find(account)) {
      mutate(*hit);  // in place: kSkip promises nothing changed
      hit->account.assign(account);
      return {};
    }
    auto created = Update(account, mutate);
    if (!created) return std::unexpected(created.error());
    return {};
  }

  Result<std::optional<AccountRecord>> Get(std::string_view account) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    if (const AccountRecord* hit = index_.Find(account)) {
      return std::optional<AccountRecord>(*hit);
    }
    auto provisional = provisional_.find(account);
    if (provisional == provisional_.end()) return std::optional<AccountRecord>();
    return std::optional<AccountRecord>(provisional->second);
  }

  Result<ScanReport> ForEach(const Visitor& visit) override {
    ScanReport report;
    for (const auto& [key, record] : records_) {
      ++report.records;
      if (!visit(record)) break;
    }
    return report;
  }

  Result<bool> Erase(std::string_view account) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    const bool provisional = provisional_.erase(std::string(account)) > 0;
    auto it = records_.find(account);
    if (it == records_.end()) return provisional;
    records_.erase(it);
    index_.Rebuild(records_);
    return true;
  }

  Result<PruneReport> Prune(UnixSeconds now) override {
    PruneReport report;
    for (auto it = records_.begin(); it != records_.end();) {
      ++report.examined;
      const AccountRecord& record = it->second;
      if (record.last_seen + retention_seconds_ < now && !record.IsLocked(now)) {
        report.bytes_freed += EncodeRecord(record).size();
        ++report.removed;
        it = records_.erase(it);
      } else {
        ++it;
      }
    }
    if (report.removed > 0) index_.Rebuild(records_);
    std::erase_if(provisional_, [&](const auto& entry) {
      const AccountRecord& record = entry.second;
      if (record.last_seen + retention_seconds_ >= now || record.IsLocked(now)) return false;
      report.bytes_freed += EncodeRecord(record).size();
      ++report.removed;
      return true;
    });
    return report;
  }

  // `locked` counts records whose lock flag is set: this store has no clock
  // to tell whether a timed lock has ended.
  Result<StoreStats> Stats() override {
    StoreStats stats;
    stats.location = Location();
    stats.backend = "memory";
    stats.records = records_.size();
    stats.provisional = provisional_.size();
    for (const auto& [key, record] : records_) {
      if (record.lock.locked) ++stats.locked;
      if (record.last_seen > 0 &&
          (stats.oldest_activity == 0 || record.last_seen < stats.oldest_activity)) {
        stats.oldest_activity = record.last_seen;
      }
    }
    return stats;
  }

  std::string Location() const override { return "memory"; }

 private:
  static Result<void> CheckKey(std::string_view account) {
    if (account.empty() || account.size() > kMaxKeyBytes) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "store memory: an account name must have 1 to " +
                           std::to_string(kMaxKeyBytes) + " bytes, not " +
                           std::to_string(account.size()));
    }
    return {};
  }

  const int64_t retention_seconds_;
  const uint64_t provisional_cap_;
  // std::string compares bytes as unsigned char: the same order as LMDB.
  RecordMap records_;
  // Hash index into records_: Update and Get find an account in O(1)
  // instead of O(log n) string comparisons.
  RecordIndex index_;
  // Names without a record: failed logins only (Store::ModifyProvisional).
  std::map<std::string, AccountRecord, std::less<>> provisional_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore(int64_t retention_seconds) {
  StoreSettings settings;
  settings.retention_seconds = retention_seconds;
  return NewMemoryStore(settings);
}

std::unique_ptr<Store> NewMemoryStore(const StoreSettings& settings) {
  return std::make_unique<MemoryStore>(settings.retention_seconds, ProvisionalCap(settings));
}

}  // namespace senderwatch
