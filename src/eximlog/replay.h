// Log replay: the policy engine driven by a clock that reads the log. Each
// joined event becomes the plugin call Exim would have made at that moment
// (check_sender per recipient, record_bounce, record_defer, record_authfail)
// on an Engine over an in-memory store, so replay answers "which accounts
// would this policy have deferred or locked, when, and why" with the very
// code the plugin runs. `learn` runs the same replay over a store it owns
// and keeps what was counted (learn.h).
#ifndef SENDERWATCH_SRC_EXIMLOG_REPLAY_H_
#define SENDERWATCH_SRC_EXIMLOG_REPLAY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eximlog/joiner.h"
#include "senderwatch/clock.h"
#include "senderwatch/engine.h"
#include "senderwatch/log.h"
#include "senderwatch/policy.h"
#include "senderwatch/store.h"
#include "senderwatch/verdict.h"

namespace senderwatch::eximlog {

// A change of an account's verdict: the first defer, a lock, the return to
// ok when a window has passed. A change of the deciding rule at the same
// strength counts as a change too.
// The evidence is the new verdict's (its rule is empty for ok).
struct VerdictChange : Evidence {
  UnixSeconds time = 0;
  std::string account;
  Action action = Action::kOk;
};

// What happened to one account over the whole replay.
struct AccountOutcome {
  std::string account;
  uint64_t recipients = 0;   // check_sender calls
  uint64_t refused = 0;      // of those, answered defer or lock
  uint64_t bounces = 0;
  uint64_t defers = 0;
  uint64_t authfails = 0;
  Action worst = Action::kOk;
  uint32_t changes = 0;
  // The first change to the worst verdict (its time, rule and values).
  VerdictChange first_worst;
  bool locked = false;       // locked at the end of the replay
};

struct ReplaySummary {
  uint64_t accounts = 0;          // accounts with any event
  uint64_t deferred_accounts = 0; // worst verdict defer
  uint64_t locked_accounts = 0;   // worst verdict lock
  uint64_t warned_accounts = 0;   // worst verdict warn
  uint64_t verdict_changes = 0;
  uint64_t refused_recipients = 0;
  uint64_t engine_errors = 0;     // calls the engine refused (reported, skipped)
  std::string first_engine_error;
};

class Replayer final : public EventSink {
 public:
  using ChangeListener = std::function<void(const VerdictChange&)>;

  // `policy` and `logger` must outlive the Replayer. Lock durations, rules
  // and limits come from `policy`; its store settings are ignored (replay
  // uses an in-memory store).
  Replayer(const Policy& policy, Logger& logger, ChangeListener on_change = {});
  // The same over `store` (borrowed; it must outlive the Replayer), which
  // then holds every record the replay counted. The engine's clock is the
  // log's, so events older than a record already in `store` would be
  // counted into its newest slot: pass a store that starts empty.
  Replayer(const Policy& policy, Store& store, Logger& logger, ChangeListener on_change = {});

  void OnRecipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                   std::string_view sender, std::string_view recipient) override;
  void OnBounce(UnixSeconds time, AccountRef account, std::string_view recipient,
                std::string_view reason) override;
  void OnDefer(UnixSeconds time, AccountRef account, std::string_view recipient,
               std::string_view reason) override;
  void OnAuthfail(UnixSeconds time, AccountRef account, std::string_view client_ip) override;

  // Per-account limit overrides, as the ACL passes them to check_sender
  // (the SENDERWATCH_OVERRIDES lookup), keyed by normalised account.
  using OverrideMap = std::map<std::string, LimitOverrides, std::less<>>;
  void set_overrides(OverrideMap overrides) { overrides_ = std::move(overrides); }

  // The outcomes of accounts that had any event, in the order the joiner
  // first saw them.
  std::vector<AccountOutcome> Outcomes() const;
  ReplaySummary Summary() const;
  UnixSeconds now() const { return clock_.Now(); }

 private:
  // Exactly one of `owned` and `borrowed` is set.
  Replayer(const Policy& policy, std::unique_ptr<Store> owned, Store* borrowed, Logger& logger,
           ChangeListener on_change);

  struct State {
    AccountOutcome outcome;
    const LimitOverrides* overrides = nullptr;  // into overrides_; null: none
    bool seen = false;
    Action action = Action::kOk;
    std::string rule;
  };
  // Moves the clock to `time`. Lines of concurrent Exim processes are a
  // little out of order; the clock never goes back for those. A jump back of
  // more than an hour (a clock step on the server, or files given out of
  // order) is followed.
  void Tick(UnixSeconds time);
  State& StateOf(AccountRef account);
  void Change(State& state, UnixSeconds time, const Verdict& verdict);
  void EngineError(const Error& error);

  const Policy& policy_;
  ManualClock clock_;
  std::unique_ptr<Store> owned_store_;  // null when the store was passed in
  Engine engine_;
  ChangeListener on_change_;
  OverrideMap overrides_;
  std::vector<State> states_;
  State* current_ = nullptr;  // the account of the engine call under way
  ReplaySummary summary_;
};

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_REPLAY_H_
