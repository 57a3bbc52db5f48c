// Peak measurement and limit suggestions; see tune.h.
#include "eximlog/tune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "eximlog/replay.h"
#include "senderwatch/verdict.h"

namespace senderwatch::eximlog {
bool IsRatioMetric(Metric metric) {
  return metric == Metric::kBounceRatio || metric == Metric::kNewRecipientRatio;
}

std::vector<Series> SeriesOfPolicy(const Policy& policy) {
  std::vector<Series> series;
  for (const Rule& rule : policy.rules) {
    const uint64_t min = IsRatioMetric(rule.metric) ? rule.min : 0;
    auto it = std::find_if(series.begin(), series.end(), [&](const Series& s) {
      return s.metric == rule.metric && s.window_seconds == rule.window_seconds && s.min == min;
    });
    if (it == series.end()) {
      series.push_back(Series{rule.metric, rule.window_seconds, min, {}});
      it = series.end() - 1;
    }
    it->rules.push_back(rule.name);
  }
  for (const Metric metric : kAllMetrics) {
    const bool read = std::any_of(series.begin(), series.end(),
                                  [&](const Series& s) { return s.metric == metric; });
    if (!read) series.push_back(Series{metric, 3600, IsRatioMetric(metric) ? 20u : 0u, {}});
  }
  return series;
}

namespace {

Policy MeasuringPolicy(const Policy& policy, const std::vector<Series>& series) {
  Policy measuring = policy;
  measuring.rules.clear();
  for (size_t i = 0; i < series.size(); ++i) {
    Rule rule;
    rule.name = "series-" + std::to_string(i);
    rule.metric = series[i].metric;
    rule.window_seconds = series[i].window_seconds;
    rule.above = 1e300;  // never fires
    rule.min = series[i].min;
    rule.action = Action::kWarn;
    measuring.rules.push_back(std::move(rule));
  }
  return measuring;
}

}  // namespace

PeakTracker::PeakTracker(const Policy& policy, std::vector<Series> series)
    : series_(std::move(series)),
      measuring_(MeasuringPolicy(policy, series_)),
      store_(NewMemoryStore(policy.store)),
      engine_(measuring_, *store_, clock_, logger_) {}

PeakTracker::Account& PeakTracker::Get(AccountRef ref) {
  if (ref.index >= accounts_.size()) accounts_.resize(ref.index + 1);
  Account& account = accounts_[ref.index];
  if (!account.seen) {
    account.seen = true;
    account.name = std::string(ref.name);
    account.peaks.assign(series_.size(), Peak{});
  }
  return account;
}

void PeakTracker::Tick(UnixSeconds time) {
  const UnixSeconds now = clock_.Now();
  if (time > now || time < now - 3600) clock_.Set(time);
}

void PeakTracker::Measure(Account& account) {
  auto record = store_->Get(account.name);
  if (!record || !record->has_value()) return;
  const AccountRecord& r = **record;
  const UnixSeconds now = clock_.Now();
  const std::vector<RuleReading> readings = ReadRules(measuring_, r, now, LimitOverrides{});
  for (size_t i = 0; i < series_.size() && i < readings.size(); ++i) {
    const Series& s = series_[i];
    if (IsRatioMetric(s.metric)) {
      const uint64_t denominator = CounterInWindow(r, Counter::kRecipients, s.window_seconds, now);
      if (denominator == 0 || denominator < s.min) continue;
    }
    Peak& peak = account.peaks[i];
    if (readings[i].value > peak.value || !peak.measured) {
      peak = readings[i].value > peak.value ? Peak{readings[i].value, now, true} : Peak{peak.value, peak.at, true};
    }
  }
}

void PeakTracker::OnRecipient(UnixSeconds time, AccountRef ref, std::string_view client_ip,
                              std::string_view sender, std::string_view recipient) {
  Tick(time);
  Account& account = Get(ref);
  // Unreadable addresses are left out of the count by the engine itself.
  auto verdict = engine_.CheckSender(ref.name, client_ip, {}, CheckContext{recipient, sender});
  if (!verdict || !verdict->error.empty()) ++engine_errors_;
  if (!verdict) return;
  ++account.recipients;
  Measure(account);
}

void PeakTracker::OnBounce(UnixSeconds time, AccountRef ref, std::string_view recipient,
                           std::string_view reason) {
  Tick(time);
  Account& account = Get(ref);
  const Origin origin = ref.local ? Origin::kLocal : Origin::kSmtp;
  if (!engine_.RecordBounce(ref.name, recipient, reason, origin)) ++engine_errors_;
  Measure(account);
}

void PeakTracker::OnDefer(UnixSeconds time, AccountRef ref, std::string_view recipient,
                          std::string_view reason) {
  Tick(time);
  Account& account = Get(ref);
  const Origin origin = ref.local ? Origin::kLocal : Origin::kSmtp;
  if (!engine_.RecordDefer(ref.name, recipient, reason, origin)) ++engine_errors_;
  Measure(account);
}

void PeakTracker::OnAuthfail(UnixSeconds time, AccountRef ref, std::string_view client_ip) {
  Tick(time);
  Account& account = Get(ref);
  auto result = engine_.RecordAuthfail(ref.name, client_ip);
  if (!result && !client_ip.empty()) {
    ++engine_errors_;
    result = engine_.RecordAuthfail(ref.name, {});
  }
  if (!result) ++engine_errors_;
  Measure(account);
}

double Distribution::Percentile(double p) const {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : std::min(sorted.size() - 1, static_cast<size_t>(rank) - 1);
  return sorted[index];
}

uint64_t Distribution::CountAbove(double limit) const {
  return static_cast<uint64_t>(sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), limit));
}

