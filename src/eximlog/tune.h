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
#ifndef SENDERWATCH_SRC_EXIMLOG_TUNE_H_
#define SENDERWATCH_SRC_EXIMLOG_TUNE_H_

#include <cstdint>
#include <memory>
#include <string>
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

// The suggested limit for a rule with `action` reading a series with this
// distribution (docs/replay.md gives the reasoning): the busiest ordinary
// accounts (p99, p99.9 from 1000 accounts) times a headroom of 2 (3 for
// lock rules), rounded up; ratios get +0.1 headroom (+0.15 for lock rules)
// and stay within [0.2, 0.9]; counters never below 10.
double SuggestLimit(const Distribution& distribution, Metric metric, Action action);

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

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_TUNE_H_
