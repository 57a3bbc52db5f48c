// The counter store: one record per account, read-modify-written atomically.
// The interface hides the backend (LMDB today; a networked store such as
// Redis, shared by several Exim hosts, can implement it later), so no LMDB
// type appears here.
//
// A Store object belongs to one process and must not be used after fork();
// open a new one in the child. Not thread-safe.
#ifndef SENDERWATCH_STORE_H_
#define SENDERWATCH_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/clock.h"
#include "senderwatch/error.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"

namespace senderwatch {

// What an update asks the store to do with the record it changed.
enum class WriteMode {
  kSkip,     // nothing changed: write nothing
  kSoft,     // counters: synced according to the durability setting
  kDurable,  // a lock changed: synced before Update returns
};

struct ScanReport {
  uint64_t records = 0;
  uint64_t undecodable = 0;  // records skipped because they could not be decoded
};

struct PruneReport {
  uint64_t examined = 0;
  uint64_t removed = 0;
  uint64_t bytes_freed = 0;  // encoded record bytes removed
  uint64_t set_aside = 0;    // damaged records moved aside (see Undecodable)
};

// A record the store holds but cannot decode: damaged, or written by a newer
// senderwatch. Never deleted by the store: either still in place (a newer
// version's record, or damage not yet pruned) or set aside by Prune.
struct UndecodableRecord {
  std::string account;             // its key, raw bytes
  std::string problem;             // why it cannot be decoded
  uint64_t bytes = 0;              // size of the stored record
  bool set_aside = false;          // moved aside by Prune (else still in place)
  UnixSeconds set_aside_at = 0;
  bool journal_locked = false;     // the lock journal holds the account as locked
};

struct StoreStats {
  std::string location;          // path or URL
  uint64_t records = 0;
  uint64_t locked = 0;
  uint64_t provisional = 0;      // provisional records (failed logins of unknown names)
  uint64_t map_size = 0;         // bytes reserved (LMDB map size)
  uint64_t used_bytes = 0;       // bytes in use by pages
  uint64_t file_bytes = 0;       // size of the data file
  UnixSeconds oldest_activity = 0;
  uint64_t stale_readers_cleared = 0;
  uint64_t undecodable = 0;      // records in place that cannot be decoded
  uint64_t set_aside = 0;        // damaged records kept aside (UndecodableRecord)
  std::string backend = "lmdb";  // "lmdb", "memory" or "redis"
  // For backend "redis": whether Redis answered. When not, the figures are
  // the local fallback store's and `problem` says why Redis did not answer.
  bool reachable = true;
  std::string problem;
};

class Store {
 public:
  using Mutator = std::function<WriteMode(AccountRecord&)>;
  using Visitor = std::function<bool(const AccountRecord&)>;  // false: stop

  virtual ~Store() = default;

  // Reads the record of `account` (a fresh one with only `account` set when
  // absent), lets `mutate` change it and writes it back atomically unless
  // `mutate` returns kSkip. `mutate` may run more than once (a write that
  // found the map full is retried after pruning), so it must only change
  // the record it is given. Returns the record as it is now. A record that
  // cannot be decoded is an Error and is left untouched (Get still answers
  // the lock the lock journal holds for it).
  virtual Result<AccountRecord> Update(std::string_view account,
                                       const Mutator& mutate) = 0;

  // Update without handing the record back, for callers that learn what
  // they need inside `mutate` (the engine's hot path): a store that keeps
  // records in memory then copies nothing.
  virtual Result<void> Modify(std::string_view account, const Mutator& mutate) {
    auto updated = Update(account, mutate);
    if (!updated) return std::unexpected(updated.error());
    return {};
  }

  // Modify for an event that alone must not create a record: a failed login
  // names any user an attacker cares to invent. When `account` has a record
  // this is Modify. Otherwise the record `mutate` sees and changes is a
  // provisional record, kept in a table bounded by ProvisionalCap(): when a
  // new name finds it full, a batch of the least useful entries is evicted
  // first (unlocked ones with the fewest recent failures), and a store whose
  // map is full empties part of it before it gives up on any write. A lock
  // taken on a provisional record stays there (synced, but not in the lock
  // journal, so a flood of invented names cannot grow the journal), and so
  // is bounded too. Update and Modify of such a name start from its
  // provisional record and make it a record: its failed logins, and its
  // lock, join the account. Provisional records keep no history.
  virtual Result<void> ModifyProvisional(std::string_view account, const Mutator& mutate) = 0;

