// AccountRecord behaviour: counting into the rings and reading windows.
// The slot choice (minutes up to 1h, hours beyond) is the one place that
// decides how exact a window is; docs/format.md and policy validation agree.
#include "senderwatch/record.h"

#include <algorithm>

#include "senderwatch/policy.h"

namespace senderwatch {
namespace {

uint32_t MinuteOf(UnixSeconds t) { return t <= 0 ? 0 : static_cast<uint32_t>(t / 60); }
uint32_t HourOf(UnixSeconds t) { return t <= 0 ? 0 : static_cast<uint32_t>(t / 3600); }

// First slot of a window of `slots` slots ending at `last`, moved past the
// slot holding `evidence_after` when that is later.
uint32_t FirstSlot(uint32_t last, int64_t slots, uint32_t evidence_slot, bool has_evidence_floor) {
  uint32_t first = slots > static_cast<int64_t>(last) ? 0 : last - static_cast<uint32_t>(slots) + 1;
  if (has_evidence_floor) first = std::max(first, evidence_slot + 1);
  return first;
}

}  // namespace

void AccountRecord::Count(Counter counter, UnixSeconds now, uint64_t n) {
  history.Absorb(hours, HourOf(now));
  minutes.Add(counter, MinuteOf(now), n);
  hours.Add(counter, HourOf(now), n);
  if (first_seen == 0) first_seen = now;
  last_seen = std::max(last_seen, now);
}

void AccountRecord::SeeNetwork(const ClientNetwork& network, UnixSeconds now) {
  const uint32_t minute = MinuteOf(now);
  for (uint8_t i = 0; i < network_count; ++i) {
    if (networks[i].network == network) {
      networks[i].last_minute = std::max(networks[i].last_minute, minute);
      return;
    }
  }
  NetworkSighting sighting{network, minute, minute};
  if (network_count < kMaxNetworks) {
    networks[network_count++] = sighting;
    return;
  }
  auto oldest = std::min_element(networks.begin(), networks.end(),
                                 [](const NetworkSighting& a, const NetworkSighting& b) {
                                   return a.last_minute < b.last_minute;
                                 });
  *oldest = sighting;
}

bool AccountRecord::IsLocked(UnixSeconds now) const {
  return lock.locked && (lock.until == 0 || now < lock.until);
}

uint64_t CounterInWindow(const AccountRecord& record, Counter counter,
                         int64_t window_seconds, UnixSeconds now,
                         UnixSeconds evidence_after) {
  if (window_seconds <= 0) return 0;
  const bool floor = evidence_after > 0;
  if (window_seconds <= kMaxMinuteWindow) {
    const uint32_t last = std::max(MinuteOf(now), record.minutes.head());
    const uint32_t first = FirstSlot(last, (window_seconds + 59) / 60,
                                     MinuteOf(evidence_after), floor);
    return record.minutes.Sum(counter, first, last);
  }
  const uint32_t last = std::max(HourOf(now), record.hours.head());
  const uint32_t first = FirstSlot(last, (window_seconds + 3599) / 3600,
                                   HourOf(evidence_after), floor);
  return record.hours.Sum(counter, first, last);
}

std::array<uint64_t, kCounterCount> CountersInWindow(const AccountRecord& record,
                                                     int64_t window_seconds, UnixSeconds now,
                                                     UnixSeconds evidence_after) {
  if (window_seconds <= 0) return {};
  const bool floor = evidence_after > 0;
  if (window_seconds <= kMaxMinuteWindow) {
    const uint32_t last = std::max(MinuteOf(now), record.minutes.head());
    const uint32_t first = FirstSlot(last, (window_seconds + 59) / 60,
                                     MinuteOf(evidence_after), floor);
    return record.minutes.SumAll(first, last);
  }
  const uint32_t last = std::max(HourOf(now), record.hours.head());
  const uint32_t first = FirstSlot(last, (window_seconds + 3599) / 3600,
                                   HourOf(evidence_after), floor);
  return record.hours.SumAll(first, last);
}

uint64_t NetworksInWindow(const AccountRecord& record, int64_t window_seconds,
                          UnixSeconds now, UnixSeconds evidence_after) {
  if (window_seconds <= 0) return 0;
  const uint32_t last = MinuteOf(now);
  const uint32_t first = FirstSlot(last, (window_seconds + 59) / 60,
                                   MinuteOf(evidence_after), evidence_after > 0);
  uint64_t count = 0;
  for (uint8_t i = 0; i < record.network_count; ++i) {
    if (record.networks[i].last_minute >= first) ++count;
  }
  return count;
}

}  // namespace senderwatch
