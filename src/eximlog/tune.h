// Measured limits. For every (metric, window) a policy's rules read, tune
// replays the log without any rule able to act and records each account's
// peak: the highest value the rule would have seen at any check. The
// distribution of those peaks over accounts says where honest use ends; the
// count of accounts above a candidate limit is how many accounts a rule with
// that limit would have fired on (rules fire when the value is strictly
// above the limit, at the moments the plugin evaluates).
//
// The counting is the plugin's own: an Engine over an in-memory store with
// the policy's rules turned into warnings (so nothing locks), and the values
// are read with ReadRules after every call, as evaluation reads them.
//
// The logs an admin tunes on are often those of a server that has just been
// abused, so the suggestions must not learn from the spammers they measure
// (issue 13). Tune therefore replays the policy and conservative built-in
// lock rules first and leaves the accounts they lock out of every
// population ("suspected compromised"), estimates where the body of each
// distribution ends on the log scale (median and MAD, which a few percent of
// outliers do not move), never suggests a lock limit above a value at which
// an account was locked, suggests nothing without data, and replays its own
// suggestion to show which accounts it would newly stop or let through.
// docs/replay.md gives the measurements behind each choice.
#ifndef SENDERWATCH_SRC_EXIMLOG_TUNE_H_
#define SENDERWATCH_SRC_EXIMLOG_TUNE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eximlog/joiner.h"
#include "senderwatch/clock.h"
#include "senderwatch/engine.h"
#include "senderwatch/log.h"
#include "senderwatch/metric.h"
#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/store.h"

namespace senderwatch::eximlog {

// True for the metrics that are shares (0..1) rather than counts.
bool IsRatioMetric(Metric metric);

// One measured quantity: a metric over a window. For ratios, `min` is the
// least recipients in the window before the ratio counts (the rule's min);
// for counters the rule's min applies to the value itself and is not part
// of the series.
struct Series {
  Metric metric = Metric::kRecipients;
  int64_t window_seconds = 3600;
  uint64_t min = 0;
  std::vector<std::string> rules;  // the policy rules reading this series
};

// The series the rules of `policy` read, in rule order, plus a one-hour
// series for each metric no rule reads (so tune shows every metric).
std::vector<Series> SeriesOfPolicy(const Policy& policy);

struct Peak {
  double value = 0;
  UnixSeconds at = 0;
  // A rule could read the series at least once: always, after any event,
  // for counters; for ratios once the window held `min` recipients.
  bool measured = false;
};

class PeakTracker final : public EventSink {
 public:
  // `policy` shapes the counting (learning, sender ownership); its rules are
  // replaced by one warning per series.
  PeakTracker(const Policy& policy, std::vector<Series> series);

  void OnRecipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                   std::string_view sender, std::string_view recipient) override;
  void OnBounce(UnixSeconds time, AccountRef account, std::string_view recipient,
                std::string_view reason) override;
  void OnDefer(UnixSeconds time, AccountRef account, std::string_view recipient,
               std::string_view reason) override;
  void OnAuthfail(UnixSeconds time, AccountRef account, std::string_view client_ip) override;

  const std::vector<Series>& series() const { return series_; }
  size_t account_count() const { return accounts_.size(); }
  // Accounts by index (the Joiner's); `sent` is false for accounts that
  // only failed to authenticate.
  const std::string& account_name(size_t index) const { return accounts_[index].name; }
  bool sent(size_t index) const { return accounts_[index].recipients > 0; }
  bool seen(size_t index) const { return accounts_[index].seen; }
  const Peak& peak(size_t series, size_t account) const {
    return accounts_[account].peaks[series];
  }
  // Calls the engine refused (a garbled address); they are skipped.
  uint64_t engine_errors() const { return engine_errors_; }

 private:
  struct Account {
    std::string name;
    bool seen = false;
    uint64_t recipients = 0;
    std::vector<Peak> peaks;  // per series
  };
  Account& Get(AccountRef ref);
  void Tick(UnixSeconds time);
  // Reads every series of `account` after an engine call.
  void Measure(Account& account);

  std::vector<Series> series_;
  Policy measuring_;  // the policy with one warn rule per series
  ManualClock clock_;
  NullLogger logger_;
  std::unique_ptr<Store> store_;
  Engine engine_;
  std::vector<Account> accounts_;
  uint64_t engine_errors_ = 0;
};

