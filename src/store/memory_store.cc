// A Store kept in a std::map: log replay runs the policy over weeks of Exim
// logs in seconds with it, and tests use it where LMDB is beside the point.
// It follows the LmdbStore's semantics (key order, key limits, what Prune
// removes) so code tested against one behaves the same against the other.
// Records are kept decoded: nothing here can be undecodable.
#include <map>
#include <unordered_map>
#include <string>
#include <utility>

#include "senderwatch/store.h"

namespace senderwatch {
namespace {

// LMDB's default maximum key size, kept here too so both stores refuse the
// same keys.
constexpr size_t kMaxKeyBytes = 511;

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(int64_t retention_seconds) : retention_seconds_(retention_seconds) {}

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
    record.account = std::string(account);
    const WriteMode mode = mutate(record);
    record.account = std::string(account);
    if (mode == WriteMode::kSkip) return record;
    auto [it, inserted] = records_.emplace(std::string(account), record);
    index_.emplace(it->first, &it->second);
    return record;
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
    if (it == index_.end()) return std::optional<AccountRecord>();
    return std::optional<AccountRecord>(*it->second);
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
    auto it = records_.find(account);
    if (it == records_.end()) return false;
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
    return report;
  }

  // `locked` counts records whose lock flag is set: this store has no clock
  // to tell whether a timed lock has ended.
  Result<StoreStats> Stats() override {
    StoreStats stats;
    stats.location = Location();
    stats.records = records_.size();
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
  // std::string compares bytes as unsigned char: the same order as LMDB.
  std::map<std::string, AccountRecord, std::less<>> records_;
  // Hash index into records_ (std::map nodes never move): Update and Get
  // find an account in O(1) instead of O(log n) string comparisons.
  std::unordered_map<std::string_view, AccountRecord*> index_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore(int64_t retention_seconds) {
  return std::make_unique<MemoryStore>(retention_seconds);
}

}  // namespace senderwatch
