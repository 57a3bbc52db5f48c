// Copying one store into another (store.h, CopyStore): how a host moves
// from its own LMDB store to a shared Redis, or back; and the locked
// records of a store without a lock index (Store::Locked).
#include <optional>

#include "senderwatch/store.h"

namespace senderwatch {

Result<CopyReport> CopyStore(Store& from, Store& to, UnixSeconds now) {
  CopyReport report;
  std::optional<Error> failure;
  auto scanned = from.ForEach([&](const AccountRecord& source) {
    auto copied = to.Update(source.account, [&](AccountRecord& target) {
      target = source;
      return source.lock.locked ? WriteMode::kDurable : WriteMode::kSoft;
    });
    if (!copied) {
      failure = copied.error();
      return false;
    }
    ++report.records;
    if (source.IsLocked(now)) ++report.locked;
    return true;
  });
  if (!scanned) return std::unexpected(scanned.error());
  if (failure) return std::unexpected(*failure);
  report.undecodable = scanned->undecodable;
  return report;
}

Result<std::vector<AccountRecord>> Store::Locked(UnixSeconds now) {
  std::vector<AccountRecord> locked;
  auto scanned = ForEach([&](const AccountRecord& record) {
    if (record.IsLocked(now)) locked.push_back(record);
    return true;
  });
  if (!scanned) return std::unexpected(scanned.error());
  return locked;
}

}  // namespace senderwatch
