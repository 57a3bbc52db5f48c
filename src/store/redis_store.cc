// The Redis store: the records of several Exim hosts in one Redis, so a
// spammer spread over the hosts is counted once and a lock or release made
// on one host holds on all. The engine and the record bytes are those of
// the LMDB store (EncodeRecord, EncodeHistory); only where they live differs
// (docs/format.md, "Redis").
//
//  * Updates are optimistic: WATCH the account's keys and read them in one
//    round trip, run the mutator here, then MULTI/EXEC the writes in a
//    second. EXEC fails when another process changed the keys meanwhile;
//    the update then starts over, a bounded number of times. A server-side
//    script would need the record format and the engine in Lua; this way
//    Redis stores bytes and every host runs the very same C++ engine.
//  * Exim's process model: one connection per process, made on the first
//    call, made again after fork() (pid check) or after a failure. Connect
//    and commands time out after redis_timeout; any failure to talk to
//    Redis is a kStoreOpen error, which FailoverStore answers from the
//    local LMDB store.
//  * Records expire with the retention (EXPIRE after every write); a lock
//    without an end keeps its record (PERSIST). The lock journal is a hash
//    beside the records, so prune never drops an account it holds as locked.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "senderwatch/account.h"
#include "senderwatch/store.h"
#include "store/lock_journal.h"
#include "store/provisional.h"
#include "store/redis_connection.h"
#include "store/redis_keys.h"

namespace senderwatch {
namespace {

using store_internal::JournalEntry;
using store_internal::RedisAddress;
using store_internal::RedisCommand;
using store_internal::RedisConnection;
using store_internal::RedisKeys;
using store_internal::RedisReply;

// The LMDB store's key limit: both backends refuse the same names, so
// `migrate` never meets a record it cannot copy.
constexpr size_t kMaxKeyBytes = 511;
// EXEC found the keys changed by another process: start over, this often.
// Contention is per account (one account's recipients racing), so a few
// retries are plenty; the bound keeps a pathological case from spinning.
constexpr int kMaxAttempts = 50;
// A record written with a last activity already older than the retention
// (a clock set back, a test's clock) still lives this long, so a prune can
// see it instead of Redis dropping it at once.
constexpr int64_t kMinTtlSeconds = 3600;
// Keys fetched per round trip when scanning.
constexpr size_t kScanBatch = 200;

class RedisStore final : public Store {
 public:
  RedisStore(const StoreSettings& settings, RedisAddress address, const Clock& clock,
             Logger& logger)
      : settings_(settings),
        address_(std::move(address)),
        keys_(settings.redis_prefix),
        clock_(clock),
        logger_(logger) {}

  // Update and ModifyProvisional share Write; the rest reads as LMDB's.
  Result<std::optional<AccountRecord>> Get(std::string_view account) override;
  Result<AccountRecord> Update(std::string_view account, const Mutator& mutate) override;
  Result<void> ModifyProvisional(std::string_view account, const Mutator& mutate) override;
  Result<ScanReport> ForEach(const Visitor& visit) override;
  Result<bool> Erase(std::string_view account) override;
  Result<PruneReport> Prune(UnixSeconds now) override;
  Result<StoreStats> Stats() override;
  Result<std::vector<AccountRecord>> Locked(UnixSeconds now) override;
  std::string Location() const override { return "redis " + address_.text; }

