// Copying one store into another (store.h, CopyStore): how a host moves
// from its own LMDB store to a shared Redis, or back.
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

}  // namespace senderwatch
