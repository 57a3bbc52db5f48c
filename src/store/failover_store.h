// Redis in front of the local LMDB store (locate.h, OpenConfiguredStore):
// what several Exim hosts run. Kept apart from it so tests can put any two stores
// (a Redis that fails on command, memory stores) behind it.
#ifndef SENDERWATCH_SRC_STORE_FAILOVER_STORE_H_
#define SENDERWATCH_SRC_STORE_FAILOVER_STORE_H_

#include <memory>
#include <string>

#include "senderwatch/clock.h"
#include "senderwatch/log.h"
#include "senderwatch/store.h"

namespace senderwatch::store_internal {

// The name of the back-off file in the local store's directory: its
// modification time is when processes may try the remote store again.
inline constexpr std::string_view kBackoffFile = "redis.down";
// How long every process of the host leaves an unreachable remote alone.
inline constexpr int64_t kRemoteRetrySeconds = 5;
// The file whose modification time is when the host next copies all the
// remote's locks into its local store, and how often that happens.
inline constexpr std::string_view kPullFile = "redis.locks-pulled";
inline constexpr int64_t kLockPullSeconds = 60;

// `remote` answers while it can; a kStoreOpen error from it (it cannot be
// reached) sends this call and those of the next kRemoteRetrySeconds, of
// every process sharing `backoff_dir`, to `local`. Every lock the remote
// shows is copied into `local`, and once a minute per host all its locks
// are (Store::Locked); `writable` false (a read-only CLI) copies
// nothing and leaves the back-off file alone.
std::unique_ptr<Store> NewFailoverStore(std::unique_ptr<Store> remote, std::unique_ptr<Store> local,
                                        std::string backoff_dir, const Clock& clock,
                                        Logger& logger, bool writable);

// The parts of a record that make its lock: the lock, the last release, the
// lock count and the evidence horizon.
bool SameLockState(const AccountRecord& a, const AccountRecord& b);
void CopyLockState(const AccountRecord& from, AccountRecord& to);
// Whether `local`'s lock state, kept while the remote was unreachable, is
// newer than `remote`'s: a lock taken after the remote's last release, or a
// release after the remote's lock began.
bool LocalLockStateIsNewer(const AccountRecord& local, const AccountRecord& remote);

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_FAILOVER_STORE_H_