 private:
  // Runs commands in one round trip on this process's connection, made
  // first if needed. A failed connection is dropped (the next call makes a
  // new one).
  Result<std::vector<RedisReply>> Run(const std::vector<RedisCommand>& commands);
  Result<void> CheckKey(std::string_view account) const;
  Error InStore(std::string message, ErrorKind kind = ErrorKind::kStoreIo) const {
    return Error{kind, Location() + ": " + std::move(message), 0};
  }
  // A Redis error reply as an Error: OOM (maxmemory reached) is a full store.
  Error ReplyError(std::string_view command, const RedisReply& reply) const {
    const bool oom = reply.str.starts_with("OOM");
    return InStore(std::string(command) + ": " + reply.str,
                   oom ? ErrorKind::kStoreFull : ErrorKind::kStoreIo);
  }
  Result<AccountRecord> Write(std::string_view account, const Mutator& mutate, bool provisional);
  // One optimistic attempt; nullopt when EXEC found the keys changed.
  Result<std::optional<AccountRecord>> WriteOnce(std::string_view account, const Mutator& mutate,
                                                 bool provisional);
  Result<std::optional<AccountRecord>> WriteProvisional(std::string_view account,
                                                        AccountRecord& record, bool existed,
                                                        const Mutator& mutate);
  Result<void> Unwatch();
  // Seconds until the record may expire; nullopt: never (a lock without end).
  std::optional<int64_t> TimeToLive(const AccountRecord& record) const;
  void AddExpiry(std::vector<std::string>& storage, const std::string& key,
                 const AccountRecord& record) const;
  // Every record key's account, in byte order.
  Result<std::vector<std::string>> ScanAccounts();
  // The journal's lock of `account` if it holds at `now`.
  Result<std::optional<JournalEntry>> JournalLock(std::string_view account);

