// The engine: each Exim hook as one atomic read-modify-write of the
// account's record. Counting, evaluating and storing a lock happen in the
// same store transaction, so two processes racing on one account cannot
// both miss the limit.
#include "senderwatch/engine.h"

#include <cstdio>
#include <functional>

#include "senderwatch/account.h"
#include "senderwatch/failure.h"
#include "senderwatch/units.h"

namespace senderwatch {
namespace {

// A timed lock that has run out becomes a release at its end time.
bool ExpireLock(AccountRecord& r, UnixSeconds now) {
  if (!r.lock.locked || r.lock.until == 0 || now < r.lock.until) return false;
  r.lock.locked = false;
  r.last_release = ReleaseInfo{r.lock.until, "expiry", "lock duration ended"};
  r.evidence_after = r.lock.until;
  return true;
}

std::string DescribeEvidence(const Verdict& v) {
  char value[32];
  char limit[32];
  std::snprintf(value, sizeof value, "%.3g", v.value);
  std::snprintf(limit, sizeof limit, "%.3g", v.limit);
  return std::string(MetricName(v.metric)) + " " + value + " above " + limit + " in " +
         FormatDuration(v.window_seconds);
}

void ApplyLock(AccountRecord& r, Verdict& v, UnixSeconds now, int64_t duration) {
  r.lock.locked = true;
  r.lock.since = now;
  r.lock.until = duration > 0 ? now + duration : 0;
  r.lock.CopyEvidence(v);
  r.lock.reason = DescribeEvidence(v);
  r.lock.by = "senderwatch";
  ++r.lock_count;
  v.since = now;
  v.reason = r.lock.reason;
}

}  // namespace

Engine::Engine(const Policy& policy, Store& store, const Clock& clock, Logger& logger)
    : policy_(policy), store_(store), clock_(clock), logger_(logger) {}

Result<Verdict> Engine::CheckSender(std::string_view account, std::string_view client_ip,
                                    const LimitOverrides& call_overrides,
                                    const CheckContext& context) {
  LimitOverrides overrides_with_origin;
  const LimitOverrides* selected = &call_overrides;
  if (call_overrides.origin == Origin::kAny) {
    overrides_with_origin = call_overrides;
    overrides_with_origin.origin = client_ip.empty() ? Origin::kLocal : Origin::kSmtp;
    selected = &overrides_with_origin;
  }
  const LimitOverrides& overrides = *selected;
  std::string name_storage;
  auto name = NormalizeAccountInto(account, name_storage);
  if (!name) return std::unexpected(name.error());
  // Bad input in the other arguments is left out of the count and reported
  // with the verdict, never instead of it: a locked account stays locked
  // whatever a sender puts in a recipient address.
  std::string input_error;
  const auto note = [&](std::string_view what, const Error& e) {
    if (!input_error.empty()) input_error += "; ";
    input_error += std::string(what) + ": " + e.message + " (not counted)";
  };
  std::optional<ClientNetwork> network;
  if (!client_ip.empty()) {
    auto parsed = ParseClientNetwork(client_ip);
    if (parsed) network = *parsed;
    else note("client address", parsed.error());
  }
  std::string recipient_storage;
  std::string_view recipient;
  if (!context.recipient.empty()) {
    // The account rules suit addresses too.
    auto normalized = NormalizeAccountInto(context.recipient, recipient_storage);
    if (normalized) recipient = *normalized;
    else note("recipient", normalized.error());
  }
  const bool foreign_sender =
      !context.sender.empty() && !OwnsSender(policy_.sender, *name, context.sender);
  const auto generation_hours =
      static_cast<uint32_t>(std::max<int64_t>(policy_.learn.span_seconds / 7200, 1));
  Verdict verdict;
  const auto count = [&](AccountRecord& r, UnixSeconds now) {
    r.Count(Counter::kRecipients, now);
    if (network) r.SeeNetwork(*network, now);
    if (!recipient.empty() &&
        r.history.NoteRecipient(recipient, static_cast<uint32_t>(now / 3600), generation_hours)) {
      r.Count(Counter::kNewRecipients, now);
    }
    if (foreign_sender) r.Count(Counter::kSenderMismatch, now);
  };
  auto counted = CountEvent(*name, overrides, verdict, std::cref(count));
  if (!counted) {
    // Counting failed (a full store, say): a lock must still hold, so read
    // the record; the failure rides along in the verdict.
    auto stored = store_.Get(*name);
    if (stored && stored->has_value() && (*stored)->IsLocked(clock_.Now())) {
      Verdict locked = Evaluate(policy_, **stored, clock_.Now(), overrides);
      locked.error = counted.error().message;
      if (!input_error.empty()) locked.error += "; " + input_error;
      return locked;
    }
    return std::unexpected(counted.error());
  }
  verdict.error = std::move(input_error);
  return verdict;
}

Result<void> Engine::CountEvent(
    std::string_view account, const LimitOverrides& overrides, Verdict& verdict,
    const std::function<void(AccountRecord&, UnixSeconds)>& count, bool provisional) {
  const UnixSeconds now = clock_.Now();
  bool newly_locked = false;
  std::optional<AccountRecord> locked;  // copied only for the announcement
  // Passed on through std::cref, as the callers pass `count`: std::function
  // keeps a reference in place but heap-allocates a lambda capturing more
  // than two pointers, which cost a malloc and a free per counted event.
  const auto mutate = [&](AccountRecord& r) {
    const bool expired = ExpireLock(r, now);
    count(r, now);
    verdict = Evaluate(policy_, r, now, overrides);
    newly_locked = verdict.action == Action::kLock && !r.IsLocked(now);
    if (newly_locked) {
      ApplyLock(r, verdict, now, policy_.lock_duration_seconds);
      locked = r;
    }
    return newly_locked || expired ? WriteMode::kDurable : WriteMode::kSoft;
  };
  auto modified = provisional ? store_.ModifyProvisional(account, std::cref(mutate))
                              : store_.Modify(account, std::cref(mutate));
  if (!modified) return std::unexpected(modified.error());
  if (newly_locked && locked) Announce(*locked);
  return {};
}

Result<Verdict> Engine::PeekSender(std::string_view account, const LimitOverrides& overrides) {
  auto name = NormalizeAccount(account);
  if (!name) return std::unexpected(name.error());
  auto record = store_.Get(*name);
  if (!record) return std::unexpected(record.error());
  const UnixSeconds now = clock_.Now();
  AccountRecord r = record->value_or(AccountRecord{});
  ExpireLock(r, now);
  Verdict verdict = Evaluate(policy_, r, now, overrides);
  if (verdict.action == Action::kLock && verdict.since == 0) {
    verdict.since = now;  // a lock rule fires; the next counted event stores it
    verdict.reason = DescribeEvidence(verdict);
  }
  return verdict;
}

Result<uint64_t> Engine::RecordBounce(std::string_view account, std::string_view,
                                      std::string_view reason, Origin origin) {
  std::optional<Counter> counter;
  switch (ClassifyFailure(reason)) {
    case FailureKind::kDeadAddress: counter = Counter::kBounces; break;
    case FailureKind::kSpamReject: counter = Counter::kSpamRejects; break;
    case FailureKind::kNeutral: break;
  }
  return RecordFailure(counter, Counter::kBounces, account, origin);
}

Result<uint64_t> Engine::RecordDefer(std::string_view account, std::string_view,
                                     std::string_view, Origin origin) {
  return RecordFailure(Counter::kDefers, Counter::kDefers, account, origin);
}

Result<uint64_t> Engine::RecordAuthfail(std::string_view user, std::string_view client_ip) {
  if (!client_ip.empty()) {
    // Validated so that a garbled argument is reported, but not counted as a
    // network of the account: failed logins are not the account's own use.
    if (auto parsed = ParseClientNetwork(client_ip); !parsed) return std::unexpected(parsed.error());
  }
  // Anyone can invent user names: their failed logins stay provisional
  // (bounded) until the name sends.
  return RecordFailure(Counter::kAuthfails, Counter::kAuthfails, user, Origin::kSmtp,
                       /*provisional=*/true);
}

Result<uint64_t> Engine::RecordFailure(std::optional<Counter> counter, Counter result,
                                       std::string_view account, Origin origin,
                                       bool provisional) {
  std::string name_storage;
  auto name = NormalizeAccountInto(account, name_storage);
  if (!name) return std::unexpected(name.error());
  Verdict verdict;
  uint64_t in_last_hour = 0;
  LimitOverrides overrides;
  overrides.origin = origin;
  const auto count = [&](AccountRecord& r, UnixSeconds now) {
    if (counter) r.Count(*counter, now);
    in_last_hour = CounterInWindow(r, result, 3600, now);
  };
  auto counted = CountEvent(*name, overrides, verdict, std::cref(count), provisional);
  if (!counted) return std::unexpected(counted.error());
  return in_last_hour;
}

Result<AccountRecord> Engine::Lock(std::string_view account, std::string_view reason,
                                   std::string_view by) {
  auto name = NormalizeAccount(account);
  if (!name) return std::unexpected(name.error());
  const UnixSeconds now = clock_.Now();
  auto record = store_.Update(*name, [&](AccountRecord& r) {
    ExpireLock(r, now);
    if (r.first_seen == 0) r.first_seen = now;
    r.last_seen = std::max(r.last_seen, now);
    r.lock = LockState{};
    r.lock.locked = true;
    r.lock.since = now;
    r.lock.rule = "manual";
    r.lock.reason = std::string(reason);
    r.lock.by = std::string(by);
    ++r.lock_count;
    return WriteMode::kDurable;
  });
  if (!record) return std::unexpected(record.error());
  Announce(*record);
  return record;
}

Result<std::optional<AccountRecord>> Engine::Unlock(std::string_view account,
                                                    std::string_view reason,
                                                    std::string_view by, bool reset) {
  auto name = NormalizeAccount(account);
  if (!name) return std::unexpected(name.error());
  auto existing = store_.Get(*name);
  if (!existing) return std::unexpected(existing.error());
  if (!existing->has_value()) return std::optional<AccountRecord>{};
  const UnixSeconds now = clock_.Now();
  bool released = false;
  auto record = store_.Update(*name, [&](AccountRecord& r) {
    ExpireLock(r, now);
    if (r.lock.locked) {
      r.lock.locked = false;
      r.last_release = ReleaseInfo{now, std::string(by), std::string(reason)};
      released = true;
    }
    r.evidence_after = now;
    if (reset) {
      r.minutes = MinuteRing{};
      r.hours = HourRing{};
      r.networks = {};
      r.network_count = 0;
    }
    return WriteMode::kDurable;
  });
  if (!record) return std::unexpected(record.error());
  if (released) {
    logger_.Log(LogLevel::kWarning, "senderwatch: account " + EscapeForLog(*name) +
                                        " released by " + EscapeForLog(by) +
                                        (reset ? " (counters reset)" : ""));
  }
  return std::optional<AccountRecord>(std::move(*record));
}

void Engine::Announce(const AccountRecord& record) {
  logger_.Log(LogLevel::kWarning,
              "senderwatch: account " + EscapeForLog(record.account) + " locked by rule " +
                  EscapeForLog(record.lock.rule) + ": " + EscapeForLog(record.lock.reason) +
                  " (by " + EscapeForLog(record.lock.by) + ")");
  if (on_lock_) on_lock_(record);
}

}  // namespace senderwatch
