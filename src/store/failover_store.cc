// Redis with the local LMDB store behind it (failover_store.h). What it
// promises during an outage: mail flows (counting goes on locally, from
// whatever the local store holds: fail open), the outage is logged once
// per process, and no lock is lost, because every lock Redis showed was
// copied into the local store as it was seen. Afterwards the first process
// to reach Redis again writes the locks and releases made meanwhile to it.
//
// The back-off is shared through a file in the local store's directory,
// whose modification time says when to try Redis again: Exim starts a
// process per message, and without it each would pay a connect timeout.
#include "store/failover_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "senderwatch/account.h"

namespace senderwatch::store_internal {

bool SameLockState(const AccountRecord& a, const AccountRecord& b) {
  return a.lock.locked == b.lock.locked && a.lock.since == b.lock.since &&
         a.lock.until == b.lock.until && a.lock.rule == b.lock.rule &&
         a.last_release.at == b.last_release.at && a.lock_count == b.lock_count &&
         a.evidence_after == b.evidence_after;
}

void CopyLockState(const AccountRecord& from, AccountRecord& to) {
  to.lock = from.lock;
  to.last_release = from.last_release;
  to.lock_count = from.lock_count;
  to.evidence_after = from.evidence_after;
  if (to.first_seen == 0) to.first_seen = from.first_seen;
  to.last_seen = std::max(to.last_seen, from.last_seen);
}

bool LocalLockStateIsNewer(const AccountRecord& local, const AccountRecord& remote) {
  if (SameLockState(local, remote)) return false;
  if (local.lock.locked) {
    return local.lock.since > remote.last_release.at &&
           !(remote.lock.locked && remote.lock.since >= local.lock.since);
  }
  return remote.lock.locked && local.last_release.at > remote.lock.since;
}

namespace {

class FailoverStore final : public Store {
 public:
  FailoverStore(std::unique_ptr<Store> remote, std::unique_ptr<Store> local, std::string dir,
                const Clock& clock, Logger& logger, bool writable)
      : remote_(std::move(remote)),
        local_(std::move(local)),
        backoff_path_(dir + "/" + std::string(kBackoffFile)),
        pull_path_(dir + "/" + std::string(kPullFile)),
        clock_(clock),
        logger_(logger),
        writable_(writable) {}

  Result<AccountRecord> Update(std::string_view account, const Mutator& mutate) override {
    return Call([&](Store& store, bool remote) -> Result<AccountRecord> {
      auto updated = store.Update(account, mutate);
      if (remote && updated) Mirror(account, *updated, /*provisional=*/false);
      return updated;
    });
  }

  Result<void> Modify(std::string_view account, const Mutator& mutate) override {
    auto updated = Update(account, mutate);
    if (!updated) return std::unexpected(updated.error());
    return {};
  }

  Result<void> ModifyProvisional(std::string_view account, const Mutator& mutate) override {
    return Call([&](Store& store, bool remote) -> Result<void> {
      // The last run of `mutate` is the one the store kept.
      std::optional<AccountRecord> seen;
      auto done = store.ModifyProvisional(account, [&](AccountRecord& record) {
        const WriteMode mode = mutate(record);
        seen = record;
        return mode;
      });
      if (remote && done && seen) Mirror(account, *seen, /*provisional=*/true);
      return done;
    });
  }

  Result<std::optional<AccountRecord>> Get(std::string_view account) override {
    return Call([&](Store& store, bool remote) -> Result<std::optional<AccountRecord>> {
      auto found = store.Get(account);
      if (remote && found && *found) Mirror(account, **found, /*provisional=*/false);
      return found;
    });
  }

  Result<ScanReport> ForEach(const Visitor& visit) override {
    return Call([&](Store& store, bool) { return store.ForEach(visit); });
  }

  // Gone from both: a lock kept locally must not outlive its record.
  Result<bool> Erase(std::string_view account) override {
    return Call([&](Store& store, bool remote) -> Result<bool> {
      auto erased = store.Erase(account);
      if (remote && erased && writable_) {
        if (auto local = local_->Erase(account); !local) LogLocalFailure(local.error());
      }
      return erased;
    });
  }