  const StoreSettings settings_;
  const RedisAddress address_;
  const RedisKeys keys_;
  const Clock& clock_;
  Logger& logger_;
  pid_t pid_ = 0;
  std::optional<RedisConnection> connection_;
};

Result<std::vector<RedisReply>> RedisStore::Run(const std::vector<RedisCommand>& commands) {
  // A connection inherited across fork() is the parent's: closing our copy
  // of the socket is harmless, using it would mix both processes' replies.
  if (pid_ != getpid()) {
    connection_.reset();
    pid_ = getpid();
  }
  if (!connection_) {
    auto connected = RedisConnection::Connect(address_, settings_.redis_user,
                                              settings_.redis_password, settings_.redis_timeout_ms);
    if (!connected) return std::unexpected(connected.error());
    connection_.emplace(std::move(*connected));
  }
  auto replies = connection_->Pipeline(commands);
  if (!replies) connection_.reset();
  return replies;
}

Result<void> RedisStore::CheckKey(std::string_view account) const {
  if (account.empty() || account.size() > kMaxKeyBytes) {
    return MakeError(ErrorKind::kInvalidArgument,
                     Location() + ": an account name must have 1 to " +
                         std::to_string(kMaxKeyBytes) + " bytes, not " +
                         std::to_string(account.size()));
  }
  return {};
}

Result<void> RedisStore::Unwatch() {
  auto r = Run({{"UNWATCH"}});
  if (!r) return std::unexpected(r.error());
  return {};
}

std::optional<int64_t> RedisStore::TimeToLive(const AccountRecord& record) const {
  UnixSeconds last = record.last_seen;
  if (record.lock.locked) {
    if (record.lock.until == 0) return std::nullopt;
    last = std::max(last, record.lock.until);
  }
  return std::max(last + settings_.retention_seconds - clock_.Now(), kMinTtlSeconds);
}

// Appends the expiry command's arguments to `storage` (views into it are
// taken once all commands are built).
void RedisStore::AddExpiry(std::vector<std::string>& storage, const std::string& key,
                           const AccountRecord& record) const {
  if (const auto ttl = TimeToLive(record)) {
    storage.insert(storage.end(), {"EXPIRE", key, std::to_string(*ttl)});
  } else {
    storage.insert(storage.end(), {"PERSIST", key});
  }
}

// Builds commands from argument groups: `groups` holds each command's
// argument count, `args` all arguments in order.
std::vector<RedisCommand> Commands(const std::vector<std::string>& args,
                                   const std::vector<size_t>& groups) {
  std::vector<RedisCommand> commands;
  size_t at = 0;
  for (const size_t n : groups) {
    commands.emplace_back(args.begin() + static_cast<std::ptrdiff_t>(at),
                          args.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return commands;
}

// Collects commands and their arguments (the strings outlive the views).
class Batch {
 public:
  void Add(std::initializer_list<std::string> args) {
    args_.insert(args_.end(), args);
    groups_.push_back(args.size());
  }
  void Add(std::vector<std::string> args) {
    groups_.push_back(args.size());
    args_.insert(args_.end(), std::make_move_iterator(args.begin()),
                 std::make_move_iterator(args.end()));
  }
  std::vector<RedisCommand> Build() const { return Commands(args_, groups_); }
  size_t size() const { return groups_.size(); }

 private:
  std::vector<std::string> args_;
  std::vector<size_t> groups_;
};

Result<AccountRecord> RedisStore::Update(std::string_view account, const Mutator& mutate) {
  return Write(account, mutate, /*provisional=*/false);
}

Result<void> RedisStore::ModifyProvisional(std::string_view account, const Mutator& mutate) {
  if (auto r = Write(account, mutate, /*provisional=*/true); !r) return std::unexpected(r.error());
  return {};
}

Result<AccountRecord> RedisStore::Write(std::string_view account, const Mutator& mutate,
                                        bool provisional) {
  if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
  std::minstd_rand jitter(static_cast<unsigned>(getpid()));
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto written = WriteOnce(account, mutate, provisional);
    if (!written) return std::unexpected(written.error());
    if (*written) return std::move(**written);
    // Lost the race: back off a little, more with each loss, so that many
    // processes on one hot account do not collide in lockstep.
    if (attempt >= 2) {
      std::this_thread::sleep_for(std::chrono::microseconds(
          jitter() % static_cast<unsigned>(50 * std::min(attempt, 20))));
    }
  }
  return std::unexpected(InStore("record of " + EscapeForLog(account) + ": changed by other processes " +
                                 std::to_string(kMaxAttempts) + " times in a row; giving up"));
}

Result<std::optional<AccountRecord>> RedisStore::WriteOnce(std::string_view account,
                                                           const Mutator& mutate,
                                                           bool provisional) {
  const std::string key = keys_.Record(account);
  const std::string pkey = keys_.Provisional(account);
  auto read = Run({{"WATCH", key, pkey}, {"HMGET", key, "r", "h"}, {"GET", pkey}});
  if (!read) return std::unexpected(read.error());
  const RedisReply& fields = (*read)[1];
  const RedisReply& pending = (*read)[2];
  if ((*read)[0].is_error()) return std::unexpected(ReplyError("WATCH", (*read)[0]));
  if (fields.type != RedisReply::Type::kArray || fields.elements.size() != 2) {
    (void)Unwatch();
    return std::unexpected(InStore("HMGET: " + (fields.is_error() ? fields.str : "unexpected reply")));
  }
  const RedisReply& raw = fields.elements[0];
  const bool have = raw.type == RedisReply::Type::kString;
  AccountRecord record;
  if (have) {
    auto decoded = DecodeRecord(raw.str, account);
    if (!decoded) {
      (void)Unwatch();
      return MakeError(decoded.error().kind,
                       Location() + ": record of " + EscapeForLog(account) + ": " +
                           decoded.error().message,
                       decoded.error().code);
    }
    record = std::move(*decoded);
  }
  bool adopted = false;
  if (!have && pending.type == RedisReply::Type::kString) {
    if (auto decoded = DecodeRecord(pending.str, account)) record = std::move(*decoded);
    adopted = true;
  }
  record.account = std::string(account);
  if (provisional && !have) return WriteProvisional(account, record, adopted, mutate);
  const RedisReply& stored_history = fields.elements[1];
  if (stored_history.type == RedisReply::Type::kString) {
    if (auto history = DecodeHistory(stored_history.str)) record.history = std::move(*history);
  }
  const auto journal_before = adopted ? std::nullopt : store_internal::JournalEntryOf(record);

  const WriteMode mode = mutate(record);
  record.account = std::string(account);
  if (mode == WriteMode::kSkip) {
    if (auto r = Unwatch(); !r) return std::unexpected(r.error());
    return std::optional<AccountRecord>(std::move(record));
  }
  Batch batch;
  batch.Add({"MULTI"});
  std::vector<std::string> hset{"HSET", key, "r", EncodeRecord(record)};
  // The history changes once an hour and with a new recipient: written then.
  static const std::string kEmptyHistory = EncodeHistory(AccountHistory{});
  std::string history = EncodeHistory(record.history);
  const bool history_same = stored_history.type == RedisReply::Type::kString
                                ? history == stored_history.str
                                : history == kEmptyHistory;
  if (!history_same) hset.insert(hset.end(), {"h", std::move(history)});
  batch.Add(std::move(hset));
  std::vector<std::string> expiry;
  AddExpiry(expiry, key, record);
  batch.Add(std::move(expiry));
  if (adopted) {
    batch.Add({"DEL", pkey});
    batch.Add({"SREM", keys_.ProvisionalSet(), store_internal::HexEncode(account)});
  }
  const auto journal_after = store_internal::JournalEntryOf(record);
  if (store_internal::JournalDiffers(journal_before, journal_after)) {
    if (journal_after) {
      batch.Add({"HSET", keys_.Locks(), store_internal::HexEncode(account),
                 store_internal::FormatJournalLine(*journal_after)});
    } else {
      batch.Add({"HDEL", keys_.Locks(), store_internal::HexEncode(account)});
    }
  }
  batch.Add({"EXEC"});
  auto written = Run(batch.Build());
  if (!written) return std::unexpected(written.error());
  const RedisReply& exec = written->back();
  if (exec.is_nil()) return std::optional<AccountRecord>();  // lost the race
  if (exec.is_error()) return std::unexpected(ReplyError("EXEC", exec));
  for (const auto& reply : exec.elements) {
    if (reply.is_error()) return std::unexpected(ReplyError("EXEC", reply));
  }
  return std::optional<AccountRecord>(std::move(record));
}

// The rest of WriteOnce for a name without a record (still watched):
// `record` is its provisional record (`existed`) or a new one. A new name
// that finds the table full evicts a batch first, in the same transaction.
// The set of names is not watched, so racing new names may pass the cap by
// a few: the bound holds within the number of concurrent writers.
Result<std::optional<AccountRecord>> RedisStore::WriteProvisional(std::string_view account,
                                                                  AccountRecord& record,
                                                                  bool existed,
                                                                  const Mutator& mutate) {
  const WriteMode mode = mutate(record);
  record.account = std::string(account);
  record.history = AccountHistory{};  // none is kept for provisional records
  if (mode == WriteMode::kSkip) {
    if (auto r = Unwatch(); !r) return std::unexpected(r.error());
    return std::optional<AccountRecord>(std::move(record));
  }
  const uint64_t cap = ProvisionalCap(settings_);
  const std::string set = keys_.ProvisionalSet();
  Batch batch;
  batch.Add({"MULTI"});
  if (!existed) {
    auto size = Run({{"SCARD", set}});
    if (!size) return std::unexpected(size.error());
    const uint64_t count = static_cast<uint64_t>(std::max<long long>(0, (*size)[0].integer));
    if (const uint64_t evict = store_internal::ProvisionalEvictions(count, cap)) {
      auto members = Run({{"SMEMBERS", set}});
      if (!members) return std::unexpected(members.error());
      std::vector<std::string> hex_names;
      for (auto& member : (*members)[0].elements) hex_names.push_back(std::move(member.str));
      Batch gets;
      for (const auto& hex : hex_names) {
        gets.Add({"GET", keys_.Provisional(store_internal::HexDecode(hex).value_or(""))});
      }
      auto values = gets.size() ? Run(gets.Build()) : Result<std::vector<RedisReply>>();
      if (!values) return std::unexpected(values.error());
      std::vector<store_internal::ProvisionalRank> ranks;
      for (size_t i = 0; i < hex_names.size(); ++i) {
        const RedisReply& value = (*values)[i];
        auto decoded = value.type == RedisReply::Type::kString
                           ? DecodeRecord(value.str, "")
                           : Result<AccountRecord>(std::unexpected(Error{}));
        // Expired or undecodable entries rank first.
        auto rank = decoded ? store_internal::RankProvisional(*decoded, record.last_seen)
                            : store_internal::ProvisionalRank{};
        rank.account = hex_names[i];
        ranks.push_back(std::move(rank));
      }
      for (const auto& victim : store_internal::PickEvictions(std::move(ranks), evict)) {
        const auto name = store_internal::HexDecode(victim);
        if (name) batch.Add({"DEL", keys_.Provisional(*name)});
        batch.Add({"SREM", set, victim});
      }
    }
    if (cap == 0) {
      if (auto r = Unwatch(); !r) return std::unexpected(r.error());
      return std::optional<AccountRecord>(std::move(record));
    }
  }
  const std::string pkey = keys_.Provisional(account);
  const auto ttl = TimeToLive(record);
  if (ttl) {
    batch.Add({"SET", pkey, EncodeRecord(record), "EX", std::to_string(*ttl)});
  } else {
    batch.Add({"SET", pkey, EncodeRecord(record)});
  }
  batch.Add({"SADD", set, store_internal::HexEncode(account)});
  batch.Add({"EXEC"});
  auto written = Run(batch.Build());
  if (!written) return std::unexpected(written.error());
  const RedisReply& exec = written->back();
  if (exec.is_nil()) return std::optional<AccountRecord>();
  if (exec.is_error()) return std::unexpected(ReplyError("EXEC", exec));
  return std::optional<AccountRecord>(std::move(record));
}

Result<std::optional<JournalEntry>> RedisStore::JournalLock(std::string_view account) {
  auto reply = Run({{"HGET", keys_.Locks(), store_internal::HexEncode(account)}});
  if (!reply) return std::unexpected(reply.error());
  const RedisReply& line = (*reply)[0];
  if (line.type != RedisReply::Type::kString) return std::optional<JournalEntry>();
  auto entry = store_internal::ParseJournalLine(line.str);
  if (!entry || entry->account != account) return std::optional<JournalEntry>();
  if (entry->lock.until != 0 && entry->lock.until <= clock_.Now()) return std::optional<JournalEntry>();
  return entry;
}

Result<std::optional<AccountRecord>> RedisStore::Get(std::string_view account) {
  if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
  const std::string key = keys_.Record(account);
  auto read = Run({{"HMGET", key, "r", "h"}, {"GET", keys_.Provisional(account)}});
  if (!read) return std::unexpected(read.error());
  const RedisReply& fields = (*read)[0];
  if (fields.type != RedisReply::Type::kArray || fields.elements.size() != 2) {
    return std::unexpected(InStore("HMGET: " + (fields.is_error() ? fields.str : "unexpected reply")));
  }
  const RedisReply* raw = &fields.elements[0];
  const bool provisional = raw->type != RedisReply::Type::kString;
  if (provisional) raw = &(*read)[1];
  if (raw->type != RedisReply::Type::kString) return std::optional<AccountRecord>();
  auto decoded = DecodeRecord(raw->str, account);
  if (!decoded) {
    // As in LMDB: a lock the journal holds is the answer, never "not locked".
    auto lock = JournalLock(account);
    if (lock && *lock) return std::optional<AccountRecord>(store_internal::RecordFromJournal(**lock));
    return MakeError(decoded.error().kind,
                     Location() + ": record of " + EscapeForLog(account) + ": " +
                         decoded.error().message,
                     decoded.error().code);
  }
  const RedisReply& history = fields.elements[1];
  if (!provisional && history.type == RedisReply::Type::kString) {
    if (auto h = DecodeHistory(history.str)) decoded->history = std::move(*h);
  }
  return std::optional<AccountRecord>(std::move(*decoded));
}

Result<std::vector<std::string>> RedisStore::ScanAccounts() {
  std::set<std::string> accounts;  // SCAN may return a key twice
  const std::string pattern = keys_.RecordPattern();
  std::string cursor = "0";
  do {
    auto reply = Run({{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}});
    if (!reply) return std::unexpected(reply.error());
    const RedisReply& scan = (*reply)[0];
    if (scan.type != RedisReply::Type::kArray || scan.elements.size() != 2) {
      return std::unexpected(InStore("SCAN: " + (scan.is_error() ? scan.str : "unexpected reply")));
    }
    cursor = scan.elements[0].str;
    for (const auto& key : scan.elements[1].elements) {
      if (auto account = keys_.AccountOfRecordKey(key.str)) accounts.insert(std::move(*account));
    }
  } while (cursor != "0");
  return std::vector<std::string>(accounts.begin(), accounts.end());
}

// Not one snapshot as in LMDB: records are read in batches after the key
// scan, so a record changed meanwhile is seen as it is when its batch is read.
Result<ScanReport> RedisStore::ForEach(const Visitor& visit) {
  auto accounts = ScanAccounts();
  if (!accounts) return std::unexpected(accounts.error());
  ScanReport report;
  for (size_t start = 0; start < accounts->size(); start += kScanBatch) {
    const size_t end = std::min(accounts->size(), start + kScanBatch);
    Batch batch;
    for (size_t i = start; i < end; ++i) batch.Add({"HMGET", keys_.Record((*accounts)[i]), "r", "h"});
    auto replies = Run(batch.Build());
    if (!replies) return std::unexpected(replies.error());
    for (size_t i = start; i < end; ++i) {
      const RedisReply& fields = (*replies)[i - start];
      if (fields.type != RedisReply::Type::kArray || fields.elements.size() != 2 ||
          fields.elements[0].type != RedisReply::Type::kString) {
        continue;  // expired or erased since the scan
      }
      auto decoded = DecodeRecord(fields.elements[0].str, (*accounts)[i]);
      if (!decoded) {
        ++report.undecodable;
        continue;
      }
      if (fields.elements[1].type == RedisReply::Type::kString) {
        if (auto h = DecodeHistory(fields.elements[1].str)) decoded->history = std::move(*h);
      }
      ++report.records;
      if (!visit(*decoded)) return report;
    }
  }
  return report;
}

Result<bool> RedisStore::Erase(std::string_view account) {
  if (auto r = CheckKey(account); !r) return std::unexpected(r.error());
  const std::string hex = store_internal::HexEncode(account);
  auto replies = Run({{"MULTI"},
                      {"DEL", keys_.Record(account)},
                      {"DEL", keys_.Provisional(account)},
                      {"SREM", keys_.ProvisionalSet(), hex},
                      {"HDEL", keys_.Locks(), hex},
                      {"EXEC"}});
  if (!replies) return std::unexpected(replies.error());
  const RedisReply& exec = replies->back();
  if (exec.type != RedisReply::Type::kArray || exec.elements.size() != 4) {
    return std::unexpected(InStore("EXEC: " + (exec.is_error() ? exec.str : "unexpected reply")));
  }
  return exec.elements[0].integer > 0 || exec.elements[1].integer > 0;
}

// Expiry removes most stale records by itself; a prune removes the rest by
// the LMDB store's rule, each under WATCH so a record touched meanwhile stays.
Result<PruneReport> RedisStore::Prune(UnixSeconds now) {
  PruneReport report;
  auto accounts = ScanAccounts();
  if (!accounts) return std::unexpected(accounts.error());
  auto locked = Locked(now);
  if (!locked) return std::unexpected(locked.error());
  std::set<std::string, std::less<>> journal_locked;
  for (const auto& record : *locked) journal_locked.insert(record.account);
  auto stale = [&](const AccountRecord& record) {
    return record.last_seen + settings_.retention_seconds < now && !record.IsLocked(now);
  };
  for (const auto& account : *accounts) {
    ++report.examined;
    if (journal_locked.contains(account)) continue;
    const std::string key = keys_.Record(account);
    auto read = Run({{"WATCH", key}, {"HGET", key, "r"}});
    if (!read) return std::unexpected(read.error());
    const RedisReply& raw = (*read)[1];
    auto decoded = raw.type == RedisReply::Type::kString
                       ? DecodeRecord(raw.str, account)
                       : Result<AccountRecord>(std::unexpected(Error{}));
    // Undecodable records stay (their expiry removes them); so do live ones.
    if (!decoded || !stale(*decoded)) {
      if (auto r = Unwatch(); !r) return std::unexpected(r.error());
      continue;
    }
    auto removed = Run({{"MULTI"},
                        {"DEL", key},
                        {"HDEL", keys_.Locks(), store_internal::HexEncode(account)},
                        {"EXEC"}});
    if (!removed) return std::unexpected(removed.error());
    if (removed->back().type != RedisReply::Type::kArray) continue;  // touched meanwhile
    ++report.removed;
    report.bytes_freed += raw.str.size();
  }
  // Provisional records, by the same rule; names whose key expired leave the set.
  auto members = Run({{"SMEMBERS", keys_.ProvisionalSet()}});
  if (!members) return std::unexpected(members.error());
  for (const auto& member : (*members)[0].elements) {
    const auto account = store_internal::HexDecode(member.str);
    const std::string pkey = account ? keys_.Provisional(*account) : std::string();
    std::optional<RedisReply> value;
    if (account) {
      auto got = Run({{"GET", pkey}});
      if (!got) return std::unexpected(got.error());
      value = std::move((*got)[0]);
    }
    if (value && value->type == RedisReply::Type::kString) {
      ++report.examined;
      auto decoded = DecodeRecord(value->str, *account);
      if (decoded && !stale(*decoded)) continue;
      report.bytes_freed += value->str.size();
      ++report.removed;
    }
    Batch batch;
    if (account) batch.Add({"DEL", pkey});
    batch.Add({"SREM", keys_.ProvisionalSet(), member.str});
    if (auto r = Run(batch.Build()); !r) return std::unexpected(r.error());
  }
  return report;
}

// From the lock journal hash: one command, however many records there are.
Result<std::vector<AccountRecord>> RedisStore::Locked(UnixSeconds now) {
  auto journal = Run({{"HGETALL", keys_.Locks()}});
  if (!journal) return std::unexpected(journal.error());
  std::vector<AccountRecord> locked;
  const auto& pairs = (*journal)[0].elements;
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    auto entry = store_internal::ParseJournalLine(pairs[i + 1].str);
    if (entry && (entry->lock.until == 0 || entry->lock.until > now)) {
      locked.push_back(store_internal::RecordFromJournal(*entry));
    }
  }
  return locked;
}

Result<StoreStats> RedisStore::Stats() {
  StoreStats stats;
  stats.location = Location();
  stats.backend = "redis";
  const UnixSeconds now = clock_.Now();
  auto scanned = ForEach([&](const AccountRecord& record) {
    if (record.IsLocked(now)) ++stats.locked;
    if (record.last_seen > 0 &&
        (stats.oldest_activity == 0 || record.last_seen < stats.oldest_activity)) {
      stats.oldest_activity = record.last_seen;
    }
    return true;
  });
  if (!scanned) return std::unexpected(scanned.error());
  stats.records = scanned->records + scanned->undecodable;
  stats.undecodable = scanned->undecodable;
  auto info = Run({{"SCARD", keys_.ProvisionalSet()}, {"INFO", "memory"}});
  if (!info) return std::unexpected(info.error());
  stats.provisional = static_cast<uint64_t>(std::max<long long>(0, (*info)[0].integer));
  // used_memory and maxmemory of the whole Redis (other users' keys too).
  auto field = [&](std::string_view name) -> uint64_t {
    const std::string& text = (*info)[1].str;
    const std::string needle = "\n" + std::string(name) + ":";
    const size_t at = text.find(needle);
    if (at == std::string::npos) return 0;
    return std::strtoull(text.c_str() + at + needle.size(), nullptr, 10);
  };
  stats.used_bytes = field("used_memory");
  stats.map_size = field("maxmemory");
  return stats;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenRedisStore(const StoreSettings& settings, const Clock& clock,
                                              Logger& logger) {
  auto address = store_internal::ParseRedisAddress(settings.redis);
  if (!address) return std::unexpected(address.error());
  return std::unique_ptr<Store>(std::make_unique<RedisStore>(settings, std::move(*address), clock, logger));
}

}  // namespace senderwatch
