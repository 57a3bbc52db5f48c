// A Store kept in a std::map: log replay runs the policy over weeks of Exim
// logs in seconds with it, and tests use it where LMDB is beside the point.
// It follows the LmdbStore's semantics (key order, key limits, what Prune
// removes) so code tested against one behaves the same against the other.
// Records are kept decoded: nothing here can be undecodable. Provisional
// records are evicted by the same rule as in LMDB (store/provisional.h).
#include <map>
#include <unordered_map>
#include <string>
#include <utility>

#include "senderwatch/store.h"
#include "store/provisional.h"

namespace senderwatch {
namespace {

// LMDB's default maximum key size, kept here too so both stores refuse the
// same keys.
constexpr size_t kMaxKeyBytes = 511;

class MemoryStore final : public Store {
 public:
  MemoryStore(int64_t retention_seconds, uint64_t provisional_cap)
      : retention_seconds_(retention_seconds), provisional_cap_(provisional_cap) {}

  Result<AccountRecord> Update(std::string_view account, const Mutator& mutate) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    if (auto hit = index_.find(account); hit != index_.end()) {
      // In place: kSkip promises that nothing changed.
      AccountRecord& record = *hit->second;
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
    index_.emplace(it->first, &it->second);
    return record;
  }

  Result<void> ModifyProvisional(std::string_view account, const Mutator& mutate) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    if (index_.contains(account)) return Modify(account, mutate);
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
    if (auto hit = index_.find(account); hit != index_.end()) {
      mutate(*hit->second);  // in place: kSkip promises nothing changed
      hit->second->account.assign(account);
      return {};
    }
    auto created = Update(account, mutate);
    if (!created) return std::unexpected(created.error());
    return {};
  }

  Result<std::optional<AccountRecord>> Get(std::string_view account) override {
    if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
    auto it = index_.find(account);
    if (it != index_.end()) return std::optional<AccountRecord>(*it->second);
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
    index_.erase(it->first);
    records_.erase(it);
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
        index_.erase(it->first);
        it = records_.erase(it);
      } else {
        ++it;
      }
    }
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
  std::map<std::string, AccountRecord, std::less<>> records_;
  // Hash index into records_ (std::map nodes never move): Update and Get
  // find an account in O(1) instead of O(log n) string comparisons.
  std::unordered_map<std::string_view, AccountRecord*> index_;
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
