// Finding the policy and the store; see senderwatch/locate.h. Opening the
// store lives with the backends (src/store/configured_store.cc): the core
// knows no LMDB.
#include "senderwatch/locate.h"

#include <sys/stat.h>

#include <cerrno>

namespace senderwatch {

PolicyLocation LocatePolicy(std::string_view explicit_path) {
  PolicyLocation location;
  location.path = explicit_path.empty() ? std::string(kDefaultConfigPath) : std::string(explicit_path);
  location.missing_means_defaults = location.path == kDefaultConfigPath;
  return location;
}

Result<Policy> LoadLocatedPolicy(const PolicyLocation& location, const FileTrust& trust) {
  // Asked before reading, not from the read's error: a missing file the
  // policy names ([sender] file) must stay an error.
  struct stat st{};
  if (location.missing_means_defaults && ::stat(location.path.c_str(), &st) != 0 &&
      errno == ENOENT) {
    return DefaultPolicy();
  }
  return LoadPolicyFile(location.path, trust);
}

Result<std::string> LocateStorePath(const Policy& policy, const StoreHints& hints) {
  if (!hints.explicit_path.empty()) return hints.explicit_path;
  if (!policy.store.path.empty()) return policy.store.path;
  const std::string spool = hints.spool_directory ? hints.spool_directory() : std::string();
  if (spool.empty()) {
    return MakeError(ErrorKind::kStoreOpen,
                     "cannot find Exim's spool directory; set [store] path in the policy");
  }
  return spool + std::string(kStoreBelowSpool);
}

Result<StoreSettings> LocateStore(const Policy& policy, const StoreHints& hints) {
  auto path = LocateStorePath(policy, hints);
  if (!path) return std::unexpected(path.error());
  StoreSettings settings = policy.store;
  settings.path = std::move(*path);
  return settings;
}

}  // namespace senderwatch
