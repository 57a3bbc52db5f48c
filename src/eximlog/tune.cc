// Peak measurement and limit suggestions; see tune.h.
#include "eximlog/tune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "senderwatch/network.h"
#include "senderwatch/verdict.h"

namespace senderwatch::eximlog {
namespace {

bool Reads(Metric series, Metric event) {
  switch (event) {
    case Metric::kRecipients:
      return series == Metric::kRecipients || series == Metric::kBounceRatio ||
             series == Metric::kClientIps;
    case Metric::kBounces:
      return series == Metric::kBounces || series == Metric::kBounceRatio;
    default:
      return series == event;
  }
}

}  // namespace

std::vector<Series> SeriesOfPolicy(const Policy& policy) {
  std::vector<Series> series;
  for (const Rule& rule : policy.rules) {
    const uint64_t min = rule.metric == Metric::kBounceRatio ? rule.min : 0;
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
    if (!read) series.push_back(Series{metric, 3600, metric == Metric::kBounceRatio ? 20u : 0u, {}});
  }
  return series;
}

PeakTracker::PeakTracker(std::vector<Series> series) : series_(std::move(series)) {}

PeakTracker::Account& PeakTracker::Get(AccountRef ref) {
  if (ref.index >= accounts_.size()) accounts_.resize(ref.index + 1);
  Account& account = accounts_[ref.index];
  if (!account.seen) {
    account.seen = true;
    account.name = std::string(ref.name);
    account.record.account = account.name;
    account.peaks.assign(series_.size(), Peak{});
  }
  return account;
}

void PeakTracker::Measure(Account& account, Metric metric, UnixSeconds now) {
  for (size_t i = 0; i < series_.size(); ++i) {
    const Series& s = series_[i];
    if (!Reads(s.metric, metric)) continue;
    uint64_t denominator = 0;
    const double value = MetricValue(account.record, s.metric, s.window_seconds, now, 0, &denominator);
    if (s.metric == Metric::kBounceRatio && (denominator == 0 || denominator < s.min)) continue;
    Peak& peak = account.peaks[i];
    if (value > peak.value) peak = Peak{value, now};
  }
}

void PeakTracker::OnRecipients(UnixSeconds time, AccountRef ref, std::string_view client_ip,
                               uint32_t count) {
  now_ = std::max(now_, time);
  Account& account = Get(ref);
  if (!client_ip.empty()) {
    if (auto network = ParseClientNetwork(client_ip)) account.record.SeeNetwork(*network, now_);
  }
  // The plugin evaluates after each recipient. Counters only grow, so the
  // value after the last is their peak; a ratio falls with each recipient, so
  // its peak is at the first recipient that meets the series' min.
  for (size_t i = 0; i < series_.size(); ++i) {
    const Series& s = series_[i];
    if (s.metric != Metric::kBounceRatio) continue;
    const uint64_t in_window =
        CounterInWindow(account.record, Counter::kRecipients, s.window_seconds, now_);
    const uint64_t first = std::max<uint64_t>(1, s.min > in_window ? s.min - in_window : 1);
    if (first > count) continue;
    const double bounces = static_cast<double>(
        CounterInWindow(account.record, Counter::kBounces, s.window_seconds, now_));
    const double value = bounces / static_cast<double>(in_window + first);
    Peak& peak = account.peaks[i];
    if (value > peak.value) peak = Peak{value, now_};
  }
  account.record.Count(Counter::kRecipients, now_, count);
  account.recipients += count;
  for (size_t i = 0; i < series_.size(); ++i) {
    const Series& s = series_[i];
    if (s.metric != Metric::kRecipients && s.metric != Metric::kClientIps) continue;
    const double value = MetricValue(account.record, s.metric, s.window_seconds, now_);
    Peak& peak = account.peaks[i];
    if (value > peak.value) peak = Peak{value, now_};
  }
}

void PeakTracker::OnBounce(UnixSeconds time, AccountRef ref, std::string_view, std::string_view) {
  now_ = std::max(now_, time);
  Account& account = Get(ref);
  account.record.Count(Counter::kBounces, now_);
  Measure(account, Metric::kBounces, now_);
}

void PeakTracker::OnDefer(UnixSeconds time, AccountRef ref, std::string_view, std::string_view) {
  now_ = std::max(now_, time);
  Account& account = Get(ref);
  account.record.Count(Counter::kDefers, now_);
  Measure(account, Metric::kDefers, now_);
}

void PeakTracker::OnAuthfail(UnixSeconds time, AccountRef ref, std::string_view) {
  now_ = std::max(now_, time);
  Account& account = Get(ref);
  account.record.Count(Counter::kAuthfails, now_);
  Measure(account, Metric::kAuthfails, now_);
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
  if (metric == Metric::kBounceRatio) {
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
  if (metric == Metric::kBounceRatio) {
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
    if (metric == Metric::kBounceRatio) {
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