double NiceCeil(double value, bool ratio) {
  if (ratio) return std::min(1.0, std::ceil(value * 20.0 - 1e-9) / 20.0);
  if (value <= 1) return 1;
  const double power = std::pow(10.0, std::floor(std::log10(value)));
  for (const double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * power >= value - 1e-9) return step * power;
  }
  return 10 * power;
}

std::vector<double> CandidateLimits(const Distribution& distribution, bool ratio,
                                    const std::vector<double>& current) {
  std::set<double> limits(current.begin(), current.end());
  if (ratio) {
    for (const double r : {0.1, 0.2, 0.3, 0.5, 0.7, 0.9}) limits.insert(r);
  } else {
    for (const double p : {90.0, 99.0, 99.9}) {
      limits.insert(NiceCeil(distribution.Percentile(p), false));
    }
    const double max = distribution.sorted.empty() ? 0 : distribution.sorted.back();
    for (double v = NiceCeil(std::max(1.0, distribution.Percentile(99.0)), false);
         v <= NiceCeil(max, false) * 2 && limits.size() < 12; v = NiceCeil(v * 1.01, false)) {
      limits.insert(v);
    }
  }
  return {limits.begin(), limits.end()};
}

double LimitFromReference(double reference, Metric metric, Action action) {
  if (IsRatioMetric(metric)) {
    return std::clamp(NiceCeil(reference + (action == Action::kLock ? 0.15 : 0.1), true), 0.2, 0.9);
  }
  const double headroom = action == Action::kLock ? 3.0 : 2.0;
  double limit = NiceCeil(std::max(10.0, reference * headroom), false);
  if (metric == Metric::kClientIps) limit = std::min(limit, static_cast<double>(kMaxNetworks - 1));
  return limit;
}

