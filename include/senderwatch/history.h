// An account's long memory: what it usually sends, hour by hour, over the
// learning span (up to 14 days), and which recipients it has written to.
// This is what lets a limit follow each account instead of being one guess
// for all: a hijack shows as a change against the account's own past.
//
// Kept apart from the record (EncodeHistory/DecodeHistory, its own format
// in docs/format.md) so the per-event record stays small; the store keeps
// both in one transaction.
#ifndef SENDERWATCH_HISTORY_H_
#define SENDERWATCH_HISTORY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "senderwatch/clock.h"
#include "senderwatch/error.h"
#include "senderwatch/metric.h"
#include "senderwatch/window.h"

namespace senderwatch {

inline constexpr int kHistoryHours = 14 * 24;
// Each generation of the recipient filter is a Bloom filter of this many
// bytes with three hash functions: about 2 % false positives at 250
// distinct recipients per generation, 10 % at 500 (a false positive counts
// a new recipient as known, so the ratio can only be underestimated).
inline constexpr int kRecipientFilterBytes = 256;
inline constexpr uint8_t kHistoryVersion = 1;

// Hourly counts are stored on a logarithmic byte scale: exact up to 31,
// then steps of 2^(1/16) (4.4 %), up to about 490,000 per hour.
uint8_t QuantizeCount(uint64_t count);
uint64_t DequantizeCount(uint8_t code);

struct AccountHistory {
  uint32_t head_hour = 0;  // newest completed hour stored (hours since epoch); 0: none
  std::array<uint8_t, kHistoryHours> recipients{};
  std::array<uint8_t, kHistoryHours> bounces{};
  // Two generations of recipients, each half the learning span long, so a
  // recipient is "known" for between one half and one whole span.
  uint32_t filter_generation = 0;
  std::array<uint8_t, kRecipientFilterBytes> current{};
  std::array<uint8_t, kRecipientFilterBytes> previous{};

  // Moves the completed hours before `now_hour` from `hours` (the record's
  // exact 24h ring) into the long history. Called before the ring advances.
  void Absorb(const SlotRing<24, uint16_t>& hours, uint32_t now_hour);

  // Remembers `recipient` (already normalised); true when it was not known.
  // `generation_hours` is half the learning span.
  bool NoteRecipient(std::string_view recipient, uint32_t now_hour, uint32_t generation_hours);

  // The count of `counter` (kRecipients or kBounces) in completed hour
  // `hour`, or nullopt when that hour is older than the history holds.
  std::optional<uint64_t> HourCount(Counter counter, uint32_t hour) const;
};

std::string EncodeHistory(const AccountHistory& history);
// Like DecodeRecord: never trusts its input.
Result<AccountHistory> DecodeHistory(std::string_view bytes);

}  // namespace senderwatch

#endif  // SENDERWATCH_HISTORY_H_