// The distribution of one series' peaks over a population of accounts.
struct Distribution {
  std::vector<double> sorted;  // ascending
  double Percentile(double p) const;  // p in [0, 100]; nearest rank
  uint64_t CountAbove(double limit) const;
};

// A "round" number at or above `value`: 1, 2, 5 times a power of ten (for
// ratios: multiples of 0.05, at most 1).
double NiceCeil(double value, bool ratio);

// Limits worth showing for a distribution: the current limits, round
// numbers near its upper percentiles, and the suggestion.
std::vector<double> CandidateLimits(const Distribution& distribution, bool ratio,
                                    const std::vector<double>& current);

// The limit a rule with `action` gets when the busiest ordinary account
// peaks at `reference`: a headroom of 2 (3 for lock rules), rounded up;
// ratios get +0.1 (+0.15 for lock rules) and stay within [0.2, 0.9];
// counters never below 10, client_ips at most 15.
double LimitFromReference(double reference, Metric metric, Action action);

// Where the ordinary accounts of a distribution end. On the log scale the
// non-zero peaks of honest accounts are roughly normal; the median and the
// MAD (median absolute deviation) of their logarithms hardly move when a
// few percent of the accounts are spammers far above them, where a high
// percentile is one of the spammers as soon as they are more than 1% of
// the accounts.
struct Body {
  size_t accounts = 0;  // the population
  size_t nonzero = 0;   // accounts with a non-zero peak
  double median = 0;    // of the non-zero peaks
  double spread = 0;    // 1.4826 x MAD of the logarithms (at least 0.25)
  double fence = 0;     // median x exp(kBodySpreads x spread)
  double top = 0;       // the largest peak at or below the fence
  size_t above = 0;     // peaks above the fence (outliers)
};
// The fence sits this many spreads above the median: 3 spreads of a normal
// distribution hold 99.87% of it, so an honest account is rarely left out
// of the body by chance.
inline constexpr double kBodySpreads = 3.0;
Body EstimateBody(const Distribution& distribution);

struct TuneOptions {
  // A series measured on fewer accounts, or with fewer accounts that have
  // a non-zero peak, keeps its rules' limits: a percentile of 12 accounts
  // or of zeros is not evidence.
  size_t min_accounts = 30;
  size_t min_nonzero = 10;
  // Accounts listed at the top of each series.
  size_t top = 5;
  // Where warn and defer rules (rate limits, not detectors) take their
  // reference: kPercentile, the p99 of the population without the suspects
  // (p99.9 from 1000 accounts), leaves honest heavy senders and newsletters
  // alone; kBody, the busiest account of the body, also stops them.
  // docs/replay.md has the measurements. Lock rules always use the body.
  enum class RateReference { kPercentile, kBody };
  RateReference rate_reference = RateReference::kPercentile;
};

// The suggestion for one rule, from the peaks of the accounts not
// suspected (`population`, its `body`). `lowest_lock` is the lowest value at which a
// replay locked an account by this rule or by a screening rule reading the
// same series; a lock rule's suggestion stays below it.
struct Suggestion {
  double limit = 0;
  bool kept = false;   // no suggestion: the current limit stays
  std::string why;     // for a kept limit, the reason; else how it was derived
  double reference = 0;
  std::optional<double> cap;  // lock rules: the highest limit that still locks every locked account
};
Suggestion Suggest(const Distribution& population, const Body& body, const Rule& rule,
                   std::optional<double> lowest_lock, const TuneOptions& options);

// One bar of a histogram of peaks: values in [low, high] (ratios: [low,
// high), the last bin closed).
struct HistogramBin {
  double low = 0;
  double high = 0;
  std::string label;  // "0", "4-7", "0.30-0.35"
  uint64_t count = 0;
};

// Bins suited to the metric: ratios in steps of 0.05; client networks one
// per value; counters 0, 1, 2-3, 4-7, ... (powers of two), so a heavy tail
// stays readable. The bins reach the largest peak and `extend_to` (a limit
// to be marked).
std::vector<HistogramBin> MakeHistogram(const Distribution& distribution, Metric metric,
                                        double extend_to = 0);

