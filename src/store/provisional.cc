// Eviction order of provisional records (provisional.h) and their cap.
#include "store/provisional.h"

#include <algorithm>
#include <tuple>

#include "senderwatch/policy.h"

namespace senderwatch::store_internal {

ProvisionalRank RankProvisional(const AccountRecord& record, UnixSeconds now) {
  return ProvisionalRank{record.IsLocked(now),
                         CounterInWindow(record, Counter::kAuthfails, kMaxWindow, now),
                         record.last_seen, record.account};
}

uint64_t ProvisionalEvictions(uint64_t size, uint64_t cap) {
  if (size < cap) return 0;
  return std::max<uint64_t>(size + 1 - cap, cap / 16);
}

std::vector<std::string> PickEvictions(std::vector<ProvisionalRank> entries, uint64_t count) {
  count = std::min<uint64_t>(count, entries.size());
  auto key = [](const ProvisionalRank& r) {
    return std::tie(r.locked, r.recent_authfails, r.last_seen, r.account);
  };
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(count),
                    entries.end(),
                    [&](const ProvisionalRank& a, const ProvisionalRank& b) { return key(a) < key(b); });
  std::vector<std::string> victims;
  victims.reserve(count);
  for (uint64_t i = 0; i < count; ++i) victims.push_back(std::move(entries[i].account));
  return victims;
}

}  // namespace senderwatch::store_internal
