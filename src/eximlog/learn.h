// Learning from old logs: `senderwatch learn` replays Exim main logs with a
// policy that has no rules (so it only counts) and gives the store the
// hourly history and known recipients of each account, so learned limits
// work from the first day on a server that already has logs.
//
// The replay runs into a store of its own, then each account is merged into
// the real store in one transaction. Writing the replay straight into the
// real store would be wrong for accounts it already knows: the engine's clock
// follows the log, and an event older than a record's newest slot is counted
// into that slot (window.h), so weeks of old mail would land in the current
// minute and defer or lock honest accounts at once. Merging instead:
//
//   - an account the store has no activity of gets the replayed record as
//     it is (windows, client networks, history, known recipients): what the
//     plugin would hold had it been running while the logs were written;
//   - an account the store knows gets only the hours before its first
//     recorded activity (first_seen) added to its history, and first_seen
//     moved back; everything from that hour on the store already counted
//     itself. So merging the same logs twice adds nothing the second time.
#ifndef SENDERWATCH_SRC_EXIMLOG_LEARN_H_
#define SENDERWATCH_SRC_EXIMLOG_LEARN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "senderwatch/clock.h"
#include "senderwatch/error.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/store.h"

namespace senderwatch::eximlog {

// What merging did to one account.
enum class LearnOutcome {
  kNew,         // the store had no activity of it: the replayed record was written
  kExtended,    // the store knew it: earlier hours were added to its history
  kUpToDate,    // the store knew it from before these logs: nothing to add
  kStale,       // idle for longer than [store] retention: not written (gc would remove it)
  kNoMail,      // no recipient in the logs (failed logins, deferrals only): not written
  kUnreadable,  // the store's record cannot be decoded (damaged, or of a newer
                // senderwatch): left alone, as the store leaves it
};
std::string_view LearnOutcomeName(LearnOutcome outcome);  // "new", "extended", ...

// The policy `learn` replays with: `policy` without rules, so nothing is
// ever deferred or locked and escalation has nothing to act on; learning,
// sender ownership and failure classification stay the policy's.
Policy CountingPolicy(const Policy& policy);

// Merges `learned` (the replayed record of the same account) into `stored`
// as described above. Returns what it did; `stored` is changed only for
// kNew and kExtended. `hours_added` receives the hours with mail that were
// added (kNew: every hour with mail in the replayed record).
LearnOutcome MergeLearned(AccountRecord& stored, const AccountRecord& learned,
                          uint64_t& hours_added);

struct LearnedAccount {
  std::string account;
  LearnOutcome outcome = LearnOutcome::kNoMail;
  uint64_t hours_added = 0;
  UnixSeconds first_seen = 0;  // in the store after merging (kNoMail, kStale: in the logs)
  UnixSeconds last_seen = 0;
  // At least one learned rule of the policy now takes its limit from the
  // account's history (LearnedLimit) rather than its fallback, judged at
  // MergeOptions::now. False when the policy has no learned rule.
  bool learned_limit = false;
};

struct LearnReport {
  uint64_t accounts = 0;  // accounts in the logs
  uint64_t added = 0;     // kNew
  uint64_t extended = 0;  // kExtended
  uint64_t up_to_date = 0;
  uint64_t stale = 0;
  uint64_t no_mail = 0;
  uint64_t unreadable = 0;
  uint64_t hours_new = 0;       // hours with mail of the kNew accounts
  uint64_t hours_extended = 0;  // hours with mail added to kExtended accounts
  uint64_t with_learned_limit = 0;  // of the kNew and kExtended accounts
};

struct MergeOptions {
  UnixSeconds now = 0;      // the real time: retention and learned limits are judged at it
  bool dry_run = false;     // compute everything, write nothing
  // Called once per account of `replayed`, in key order; may be empty.
  std::function<void(const LearnedAccount&)> on_account;
};

// Merges every record of `replayed` (the store the replay ran into) into
// `store`, one Store::Update per account. `policy` is the real one (its
// retention and learned rules). An account whose stored record cannot be
// decoded is skipped (kUnreadable); any other store error stops the merge,
// and the accounts merged before it stay merged.
Result<LearnReport> MergeReplayed(Store& replayed, Store& store, const Policy& policy,
                                  const MergeOptions& options);

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_LEARN_H_
