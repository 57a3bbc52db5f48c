// The one place that turns store settings into a store, for the plugin and
// the CLI alike (senderwatch/locate.h). Another backend is chosen here.
#include "senderwatch/locate.h"
#include "store/failover_store.h"

namespace senderwatch {

Result<std::unique_ptr<Store>> OpenConfiguredStore(const StoreSettings& settings,
                                                   const Clock& clock, Logger& logger,
                                                   OpenMode mode) {
  auto local = OpenLmdbStore(settings, clock, logger, mode);
  if (settings.backend == StoreBackend::kLmdb) return local;
  if (!local) {
    // A reader (the CLI) on a host that never wrote a local store still
    // reads the cluster's Redis; it has nothing to fall back to.
    if (mode == OpenMode::kReadWrite) return local;
    local = NewMemoryStore(settings);
  }
  auto remote = OpenRedisStore(settings, clock, logger);
  if (!remote) return std::unexpected(remote.error());
  return store_internal::NewFailoverStore(std::move(*remote), std::move(*local), settings.path,
                                          clock, logger, mode == OpenMode::kReadWrite);
}

}  // namespace senderwatch