namespace {

double MedianOf(const std::vector<double>& sorted) {
  if (sorted.empty()) return 0;
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

}  // namespace

Body EstimateBody(const Distribution& distribution) {
  Body body;
  body.accounts = distribution.sorted.size();
  const auto first = std::upper_bound(distribution.sorted.begin(), distribution.sorted.end(), 0.0);
  std::vector<double> logs;
  for (auto it = first; it != distribution.sorted.end(); ++it) logs.push_back(std::log(*it));
  body.nonzero = logs.size();
  if (logs.empty()) return body;
  const double center = MedianOf(logs);
  std::vector<double> deviations;
  for (const double l : logs) deviations.push_back(std::abs(l - center));
  std::sort(deviations.begin(), deviations.end());
  body.median = std::exp(center);
  body.spread = std::max(0.25, 1.4826 * MedianOf(deviations));
  body.fence = std::exp(center + kBodySpreads * body.spread);
  const auto past = std::upper_bound(first, distribution.sorted.end(), body.fence * (1 + 1e-12));
  body.top = past == first ? 0 : *(past - 1);
  body.above = static_cast<size_t>(distribution.sorted.end() - past);
  return body;
}

namespace {

// The highest limit below `value` a rule fires at (fires: strictly above).
double HighestLimitBelow(double value, Metric metric) {
  if (IsRatioMetric(metric)) return std::max(0.0, std::ceil(value * 20.0 - 1e-9) / 20.0 - 0.05);
  return std::max(0.0, std::ceil(value - 1e-9) - 1);
}

std::string Num(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", value);
  return buf;
}

}  // namespace

Suggestion Suggest(const Distribution& population, const Body& body, const Rule& rule,
                   std::optional<double> lowest_lock, const TuneOptions& options) {
  Suggestion s;
  s.limit = rule.above;
  if (body.accounts < options.min_accounts) {
    s.kept = true;
    s.why = "only " + std::to_string(body.accounts) + " accounts measured (" +
            std::to_string(options.min_accounts) + " needed)";
    return s;
  }
  if (body.nonzero == 0) {
    s.kept = true;
    s.why = "no account has a non-zero peak";
    return s;
  }
  if (body.nonzero < options.min_nonzero) {
    s.kept = true;
    s.why = "only " + std::to_string(body.nonzero) + " accounts with a non-zero peak (" +
            std::to_string(options.min_nonzero) + " needed)";
    return s;
  }
  const bool percentile = rule.action != Action::kLock &&
                          options.rate_reference == TuneOptions::RateReference::kPercentile;
  if (percentile) {
    const bool large = population.sorted.size() >= 1000;
    s.reference = population.Percentile(large ? 99.9 : 99.0);
    s.why = std::string(large ? "p99.9" : "p99") + " of the accounts not suspected " + Num(s.reference);
  } else {
    s.reference = body.top;
    s.why = "busiest ordinary account " + Num(body.top) + " (body: median " + Num(body.median) +
            ", fence " + Num(body.fence) + ", " + std::to_string(body.above) + " above)";
  }
  s.limit = LimitFromReference(s.reference, rule.metric, rule.action);
  if (rule.action == Action::kLock && lowest_lock) {
    const double cap = HighestLimitBelow(*lowest_lock, rule.metric);
    s.cap = cap;
    if (s.limit > cap) {
      s.limit = cap;
      s.why += "; capped below the lowest value an account was locked at, " + Num(*lowest_lock);
    }
  }
  return s;
}

std::vector<HistogramBin> MakeHistogram(const Distribution& distribution, Metric metric,
                                        double extend_to) {
  std::vector<HistogramBin> bins;
  const auto& v = distribution.sorted;
  const double max = std::max(v.empty() ? 0 : v.back(), extend_to);
  char label[48];
  if (IsRatioMetric(metric)) {
    const int count = std::clamp(static_cast<int>(std::floor(max * 20 + 1e-9)) + 2, 4, 20);
    for (int i = 0; i < count; ++i) {
      HistogramBin bin{i * 0.05, (i + 1) * 0.05, "", 0};
      std::snprintf(label, sizeof label, "%.2f-%.2f", bin.low, bin.high);
      bin.label = label;
      const auto first = std::lower_bound(v.begin(), v.end(), bin.low - 1e-12);
      const auto last =
          i + 1 == count ? v.end() : std::lower_bound(v.begin(), v.end(), bin.high - 1e-12);
      bin.count = static_cast<uint64_t>(last - first);
      bins.push_back(std::move(bin));
    }
    return bins;
  }
  const auto add = [&](double low, double high) {
    HistogramBin bin{low, high, "", 0};
    if (low == high) {
      std::snprintf(label, sizeof label, "%.0f", low);
    } else {
      std::snprintf(label, sizeof label, "%.0f-%.0f", low, high);
    }
    bin.label = label;
    bin.count = static_cast<uint64_t>(std::upper_bound(v.begin(), v.end(), high + 1e-9) -
                                      std::lower_bound(v.begin(), v.end(), low - 1e-9));
    bins.push_back(std::move(bin));
  };
  if (metric == Metric::kClientIps) {
    for (int i = 0; i <= std::clamp(static_cast<int>(max) + 1, 2, kMaxNetworks); ++i) add(i, i);
    return bins;
  }
  add(0, 0);
  for (double low = 1; low <= std::max(1.0, max) && bins.size() < 64; low *= 2) add(low, low * 2 - 1);
  return bins;
}

std::vector<double> LimitsToShow(const SeriesReport& report, const Policy& policy) {
  std::vector<double> limits;
  for (const RuleReport& r : report.rules) {
    limits.insert(limits.end(), {policy.rules[r.rule].above, r.suggestion.limit});
  }
  return limits;
}

std::vector<HistogramBin> SeriesHistogram(const SeriesReport& report, const Policy& policy) {
  double highest = 0;
  for (double limit : LimitsToShow(report, policy)) highest = std::max(highest, limit);
  return MakeHistogram(report.population, report.series.metric, highest);
}

double HistogramPosition(const std::vector<HistogramBin>& bins, double value, Metric metric) {
  for (size_t i = 0; i < bins.size(); ++i) {
    const HistogramBin& bin = bins[i];
    if (IsRatioMetric(metric)) {
      if (value < bin.high - 1e-9 || i + 1 == bins.size()) {
        return static_cast<double>(i) + std::clamp((value - bin.low) / (bin.high - bin.low), 0.0, 1.0);
      }
    } else if (value < bin.high + 1 - 1e-9) {
      // Integers: the bin [low, high] holds high - low + 1 values; a limit
      // sits right of its own value, where the values that fire begin.
      const double span = bin.high - bin.low + 1;
      return static_cast<double>(i) + std::clamp((value - bin.low + 1) / span, 0.0, 1.0);
    }
  }
  return static_cast<double>(bins.size());
}

uint32_t EventLog::Intern(std::string_view text) {
  if (auto it = ids_.find(text); it != ids_.end()) return it->second;
  const std::string& stored = strings_.emplace_back(text);
  const auto id = static_cast<uint32_t>(strings_.size() - 1);
  ids_.emplace(stored, id);
  return id;
}

void EventLog::Remember(AccountRef account) {
  if (account.index >= names_.size()) names_.resize(account.index + 1);
  if (names_[account.index].empty()) names_[account.index] = strings_[Intern(account.name)];
}

void EventLog::OnRecipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                           std::string_view sender, std::string_view recipient) {
  Remember(account);
  events_.push_back({time, account.index, Kind::kRecipient, Intern(client_ip), Intern(sender), Intern(recipient)});
}