// Where a limit of `value` goes on the histogram's axis, in bins from the
// left edge (2.5: the middle of the third bin): the boundary between the
// values at or below it and those above it, which a rule with that limit
// fires on. Used to draw limit markers.
double HistogramPosition(const std::vector<HistogramBin>& bins, double value, Metric metric);

struct SeriesReport;
// The limits worth marking on a series (its table of candidates, its
// histogram): the current and the suggested limit of each rule reading it.
std::vector<double> LimitsToShow(const SeriesReport& report, const Policy& policy);
// The histogram of a series' population, reaching its highest limit to show.
std::vector<HistogramBin> SeriesHistogram(const SeriesReport& report, const Policy& policy);

// The joined events of the logs, kept so that tune replays them several
// times (screening, measuring, its self-check) from one read of the logs,
// standard input included. Strings are stored once each.
class EventLog final : public EventSink {
 public:
  void OnRecipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                   std::string_view sender, std::string_view recipient) override;
  void OnBounce(UnixSeconds time, AccountRef account, std::string_view recipient,
                std::string_view reason) override;
  void OnDefer(UnixSeconds time, AccountRef account, std::string_view recipient,
               std::string_view reason) override;
  void OnAuthfail(UnixSeconds time, AccountRef account, std::string_view client_ip) override;

  // Sends every event to `sink`, in the order they came, with the same
  // account indexes and names.
  void Play(EventSink& sink) const;
  size_t size() const { return events_.size(); }

 private:
  enum class Kind : uint8_t { kRecipient, kBounce, kDefer, kAuthfail };
  struct Event {
    UnixSeconds time;
    uint32_t account;
    Kind kind;
    uint32_t a, b, c;  // string ids, by kind as the EventSink arguments
  };
  uint32_t Intern(std::string_view text);
  void Remember(AccountRef account);

  std::vector<Event> events_;
  std::vector<std::string_view> names_;  // account index -> name (into strings_)
  std::deque<std::string> strings_;      // stable addresses
  std::unordered_map<std::string_view, uint32_t> ids_;
};

// An account a replay locked.
struct Suspect {
  std::string account;
  std::string rule;  // the rule that locked it
  Metric metric = Metric::kBounces;
  int64_t window_seconds = 0;
  double value = 0;
  double limit = 0;
  UnixSeconds since = 0;
  bool by_policy = false;  // locked by the policy tuned (else only by screening)
};

// A change of an account's strongest verdict between two replays.
struct VerdictDiff {
  std::string account;
  Action before = Action::kOk;
  std::string before_rule;
  Action after = Action::kOk;
  std::string after_rule;
};

struct RuleReport {
  size_t rule = 0;  // index into the policy's rules
  Suggestion suggestion;
  uint64_t above_current = 0;    // accounts of the population a rule at the current limit fires on
  uint64_t above_suggested = 0;
  // The self-check: accounts whose strongest verdict the suggested policy
  // makes stronger (newly stopped) or weaker (newly let through), told by
  // the rule that decides the stronger of the two verdicts.
  std::vector<VerdictDiff> newly_stopped;
  std::vector<VerdictDiff> newly_let_through;
};

struct PeakOf {
  std::string account;
  double value = 0;
  UnixSeconds at = 0;
};

struct SeriesReport {
  Series series;
  // Peaks of the accounts not suspected: senders (every name for authfails),
  // for ratios only those measured.
  Distribution population;
  Body body;
  std::vector<PeakOf> top;       // of the population, highest first, non-zero
  std::vector<PeakOf> suspects;  // the suspects' non-zero peaks, highest first
  std::vector<RuleReport> rules;
};

struct TuneReport {
  std::vector<SeriesReport> series;
  std::vector<Suspect> suspects;  // by policy first, then screening, in time order
  Policy suggested;
  uint64_t sending_accounts = 0;
  uint64_t engine_errors = 0;
  // The self-check over all rules: locked accounts before and after, and
  // every account whose strongest verdict changed.
  uint64_t locked_before = 0;
  uint64_t locked_after = 0;
  std::vector<VerdictDiff> changes;
};

// The conservative lock rules screening adds to the policy's own: the
// built-in lock rules at their built-in limits, named "builtin:NAME".
std::vector<Rule> ScreeningRules();

// Everything tune reports, from the events of the logs.
TuneReport Tune(const Policy& policy, const EventLog& events, const TuneOptions& options = {});

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_TUNE_H_