  // Reads without writing (a read-only transaction); nullopt when absent.
  // A record that cannot be decoded is an Error, unless the lock journal
  // holds the account as locked: then the record the journal describes
  // (the lock, no counters), so a damaged record never releases a lock.
  // Falls back to the provisional record of a name without a record.
  virtual Result<std::optional<AccountRecord>> Get(std::string_view account) = 0;

  // Visits every record in key order, in one consistent snapshot
  // (provisional records are not visited).
  virtual Result<ScanReport> ForEach(const Visitor& visit) = 0;

  // Removes a record (and a provisional record of the name); false when
  // there was none.
  virtual Result<bool> Erase(std::string_view account) = 0;

  // Removes records inactive for longer than the retention that are not
  // locked, neither in the record nor in the lock journal; provisional
  // records by the same rule. Damaged records are moved aside (Undecodable
  // lists them) and, where the journal holds the account as locked, replaced
  // by the journal's lock; records of a newer senderwatch stay where they are.
  virtual Result<PruneReport> Prune(UnixSeconds now) = 0;

  // Every record that cannot be decoded: those in place, then those set
  // aside, each in key order. A store that keeps decoded records only has none.
  virtual Result<std::vector<UndecodableRecord>> Undecodable() {
    return std::vector<UndecodableRecord>();
  }

  virtual Result<StoreStats> Stats() = 0;

  // Every account locked at `now` (for a host that keeps copies of the
  // cluster's locks: the lock state matters, counters may be missing).
  // The default visits every record; a store with a lock index uses it.
  virtual Result<std::vector<AccountRecord>> Locked(UnixSeconds now);

  // Where the store lives, for messages.
  virtual std::string Location() const = 0;
};

enum class OpenMode { kReadWrite, kReadOnly };

// Opens (creating if needed) the LMDB store at settings.path: a directory
// holding data.mdb and lock.mdb, files mode 0660. Stale reader slots of dead
// processes are cleared. A store that LMDB cannot open as a database is set
// aside (renamed data.mdb.corrupt-TIME) and rebuilt, restoring locks from the
// lock journal, and the event is logged. When run as root, created files are
// given the owner and group of the directory so the Exim user can open them.
// `clock` and `logger` are borrowed and must outlive the store.
Result<std::unique_ptr<Store>> OpenLmdbStore(const StoreSettings& settings,
                                             const Clock& clock, Logger& logger,
                                             OpenMode mode = OpenMode::kReadWrite);

// The Redis store of settings.redis (backend = "redis"), shared by several
// Exim hosts: the same records as in LMDB, keys under redis_prefix. No
// connection is made here: each process connects on its first call (again
// after fork() or a failure), with redis_timeout for connect and commands.
// Failing to reach Redis is a kStoreOpen error. `clock` and `logger` are
// borrowed and must outlive the store.
Result<std::unique_ptr<Store>> OpenRedisStore(const StoreSettings& settings, const Clock& clock,
                                              Logger& logger);

// What CopyStore copied.
struct CopyReport {
  uint64_t records = 0;
  uint64_t locked = 0;       // of them, locked at `now`
  uint64_t undecodable = 0;  // records of `from` that could not be read: not copied
};

// Copies every record of `from`, with its history and lock, into `to`
// (`senderwatch migrate`: LMDB to Redis and back), replacing a record of
// the same name there; provisional records are not copied. Locks are
// written durably, and go into `to`'s lock journal.
Result<CopyReport> CopyStore(Store& from, Store& to, UnixSeconds now);

// A store in memory: for log replay and tests. `settings` gives the
// retention and the provisional cap; only those are used.
std::unique_ptr<Store> NewMemoryStore(int64_t retention_seconds = 7 * 24 * 3600);
std::unique_ptr<Store> NewMemoryStore(const StoreSettings& settings);

}  // namespace senderwatch

#endif  // SENDERWATCH_STORE_H_