  // Both stores: the local one holds copies of locks and outage counters.
  Result<PruneReport> Prune(UnixSeconds now) override {
    return Call([&](Store& store, bool remote) -> Result<PruneReport> {
      auto report = store.Prune(now);
      if (remote && report && writable_) {
        if (auto local = local_->Prune(now); !local) LogLocalFailure(local.error());
      }
      return report;
    });
  }

  Result<std::vector<UndecodableRecord>> Undecodable() override {
    return Call([&](Store& store, bool) { return store.Undecodable(); });
  }

  Result<StoreStats> Stats() override {
    std::optional<Error> problem = last_problem_;
    if (RemoteUsable()) {
      auto stats = remote_->Stats();
      if (stats || stats.error().kind != ErrorKind::kStoreOpen) {
        if (stats) stats->backend = "redis";
        return stats;
      }
      problem = stats.error();
      MarkDown(stats.error());
    }
    auto stats = local_->Stats();
    if (!stats) return stats;
    stats->backend = "redis";
    stats->reachable = false;
    stats->problem = problem ? problem->message
                             : remote_->Location() + ": not tried (another process found it "
                                                     "unreachable less than " +
                                   std::to_string(kRemoteRetrySeconds) + "s ago)";
    return stats;
  }

  std::string Location() const override {
    return remote_->Location() + " (local fallback " + local_->Location() + ")";
  }

 private:
  // Runs `op` on the remote store while it is usable, else on the local one.
  template <typename Op>
  std::invoke_result_t<Op&, Store&, bool> Call(Op&& op) {
    if (RemoteUsable()) {
      auto result = op(*remote_, true);
      if (result || result.error().kind != ErrorKind::kStoreOpen) {
        if (outage_seen_) Returned();
        if (result) PullLocksWhenDue();
        return result;
      }
      MarkDown(result.error());
    }
    return op(*local_, false);
  }

  // False while this process or another found the remote unreachable less
  // than kRemoteRetrySeconds ago (the back-off file's time is in the future).
  bool RemoteUsable() {
    const UnixSeconds now = clock_.Now();
    if (now < down_until_) return false;
    struct stat st{};
    if (::stat(backoff_path_.c_str(), &st) == 0) {
      if (st.st_mtime > now) {
        down_until_ = st.st_mtime;
        return false;
      }
      outage_seen_ = true;
    }
    return true;
  }

  void MarkDown(const Error& error) {
    const UnixSeconds until = clock_.Now() + kRemoteRetrySeconds;
    down_until_ = until;
    last_problem_ = error;
    if (!logged_down_) {
      logged_down_ = true;
      logger_.Log(LogLevel::kError, error.message + "; using the local store " +
                                        local_->Location() + " until it answers again (locks held)");
    }
    if (writable_) StampFile(backoff_path_, until);
  }

  // Replaces `path` by an empty file whose modification time is `at`.
  // Written aside and renamed: other processes see the old time or the
  // new, and any user who may write the directory may replace it.
  static bool StampFile(const std::string& path, UnixSeconds at) {
    const std::string temp = path + ".tmp" + std::to_string(::getpid());
    // Created afresh: whatever lies at the name (a stale file of a process
    // with our pid, a link or a FIFO another user prepared) is removed
    // first, and O_EXCL refuses anything that appears in between, so root
    // never writes through a name it did not make.
    ::unlink(temp.c_str());
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0660);
    if (fd < 0) return false;
    const timespec times[2] = {{at, 0}, {at, 0}};
    const bool stamped = ::futimens(fd, times) == 0;
    ::close(fd);
    if (stamped && ::rename(temp.c_str(), path.c_str()) == 0) return true;
    ::unlink(temp.c_str());
    return false;
  }

