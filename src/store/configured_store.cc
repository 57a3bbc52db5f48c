// The one place that turns store settings into a store, for the plugin and
// the CLI alike (senderwatch/locate.h). Another backend is chosen here.
#include "senderwatch/locate.h"

namespace senderwatch {

Result<std::unique_ptr<Store>> OpenConfiguredStore(const StoreSettings& settings,
                                                   const Clock& clock, Logger& logger,
                                                   OpenMode mode) {
  return OpenLmdbStore(settings, clock, logger, mode);
}

}  // namespace senderwatch
