// One account's state: sliding-window counters, recent client networks and
// its lock. This is what the store keeps per account; the byte layout is
// fixed, versioned and little-endian, documented in docs/format.md, and only
// EncodeRecord/DecodeRecord know it (the CLI never parses records itself).
#ifndef SENDERWATCH_RECORD_H_
#define SENDERWATCH_RECORD_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "senderwatch/clock.h"
#include "senderwatch/error.h"
#include "senderwatch/history.h"
#include "senderwatch/evidence.h"
#include "senderwatch/metric.h"
#include "senderwatch/network.h"
#include "senderwatch/window.h"

namespace senderwatch {

// Version 2 added the spam_rejects, sender_mismatch and new-recipient
// counters; version 1 records are read and rewritten as version 2.
inline constexpr uint8_t kRecordVersion = 2;
// Windows up to 1h: 60 one-minute slots. Longer windows: 24 one-hour slots.
// Counts saturate at 65535 per slot.
using MinuteRing = SlotRing<60, uint16_t>;
using HourRing = SlotRing<24, uint16_t>;
inline constexpr int kMaxNetworks = 16;

struct NetworkSighting {
  ClientNetwork network;
  uint32_t first_minute = 0;  // minutes since the epoch
  uint32_t last_minute = 0;
};

// Why and since when an account is locked. A lock is written with a durable
// (fsynced) commit and survives a store rebuild through the lock journal.
// The evidence (evidence.h) is that of the verdict that locked, or "manual".
struct LockState : Evidence {
  bool locked = false;
  UnixSeconds since = 0;
  UnixSeconds until = 0;  // 0: until a person releases it
  std::string reason;     // human text: the evidence, or the admin's reason
  std::string by;         // "senderwatch" for automatic locks, else the admin
};

struct ReleaseInfo {
  UnixSeconds at = 0;     // 0: never released
  std::string by;
  std::string reason;
};

struct AccountRecord {
  std::string account;    // normalised name (the store key)
  UnixSeconds first_seen = 0;
  UnixSeconds last_seen = 0;
  MinuteRing minutes;
  HourRing hours;
  std::array<NetworkSighting, kMaxNetworks> networks{};
  uint8_t network_count = 0;
  LockState lock;
  ReleaseInfo last_release;
  uint32_t lock_count = 0;  // how often this account has been locked
  // Lock rules ignore evidence at or before this time (set by a release), so
  // a released account is not locked again by the spam that got it locked.
  UnixSeconds evidence_after = 0;
  // The long-term history (learned limits, known recipients). Stored apart
  // from the record (EncodeHistory); a store that keeps no history leaves it
  // empty, and learned limits then fall back to the static ones.
  AccountHistory history;

  // Counts `n` events of `counter` at time `now` in both rings (completed
  // hours move into the history first).
  void Count(Counter counter, UnixSeconds now, uint64_t n = 1);
  // Remembers a client network seen at `now` (the oldest is forgotten when
  // kMaxNetworks are remembered).
  void SeeNetwork(const ClientNetwork& network, UnixSeconds now);
  // True when a lock is in force at `now` (an expired timed lock is not).
  bool IsLocked(UnixSeconds now) const;
};

// Sum of `counter` over the window ending at `now`, counting only slots after
// `evidence_after` (0: all). Windows <= 1h use minute slots, else hour slots.
uint64_t CounterInWindow(const AccountRecord& record, Counter counter,
                         int64_t window_seconds, UnixSeconds now,
                         UnixSeconds evidence_after = 0);
// Every counter over the same window, in one pass (see CounterInWindow).
std::array<uint64_t, kCounterCount> CountersInWindow(const AccountRecord& record,
                                                     int64_t window_seconds, UnixSeconds now,
                                                     UnixSeconds evidence_after = 0);
// Distinct client networks last seen within the window.
uint64_t NetworksInWindow(const AccountRecord& record, int64_t window_seconds,
                          UnixSeconds now, UnixSeconds evidence_after = 0);

// The account name is the store key and is not repeated in the bytes: key
// and value together must fit one LMDB node (about 2 KiB) to stay inline.
std::string EncodeRecord(const AccountRecord& record);
// Never trusts its input: any byte string gives a record or an Error
// (kStoreCorrupt for damage, kUnsupported for a newer version). `account`
// (the key the bytes were stored under) becomes record.account.
Result<AccountRecord> DecodeRecord(std::string_view bytes, std::string_view account);

}  // namespace senderwatch

#endif  // SENDERWATCH_RECORD_H_