  // Once every kLockPullSeconds per host (the time of the file kPullFile
  // in the store directory, shared by its processes), copies every lock of
  // the remote into the local store, and drops local copies of locks the
  // remote no longer holds: a host then keeps through an outage the locks
  // of accounts it has never seen itself.
  void PullLocksWhenDue() {
    if (!writable_) return;
    const UnixSeconds now = clock_.Now();
    if (now < next_pull_) return;
    struct stat st{};
    if (::stat(pull_path_.c_str(), &st) == 0 && st.st_mtime > now) {
      next_pull_ = st.st_mtime;
      return;
    }
    next_pull_ = now + kLockPullSeconds;
    if (!StampFile(pull_path_, next_pull_)) return;  // another process pulls
    auto locked = remote_->Locked(now);
    if (!locked) return;
    std::set<std::string, std::less<>> remote_locked;
    for (const auto& record : *locked) {
      remote_locked.insert(record.account);
      Mirror(record.account, record, /*provisional=*/false);
    }
    auto local_locked = local_->Locked(now);
    if (!local_locked) return LogLocalFailure(local_locked.error());
    for (const auto& record : *local_locked) {
      if (remote_locked.contains(record.account)) continue;
      if (auto remote = remote_->Get(record.account); remote && *remote) {
        Mirror(record.account, **remote, /*provisional=*/false);
      }
    }
  }

  // The remote answered after an outage. The process that removes the
  // back-off file writes the local locks and releases back; the others
  // find it gone.
  void Returned() {
    outage_seen_ = false;
    if (!writable_ || ::unlink(backoff_path_.c_str()) != 0) return;
    logged_down_ = false;
    std::vector<AccountRecord> kept;
    auto scanned = local_->ForEach([&](const AccountRecord& record) {
      if (record.lock.locked || record.last_release.at != 0) kept.push_back(record);
      return true;
    });
    if (!scanned) LogLocalFailure(scanned.error());
    uint64_t written = 0;
    for (const auto& local : kept) {
      auto merged = remote_->Update(local.account, [&](AccountRecord& remote) {
        if (!LocalLockStateIsNewer(local, remote)) return WriteMode::kSkip;
        CopyLockState(local, remote);
        ++written;
        return WriteMode::kDurable;
      });
      if (!merged) {
        logger_.Log(LogLevel::kError, "writing local locks back: " + merged.error().message);
        break;
      }
    }
    logger_.Log(LogLevel::kWarning, remote_->Location() + " answers again; " +
                                        std::to_string(written) +
                                        " lock change(s) made during the outage written to it");
  }

  // Keeps the local store's copy of `account`'s lock state equal to
  // `remote`'s whenever either holds a lock, so the local store can answer
  // for locks during an outage. Costs a local read per call; a write only
  // when the lock state changed.
  void Mirror(std::string_view account, const AccountRecord& remote, bool provisional) {
    if (!writable_) return;
    auto local = local_->Get(account);
    if (!local) {
      LogLocalFailure(local.error());
      return;
    }
    const bool local_locked = *local && (*local)->lock.locked;
    if (!remote.lock.locked && !local_locked) return;
    if (*local && SameLockState(**local, remote)) return;
    auto copy = [&](AccountRecord& record) {
      CopyLockState(remote, record);
      return WriteMode::kDurable;
    };
    auto written = provisional ? local_->ModifyProvisional(account, copy)
                               : local_->Modify(account, copy);
    if (!written) LogLocalFailure(written.error());
  }

  void LogLocalFailure(const Error& error) {
    if (logged_local_) return;
    logged_local_ = true;
    logger_.Log(LogLevel::kError, "cannot keep locks in the local store: " + error.message);
  }

  std::unique_ptr<Store> remote_;
  std::unique_ptr<Store> local_;
  const std::string backoff_path_;
  const std::string pull_path_;
  const Clock& clock_;
  Logger& logger_;
  const bool writable_;
  UnixSeconds down_until_ = 0;
  UnixSeconds next_pull_ = 0;
  bool outage_seen_ = false;   // the back-off file existed when last looked at
  bool logged_down_ = false;   // the outage is logged once per process
  bool logged_local_ = false;
  std::optional<Error> last_problem_;
};

}  // namespace

std::unique_ptr<Store> NewFailoverStore(std::unique_ptr<Store> remote, std::unique_ptr<Store> local,
                                        std::string backoff_dir, const Clock& clock,
                                        Logger& logger, bool writable) {
  return std::make_unique<FailoverStore>(std::move(remote), std::move(local),
                                         std::move(backoff_dir), clock, logger, writable);
}

}  // namespace senderwatch::store_internal
