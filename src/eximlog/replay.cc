// Replay through the Engine; see replay.h.
#include "eximlog/replay.h"

#include <utility>

namespace senderwatch::eximlog {

Replayer::Replayer(const Policy& policy, Logger& logger, ChangeListener on_change)
    : Replayer(policy, NewMemoryStore(policy.store), nullptr, logger,
               std::move(on_change)) {}

Replayer::Replayer(const Policy& policy, Store& store, Logger& logger, ChangeListener on_change)
    : Replayer(policy, nullptr, &store, logger, std::move(on_change)) {}

Replayer::Replayer(const Policy& policy, std::unique_ptr<Store> owned, Store* borrowed,
                   Logger& logger, ChangeListener on_change)
    : policy_(policy),
      owned_store_(std::move(owned)),
      engine_(policy_, owned_store_ ? *owned_store_ : *borrowed, clock_, logger),
      on_change_(std::move(on_change)) {
  engine_.set_lock_listener([this](const AccountRecord& record) {
    if (current_ == nullptr) return;
    Verdict verdict;
    verdict.action = Action::kLock;
    verdict.CopyEvidence(record.lock);
    Change(*current_, record.lock.since, verdict);
  });
}

void Replayer::Tick(UnixSeconds time) {
  const UnixSeconds now = clock_.Now();
  if (time > now || time < now - 3600) clock_.Set(time);
}

Replayer::State& Replayer::StateOf(AccountRef account) {
  if (account.index >= states_.size()) states_.resize(account.index + 1);
  State& state = states_[account.index];
  if (!state.seen) {
    state.seen = true;
    state.outcome.account = std::string(account.name);
    if (auto it = overrides_.find(account.name); it != overrides_.end()) state.overrides = &it->second;
    ++summary_.accounts;
  }
  return state;
}

void Replayer::Change(State& state, UnixSeconds time, const Verdict& verdict) {
  if (verdict.action == state.action && verdict.rule == state.rule) return;
  state.action = verdict.action;
  state.rule = verdict.rule;
  VerdictChange change;
  change.time = time;
  change.account = state.outcome.account;
  change.action = verdict.action;
  change.CopyEvidence(verdict);
  AccountOutcome& outcome = state.outcome;
  ++outcome.changes;
  ++summary_.verdict_changes;
  if (verdict.action > outcome.worst) {
    outcome.worst = verdict.action;
    outcome.first_worst = change;
  }
  if (on_change_) on_change_(change);
}

void Replayer::EngineError(const Error& error) {
  if (summary_.engine_errors++ == 0) summary_.first_engine_error = error.message;
}

void Replayer::OnRecipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                           std::string_view sender, std::string_view recipient) {
  Tick(time);
  State& state = StateOf(account);
  current_ = &state;
  static const LimitOverrides kNone;
  const LimitOverrides& overrides = state.overrides != nullptr ? *state.overrides : kNone;
  // An address the engine cannot read (a garbled client address, an
  // over-long recipient) does not lose the RCPT: the engine counts it
  // without them and says so in the verdict's error.
  auto verdict = engine_.CheckSender(account.name, client_ip, overrides, CheckContext{recipient, sender});
  current_ = nullptr;
  if (!verdict) {
    EngineError(verdict.error());
    return;
  }
  if (!verdict->error.empty()) EngineError(Error{ErrorKind::kInvalidArgument, verdict->error, 0});
  ++state.outcome.recipients;
  if (verdict->action >= Action::kDefer) {
    ++state.outcome.refused;
    ++summary_.refused_recipients;
  }
  current_ = &state;
  Change(state, clock_.Now(), *verdict);
  current_ = nullptr;
}

void Replayer::OnBounce(UnixSeconds time, AccountRef account, std::string_view recipient,
                        std::string_view reason) {
  Tick(time);
  State& state = StateOf(account);
  current_ = &state;
  if (auto result = engine_.RecordBounce(account.name, recipient, reason,
                                             account.local ? Origin::kLocal : Origin::kSmtp); !result) {
    EngineError(result.error());
  }
  ++state.outcome.bounces;
  current_ = nullptr;
}

void Replayer::OnDefer(UnixSeconds time, AccountRef account, std::string_view recipient,
                       std::string_view reason) {
  Tick(time);
  State& state = StateOf(account);
  current_ = &state;
  if (auto result = engine_.RecordDefer(account.name, recipient, reason,
                                            account.local ? Origin::kLocal : Origin::kSmtp); !result) {
    EngineError(result.error());
  }
  ++state.outcome.defers;
  current_ = nullptr;
}

void Replayer::OnAuthfail(UnixSeconds time, AccountRef account, std::string_view client_ip) {
  Tick(time);
  State& state = StateOf(account);
  current_ = &state;
  auto result = engine_.RecordAuthfail(account.name, client_ip);
  if (!result && !client_ip.empty()) {
    EngineError(result.error());
    result = engine_.RecordAuthfail(account.name, {});
  }
  if (!result) EngineError(result.error());
  ++state.outcome.authfails;
  current_ = nullptr;
}

std::vector<AccountOutcome> Replayer::Outcomes() const {
  std::vector<AccountOutcome> outcomes;
  for (const State& state : states_) {
    if (!state.seen) continue;
    AccountOutcome outcome = state.outcome;
    outcome.locked = state.action == Action::kLock;
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

ReplaySummary Replayer::Summary() const {
  ReplaySummary summary = summary_;
  for (const State& state : states_) {
    if (!state.seen) continue;
    switch (state.outcome.worst) {
      case Action::kLock: ++summary.locked_accounts; break;
      case Action::kDefer: ++summary.deferred_accounts; break;
      case Action::kWarn: ++summary.warned_accounts; break;
      case Action::kOk: break;
    }
  }
  return summary;
}

}  // namespace senderwatch::eximlog
