// The engine: what each Exim hook means, in one place. It normalises the
// account, counts the event in the store, evaluates the policy and keeps the
// lock. The plugin, the CLI and log replay all drive this class; only the
// clock and the store differ.
//
// An Engine borrows its policy, store, clock and logger; they must outlive it.
// Not thread-safe (one per process, like the store).
#ifndef SENDERWATCH_ENGINE_H_
#define SENDERWATCH_ENGINE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "senderwatch/clock.h"
#include "senderwatch/error.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/store.h"
#include "senderwatch/verdict.h"

namespace senderwatch {

// What check_sender knows about the recipient beyond the account: both
// optional (empty: not counted).
struct CheckContext {
  std::string_view recipient;  // RCPT address: counts new_recipient_ratio
  std::string_view sender;     // MAIL FROM address: counts sender_mismatch
};

class Engine {
 public:
  // Called after a lock was stored (automatic or manual); the plugin logs it
  // to Exim's main log and runs the notify command.
  using LockListener = std::function<void(const AccountRecord&)>;

  Engine(const Policy& policy, Store& store, const Clock& clock, Logger& logger);

  void set_lock_listener(LockListener listener) { on_lock_ = std::move(listener); }

  // One RCPT of an authenticated client: counts a recipient and the client
  // network (and, from `context`, a new recipient or a foreign sender), then
  // evaluates. A newly fired lock rule stores the lock. An empty client_ip
  // counts no network and marks a local submission: unless overrides.origin
  // says otherwise, the call is judged as Origin::kLocal (rules with
  // applies_to = "smtp" are off), else as Origin::kSmtp.
  Result<Verdict> CheckSender(std::string_view account, std::string_view client_ip,
                              const LimitOverrides& overrides = {},
                              const CheckContext& context = {});

  // Evaluates without counting (read-only).
  Result<Verdict> PeekSender(std::string_view account,
                             const LimitOverrides& overrides = {});

  // A hard failure caused by `account`, classified by `reason` (Exim's
  // $event_data; see failure.h): a dead address counts as a bounce, a spam
  // or policy rejection as spam_rejects, anything else not at all. Returns
  // the bounces of the last hour. May lock the account, judged by the rules
  // for `origin`, the kind of the failed message's submission (kAny: all).
  Result<uint64_t> RecordBounce(std::string_view account, std::string_view recipient,
                                std::string_view reason, Origin origin = Origin::kAny);
  // A temporary failure; returns the defers of the last hour.
  Result<uint64_t> RecordDefer(std::string_view account, std::string_view recipient,
                               std::string_view reason, Origin origin = Origin::kAny);
  // A failed SMTP AUTH for `user`; returns the failures of the last hour.
  // A user without a record gets a provisional one (Store::ModifyProvisional).
  Result<uint64_t> RecordAuthfail(std::string_view user, std::string_view client_ip);

  // Manual lock by an administrator.
  Result<AccountRecord> Lock(std::string_view account, std::string_view reason,
                             std::string_view by);
  // Releases a lock. Evidence before now no longer counts for lock rules;
  // with `reset` all counters are cleared. nullopt: no such account.
  Result<std::optional<AccountRecord>> Unlock(std::string_view account,
                                              std::string_view reason,
                                              std::string_view by, bool reset);

  const Policy& policy() const { return policy_; }

 private:
  // Counts `counter` (nullopt: nothing) for `account`; returns `result` of
  // the last hour. `provisional`: see CountEvent.
  Result<uint64_t> RecordFailure(std::optional<Counter> counter, Counter result,
                                 std::string_view account, Origin origin,
                                 bool provisional = false);
  // One counted event in one store transaction: ends an expired lock,
  // lets `count` change the record, evaluates, stores a newly fired lock
  // (durably) and announces it. `verdict` receives the evaluation. With
  // `provisional`, an account without a record is counted in a provisional
  // record (Store::ModifyProvisional).
  Result<void> CountEvent(std::string_view account, const LimitOverrides& overrides,
                                   Verdict& verdict,
                                   const std::function<void(AccountRecord&, UnixSeconds)>& count,
                                   bool provisional = false);
  void Announce(const AccountRecord& record);

  const Policy& policy_;
  Store& store_;
  const Clock& clock_;
  Logger& logger_;
  LockListener on_lock_;
};

}  // namespace senderwatch

#endif  // SENDERWATCH_ENGINE_H_
