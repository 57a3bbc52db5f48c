// Peak measurement and limit suggestions; see tune.h.
#include "eximlog/tune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

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
    if (readings[i].value > peak.value) peak = Peak{readings[i].value, now};
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
  if (!engine_.RecordBounce(ref.name, recipient, reason)) ++engine_errors_;
  Measure(account);
}

void PeakTracker::OnDefer(UnixSeconds time, AccountRef ref, std::string_view recipient,
                          std::string_view reason) {
  Tick(time);
  Account& account = Get(ref);
  if (!engine_.RecordDefer(ref.name, recipient, reason)) ++engine_errors_;
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

double SuggestLimit(const Distribution& distribution, Metric metric, Action action) {
  const double reference = distribution.Percentile(distribution.sorted.size() >= 1000 ? 99.9 : 99.0);
  if (IsRatioMetric(metric)) {
    return std::clamp(NiceCeil(reference + (action == Action::kLock ? 0.15 : 0.1), true), 0.2, 0.9);
  }
  const double headroom = action == Action::kLock ? 3.0 : 2.0;
  double limit = NiceCeil(std::max(10.0, reference * headroom), false);
  if (metric == Metric::kClientIps) limit = std::min(limit, static_cast<double>(kMaxNetworks - 1));
  return limit;
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

}  // namespace senderwatch::eximlog