void EventLog::OnBounce(UnixSeconds time, AccountRef account, std::string_view recipient,
                        std::string_view reason) {
  Remember(account);
  events_.push_back({time, account.index, Kind::kBounce, Intern(recipient), Intern(reason), 0});
}

void EventLog::OnDefer(UnixSeconds time, AccountRef account, std::string_view recipient,
                       std::string_view reason) {
  Remember(account);
  events_.push_back({time, account.index, Kind::kDefer, Intern(recipient), Intern(reason), 0});
}

void EventLog::OnAuthfail(UnixSeconds time, AccountRef account, std::string_view client_ip) {
  Remember(account);
  events_.push_back({time, account.index, Kind::kAuthfail, Intern(client_ip), 0, 0});
}

void EventLog::Play(EventSink& sink) const {
  for (const Event& e : events_) {
    const AccountRef account{e.account, names_[e.account]};
    switch (e.kind) {
      case Kind::kRecipient:
        sink.OnRecipient(e.time, account, strings_[e.a], strings_[e.b], strings_[e.c]);
        break;
      case Kind::kBounce: sink.OnBounce(e.time, account, strings_[e.a], strings_[e.b]); break;
      case Kind::kDefer: sink.OnDefer(e.time, account, strings_[e.a], strings_[e.b]); break;
      case Kind::kAuthfail: sink.OnAuthfail(e.time, account, strings_[e.a]); break;
    }
  }
}

