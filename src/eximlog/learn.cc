// Merging replayed records into the real store; see learn.h.
#include "eximlog/learn.h"

#include <algorithm>

#include "senderwatch/verdict.h"

namespace senderwatch::eximlog {
namespace {

uint32_t HourOf(UnixSeconds t) { return t <= 0 ? 0 : static_cast<uint32_t>(t / 3600); }

// The count of `counter` in hour `hour`, as evaluation reads it: the exact
// hour ring for the hours not yet moved into the history, the history for
// the older ones (evaluate.cc, HourValue).
uint64_t HourValue(const AccountRecord& record, Counter counter, uint32_t hour) {
  if (record.history.head_hour == 0 || hour > record.history.head_hour) {
    return record.hours.Sum(counter, hour, hour);
  }
  return record.history.HourCount(counter, hour).value_or(0);
}

// Recipients or bounces anywhere in the record (failed logins and deferrals
// alone leave no history worth keeping: user names guessed by attackers).
bool HasMail(const AccountRecord& record) {
  for (Counter c : {Counter::kRecipients, Counter::kBounces}) {
    if (record.hours.head() != 0 && record.hours.Sum(c, 0, record.hours.head()) > 0) return true;
  }
  const auto nonzero = [](uint8_t code) { return code != 0; };
  return std::any_of(record.history.recipients.begin(), record.history.recipients.end(), nonzero) ||
         std::any_of(record.history.bounces.begin(), record.history.bounces.end(), nonzero);
}

// The oldest hour a record can still tell the count of: its history keeps
// kHistoryHours behind its head, its hour ring 24 hours behind its own.
uint32_t OldestKnownHour(const AccountRecord& record, uint32_t first_seen_hour) {
  const uint32_t newest = std::max(record.history.head_hour, record.hours.head());
  const uint32_t reach = kHistoryHours + HourRing::kSlots;
  return std::max(first_seen_hour, newest > reach ? newest - reach : 0u);
}

// Hours with recipients or bounces in [first, last].
uint64_t HoursWithMail(const AccountRecord& record, uint32_t first, uint32_t last) {
  uint64_t hours = 0;
  for (uint64_t h = first; h <= last; ++h) {
    const auto hour = static_cast<uint32_t>(h);
    hours += HourValue(record, Counter::kRecipients, hour) > 0 ||
             HourValue(record, Counter::kBounces, hour) > 0;
  }
  return hours;
}

template <size_t N>
void OrInto(std::array<uint8_t, N>& into, const std::array<uint8_t, N>& from) {
  for (size_t i = 0; i < N; ++i) into[i] |= from[i];
}

// Adds the recipients the logs knew to the account's recipient filter, where
// the generations line up (each generation is half the learning span; an
// older one than the store's previous is forgotten anyway).
void MergeFilters(AccountHistory& into, const AccountHistory& from) {
  if (from.filter_generation == 0) return;
  if (into.filter_generation == 0) {
    into.filter_generation = from.filter_generation;
    into.current = from.current;
    into.previous = from.previous;
  } else if (from.filter_generation == into.filter_generation) {
    OrInto(into.current, from.current);
    OrInto(into.previous, from.previous);
  } else if (from.filter_generation + 1 == into.filter_generation) {
    OrInto(into.previous, from.current);
  }
}

// Adds `n` to hour `hour` of the stored history (a byte on the log scale).
void AddToHistory(std::array<uint8_t, kHistoryHours>& counts, uint32_t hour, uint64_t n) {
  uint8_t& code = counts[hour % kHistoryHours];
  code = QuantizeCount(DequantizeCount(code) + n);
}

// Works on `stored` freely: the caller keeps the result only for kExtended.
LearnOutcome Extend(AccountRecord& stored, const AccountRecord& learned, uint64_t& hours_added) {
  const uint32_t boundary = HourOf(stored.first_seen);
  if (learned.first_seen == 0 || HourOf(learned.first_seen) >= boundary) {
    return LearnOutcome::kUpToDate;
  }
  const uint32_t learned_first = OldestKnownHour(learned, HourOf(learned.first_seen));
  // The hour the store's record began is the store's alone: the logs' part
  // of it cannot be told apart from what the plugin counted.
  const uint32_t last = std::min(boundary - 1, HourOf(learned.last_seen));
  AccountHistory& history = stored.history;
  HourRing& ring = stored.hours;
  const auto in_ring = [&](uint32_t h) {
    return ring.head() != 0 && h + HourRing::kSlots > ring.head() &&
           (history.head_hour == 0 || h > history.head_hour);
  };
  for (uint32_t h = learned_first; h <= last; ++h) {
    const uint64_t recipients = HourValue(learned, Counter::kRecipients, h);
    const uint64_t bounces = HourValue(learned, Counter::kBounces, h);
    if (recipients == 0 && bounces == 0) continue;
    if (in_ring(h)) {
      // Still within the record's exact 24 hours (Add with an hour before
      // the ring's head counts into that hour's slot).
      if (recipients > 0) ring.Add(Counter::kRecipients, h, recipients);
      if (bounces > 0) ring.Add(Counter::kBounces, h, bounces);
      ++hours_added;
      continue;
    }
    if (history.head_hour == 0) {
      // No hour moved into the history yet: it begins just before the ring's
      // oldest hour, so the next Absorb carries on from there.
      history.head_hour = ring.head() != 0 ? ring.head() - HourRing::kSlots : boundary - 1;
    }
    // Too old for the history (it keeps kHistoryHours behind its head).
    if (h > history.head_hour || h + kHistoryHours <= history.head_hour) continue;
    AddToHistory(history.recipients, h, recipients);
    AddToHistory(history.bounces, h, bounces);
    ++hours_added;
  }
  if (hours_added == 0) return LearnOutcome::kUpToDate;
  MergeFilters(history, learned.history);
  stored.first_seen = std::min(stored.first_seen, learned.first_seen);
  return LearnOutcome::kExtended;
}

}  // namespace

std::string_view LearnOutcomeName(LearnOutcome outcome) {
  switch (outcome) {
    case LearnOutcome::kNew: return "new";
    case LearnOutcome::kExtended: return "extended";
    case LearnOutcome::kUpToDate: return "up_to_date";
    case LearnOutcome::kStale: return "stale";
    case LearnOutcome::kNoMail: return "no_mail";
    case LearnOutcome::kUnreadable: return "unreadable";
  }
  return "unknown";
}

Policy CountingPolicy(const Policy& policy) {
  Policy counting = policy;
  counting.rules.clear();
  return counting;
}

LearnOutcome MergeLearned(AccountRecord& stored, const AccountRecord& learned,
                          uint64_t& hours_added) {
  hours_added = 0;
  if (!HasMail(learned)) return LearnOutcome::kNoMail;
  if (stored.first_seen != 0) {
    AccountRecord extended = stored;
    const LearnOutcome outcome = Extend(extended, learned, hours_added);
    if (outcome == LearnOutcome::kExtended) {
      stored = std::move(extended);
    } else {
      hours_added = 0;
    }
    return outcome;
  }
  // Nothing of this account in the store: the replay's record is what the
  // plugin would hold. The lock state stays the store's (an account locked
  // by hand before it ever sent keeps that lock).
  stored.first_seen = learned.first_seen;
  stored.last_seen = std::max(stored.last_seen, learned.last_seen);
  stored.minutes = learned.minutes;
  stored.hours = learned.hours;
  stored.networks = learned.networks;
  stored.network_count = learned.network_count;
  stored.history = learned.history;
  const uint32_t first = OldestKnownHour(learned, HourOf(learned.first_seen));
  const uint32_t last = HourOf(learned.last_seen);
  hours_added = first == 0 ? 0 : HoursWithMail(learned, first, last);
  return LearnOutcome::kNew;
}

Result<LearnReport> MergeReplayed(Store& replayed, Store& store, const Policy& policy,
                                  const MergeOptions& options) {
  LearnReport report;
  std::optional<Error> failure;
  const auto has_learned_limit = [&](const AccountRecord& record) {
    return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const Rule& rule) {
      return rule.learned && LearnedLimit(policy, rule, record, options.now).has_value();
    });
  };
  auto scan = replayed.ForEach([&](const AccountRecord& learned) {
    ++report.accounts;
    LearnedAccount result;
    result.account = learned.account;
    result.first_seen = learned.first_seen;
    result.last_seen = learned.last_seen;
    AccountRecord merged;
    // May run twice (Store::Update retries after pruning a full map): it
    // starts from the record it is given every time.
    const auto merge = [&](AccountRecord& stored) {
      result.hours_added = 0;
      if (stored.first_seen == 0 && HasMail(learned) &&
          learned.last_seen + policy.store.retention_seconds < options.now) {
        result.outcome = LearnOutcome::kStale;
        return WriteMode::kSkip;
      }
      result.outcome = MergeLearned(stored, learned, result.hours_added);
      merged = stored;
      const bool changed =
          result.outcome == LearnOutcome::kNew || result.outcome == LearnOutcome::kExtended;
      return changed && !options.dry_run ? WriteMode::kSoft : WriteMode::kSkip;
    };
    // A record the store cannot decode stays as it is and the others go
    // on; true when the merge must stop.
    const auto stops = [&](const Error& error) {
      if (error.kind == ErrorKind::kStoreCorrupt || error.kind == ErrorKind::kUnsupported) {
        result.outcome = LearnOutcome::kUnreadable;
        return false;
      }
      failure = error;
      return true;
    };
    if (options.dry_run) {
      auto existing = store.Get(learned.account);
      if (!existing) {
        if (stops(existing.error())) return false;
      } else {
        AccountRecord stored = existing->value_or(AccountRecord{});
        stored.account = learned.account;
        merge(stored);
      }
    } else if (auto updated = store.Update(learned.account, merge); !updated) {
      if (stops(updated.error())) return false;
    }
    switch (result.outcome) {
      case LearnOutcome::kNew: ++report.added; break;
      case LearnOutcome::kExtended: ++report.extended; break;
      case LearnOutcome::kUpToDate: ++report.up_to_date; break;
      case LearnOutcome::kStale: ++report.stale; break;
      case LearnOutcome::kNoMail: ++report.no_mail; break;
      case LearnOutcome::kUnreadable: ++report.unreadable; break;
    }
    if (result.outcome == LearnOutcome::kNew || result.outcome == LearnOutcome::kExtended ||
        result.outcome == LearnOutcome::kUpToDate) {
      result.first_seen = merged.first_seen;
      result.last_seen = merged.last_seen;
      result.learned_limit = has_learned_limit(merged);
    }
    if (result.outcome == LearnOutcome::kNew || result.outcome == LearnOutcome::kExtended) {
      (result.outcome == LearnOutcome::kNew ? report.hours_new : report.hours_extended) +=
          result.hours_added;
      report.with_learned_limit += result.learned_limit;
    }
    if (options.on_account) options.on_account(result);
    return true;
  });
  if (failure) return std::unexpected(*failure);
  if (!scan) return std::unexpected(scan.error());
  return report;
}

}  // namespace senderwatch::eximlog
