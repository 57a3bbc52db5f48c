// Which policy file and which store a process uses. The plugin and the CLI
// both ask here, so `senderwatch show` reads the very store Exim writes and
// judges with the very policy Exim loads; the choice is made nowhere else.
// A second store backend plugs in at OpenConfiguredStore.
//
// Thread-safe; no state.
#ifndef SENDERWATCH_LOCATE_H_
#define SENDERWATCH_LOCATE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "senderwatch/clock.h"
#include "senderwatch/config_file.h"
#include "senderwatch/error.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"

namespace senderwatch {

// Where the policy is unless a call passes config=PATH or the CLI --config.
inline constexpr std::string_view kDefaultConfigPath = "/etc/exim4/senderwatch.toml";
// The store directory below Exim's spool directory when the policy names none.
inline constexpr std::string_view kStoreBelowSpool = "/db/senderwatch";

struct PolicyLocation {
  std::string path;
  // True for the default file, however it was named: a server without a
  // policy file runs on the built-in defaults. Any other missing file is an
  // error (a typo in config= must not silently drop the admin's rules).
  bool missing_means_defaults = false;
};

// `explicit_path`: config= of the call or the CLI's --config; empty: none.
PolicyLocation LocatePolicy(std::string_view explicit_path);

// Loads the policy at `location`, the file and the files it names passing
// `trust` (config_file.h); DefaultPolicy() when the file is missing and
// that is allowed.
Result<Policy> LoadLocatedPolicy(const PolicyLocation& location, const FileTrust& trust);

// What a process can tell about the store beyond the policy.
struct StoreHints {
  // The CLI's --db: wins over everything. Empty: none.
  std::string explicit_path;
  // Exim's $spool_directory, asked only when neither --db nor the policy
  // names the store (the CLI runs `exim -bP` for it). Empty: unknown.
  std::function<std::string()> spool_directory;
};

// The policy's [store] settings with the path resolved: the explicit path,
// else [store] path, else $spool_directory/db/senderwatch. An error when
// none of them is known.
Result<StoreSettings> LocateStore(const Policy& policy, const StoreHints& hints);
// The path alone, for a caller that keeps its store open across calls and
// only needs to know whether it is still the right one (the plugin, on
// every call): no copy of the settings.
Result<std::string> LocateStorePath(const Policy& policy, const StoreHints& hints);

// Opens the store `settings` describe. backend = "lmdb": OpenLmdbStore.
// backend = "redis": Redis (OpenRedisStore) in front of the LMDB store at
// settings.path, which answers while Redis cannot be reached (logged once
// per process; the host's processes share a back-off file in the store
// directory, so not each pays a timeout) and keeps a copy of every lock
// Redis shows, so locks hold through an outage. When Redis is back, locks
// and releases made locally meanwhile are written to it; Stats() says which
// store answered. A reader on a host without a local store reads Redis
// alone. `clock` and `logger` are borrowed and must outlive the store.
Result<std::unique_ptr<Store>> OpenConfiguredStore(const StoreSettings& settings,
                                                   const Clock& clock, Logger& logger,
                                                   OpenMode mode = OpenMode::kReadWrite);

}  // namespace senderwatch

#endif  // SENDERWATCH_LOCATE_H_