std::vector<Rule> ScreeningRules() {
  std::vector<Rule> rules;
  for (Rule rule : DefaultPolicy().rules) {
    if (rule.action != Action::kLock || rule.learned) continue;
    rule.name = "builtin:" + rule.name;
    rules.push_back(std::move(rule));
  }
  return rules;
}

namespace {

struct Outcomes {
  std::map<std::string, AccountOutcome, std::less<>> by_account;
  uint64_t locked = 0;
};

Outcomes ReplayOutcomes(const Policy& policy, const EventLog& events) {
  NullLogger logger;
  Replayer replayer(policy, logger);
  events.Play(replayer);
  Outcomes out;
  for (AccountOutcome& o : replayer.Outcomes()) {
    out.locked += o.worst == Action::kLock;
    std::string name = o.account;
    out.by_account.emplace(std::move(name), std::move(o));
  }
  return out;
}

bool SameSeries(const Rule& rule, const Series& series) {
  return rule.metric == series.metric && rule.window_seconds == series.window_seconds &&
         (IsRatioMetric(rule.metric) ? rule.min : 0) == series.min;
}

std::vector<PeakOf> Highest(std::vector<PeakOf> peaks, size_t count) {
  std::stable_sort(peaks.begin(), peaks.end(),
                   [](const PeakOf& x, const PeakOf& y) { return x.value > y.value; });
  std::erase_if(peaks, [](const PeakOf& p) { return p.value <= 0; });
  if (peaks.size() > count) peaks.resize(count);
  return peaks;
}

}  // namespace

