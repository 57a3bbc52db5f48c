// The bounded table of provisional records (Store::ModifyProvisional): what
// both stores share, so that the memory store used by log replay evicts
// exactly the entries the LMDB store evicts and gives the same verdicts.
#ifndef SENDERWATCH_SRC_STORE_PROVISIONAL_H_
#define SENDERWATCH_SRC_STORE_PROVISIONAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "senderwatch/clock.h"
#include "senderwatch/record.h"

namespace senderwatch::store_internal {

// One entry as eviction sees it.
struct ProvisionalRank {
  bool locked = false;            // locked at the time of the eviction
  uint64_t recent_authfails = 0;  // failed logins in the last 24h
  UnixSeconds last_seen = 0;
  std::string account;
};
ProvisionalRank RankProvisional(const AccountRecord& record, UnixSeconds now);

// How many entries to evict before a new name joins a table of `size`
// entries and cap `cap`: none while there is room, else a sixteenth of the
// cap (at least one, and enough to get below the cap), so the scan that
// picks them is paid once per cap/16 new names.
uint64_t ProvisionalEvictions(uint64_t size, uint64_t cap);

// The `count` entries to evict, as account names: unlocked before locked,
// then the fewest recent failed logins, then the least recently seen, then
// key order. An attacker's flood of one-attempt names then evicts itself
// before a name that is really being guessed at, and locks go last.
std::vector<std::string> PickEvictions(std::vector<ProvisionalRank> entries, uint64_t count);

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_PROVISIONAL_H_