TuneReport Tune(const Policy& policy, const EventLog& events, const TuneOptions& options) {
  TuneReport report;
  // 1. Screening: the policy as it is, and the conservative lock rules.
  const Outcomes current = ReplayOutcomes(policy, events);
  Policy screening = policy;
  screening.rules = ScreeningRules();
  const Outcomes screened = ReplayOutcomes(screening, events);
  std::set<std::string, std::less<>> suspected;
  for (const Outcomes* outcomes : {&current, &screened}) {
    for (const auto& [name, o] : outcomes->by_account) {
      if (o.worst != Action::kLock || suspected.contains(name)) continue;
      suspected.insert(name);
      const VerdictChange& c = o.first_worst;
      report.suspects.push_back(Suspect{name, c.rule, c.metric, c.window_seconds, c.value, c.limit,
                                        c.time, outcomes == &current});
    }
  }
  std::stable_sort(report.suspects.begin(), report.suspects.end(), [](const Suspect& x, const Suspect& y) {
    return x.by_policy != y.by_policy ? x.by_policy : x.since < y.since;
  });

  // 2. Peaks of every series, populations without the suspects.
  PeakTracker tracker(policy, SeriesOfPolicy(policy));
  events.Play(tracker);
  report.engine_errors = tracker.engine_errors();
  report.suggested = policy;
  for (size_t a = 0; a < tracker.account_count(); ++a) {
    report.sending_accounts += tracker.seen(a) && tracker.sent(a);
  }
  for (size_t s = 0; s < tracker.series().size(); ++s) {
    SeriesReport sr;
    sr.series = tracker.series()[s];
    std::vector<PeakOf> top, suspects;
    for (size_t a = 0; a < tracker.account_count(); ++a) {
      if (!tracker.seen(a)) continue;
      if (sr.series.metric != Metric::kAuthfails && !tracker.sent(a)) continue;
      const Peak& peak = tracker.peak(s, a);
      if (IsRatioMetric(sr.series.metric) && !peak.measured) continue;
      PeakOf p{tracker.account_name(a), peak.value, peak.at};
      if (suspected.contains(p.account)) {
        suspects.push_back(std::move(p));
        continue;
      }
      sr.population.sorted.push_back(peak.value);
      top.push_back(std::move(p));
    }
    std::sort(sr.population.sorted.begin(), sr.population.sorted.end());
    sr.top = Highest(std::move(top), options.top);
    sr.suspects = Highest(std::move(suspects), SIZE_MAX);
    sr.body = EstimateBody(sr.population);
    for (size_t r = 0; r < policy.rules.size(); ++r) {
      const Rule& rule = policy.rules[r];
      if (std::find(sr.series.rules.begin(), sr.series.rules.end(), rule.name) == sr.series.rules.end()) {
        continue;
      }
      // The lowest value at which this rule, or a screening rule reading
      // the same series, locked an account.
      std::optional<double> lowest;
      for (const Suspect& suspect : report.suspects) {
        const bool this_rule = suspect.by_policy && suspect.rule == rule.name;
        bool same_screen = false;
        if (!suspect.by_policy || !this_rule) {
          for (const Rule& sc : screening.rules) {
            same_screen |= sc.name == suspect.rule && SameSeries(sc, sr.series);
          }
        }
        if (!this_rule && !same_screen) continue;
        lowest = lowest ? std::min(*lowest, suspect.value) : suspect.value;
      }
      RuleReport rr;
      rr.rule = r;
      rr.suggestion = Suggest(sr.population, sr.body, rule, lowest, options);
      report.suggested.rules[r].above = rr.suggestion.limit;
      const auto firing = [&](double limit) {
        double threshold = limit;
        if (!IsRatioMetric(rule.metric) && rule.min > 0) {
          threshold = std::max(limit, static_cast<double>(rule.min) - 0.5);
        }
        return sr.population.CountAbove(threshold);
      };
      rr.above_current = firing(rule.above);
      rr.above_suggested = firing(rr.suggestion.limit);
      sr.rules.push_back(std::move(rr));
    }
    report.series.push_back(std::move(sr));
  }

  // 3. The self-check: the suggested policy on the same events.
  const Outcomes after = ReplayOutcomes(report.suggested, events);
  report.locked_before = current.locked;
  report.locked_after = after.locked;
  for (const auto& [name, b] : current.by_account) {
    const auto it = after.by_account.find(name);
    if (it == after.by_account.end()) continue;
    const AccountOutcome& a = it->second;
    if (a.worst == b.worst) continue;
    VerdictDiff diff{name, b.worst, b.first_worst.rule, a.worst, a.first_worst.rule};
    const bool stronger = a.worst > b.worst;
    const std::string& decider = stronger ? diff.after_rule : diff.before_rule;
    for (SeriesReport& sr : report.series) {
      for (RuleReport& rr : sr.rules) {
        if (policy.rules[rr.rule].name != decider) continue;
        (stronger ? rr.newly_stopped : rr.newly_let_through).push_back(diff);
      }
    }
    report.changes.push_back(std::move(diff));
  }
  return report;
}

}  // namespace senderwatch::eximlog
