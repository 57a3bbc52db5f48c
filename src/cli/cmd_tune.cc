// `senderwatch tune`: measured limits. Replays Exim main logs without any
// rule and shows, per metric and window the policy reads, how the accounts'
// peaks are distributed, who is at the top, how many accounts candidate
// limits would have stopped, a histogram (terminal and SVG), and a policy
// file with suggested limits. The measuring is in src/eximlog/tune.h.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "eximlog/joiner.h"
#include "eximlog/log_reader.h"
#include "eximlog/progress.h"
#include "eximlog/scan.h"
#include "eximlog/tune.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kTuneHelp = R"help(Usage: senderwatch tune [--config FILE] [--svg FILE] [-o FILE] [-n N] [--json] LOG...

Measures what the accounts in Exim main logs really do, to set limits from
evidence instead of guesses. For each metric and window the policy's rules
read (and a one-hour window of every other metric), tune replays the logs
with no rule at all and records each account's peak: the highest value a
rule would have seen at any check. It then prints:

  - the distribution of the peaks over accounts (p50, p90, p99, p99.9, max)
  - the accounts at the top, with the time of their peak
  - a histogram (log-scaled bars), with the current and suggested limits
  - for candidate limits, how many accounts a rule with that limit would
    have deferred or locked (rules fire strictly above the limit)
  - a policy file: the current one with suggested limits (see docs/replay.md
    for how they are chosen; read the accounts above each suggestion: they
    are either compromised or need a per-account exception)

Populations: recipients, bounces, bounce_ratio, defers and client_ips count
accounts that sent at least one recipient; authfails counts every user name
that appeared. bounce_ratio peaks count only once the window holds the
rule's 'min' recipients. LOG files are read as by 'senderwatch replay'.

Options:
  --config FILE  the policy whose rules are measured (default
                 /etc/exim4/senderwatch.toml, else built-in defaults)
  --svg FILE     also draw the histograms into an SVG file
  -o, --output FILE
                 write the suggested policy to FILE (default: print it)
  -n, --top N    accounts shown at the top of each metric (default 5)
  --json         machine-readable output (schema in docs/replay.md)
  --utc          timestamps without a zone are UTC (default: local time)
  --no-progress  no progress bar (drawn only when stderr is a terminal)

Examples:
  senderwatch tune /var/log/exim4/mainlog*
  senderwatch tune --svg peaks.svg -o suggested.toml mainlog mainlog.1 mainlog.*.gz
  senderwatch replay --config suggested.toml /var/log/exim4/mainlog*

Exit status: 0 ok, 1 a log file does not exist, 2 usage or policy error.
)help";

namespace {

using eximlog::Distribution;
using eximlog::HistogramBin;
using eximlog::Series;

bool IsRatio(Metric metric) { return eximlog::IsRatioMetric(metric); }

std::string SeriesTitle(const Series& s) {
  std::string title = std::string(MetricName(s.metric)) + " per " + FormatDuration(s.window_seconds);
  if (IsRatio(s.metric) && s.min > 0) title += " (from " + std::to_string(s.min) + " recipients)";
  return title;
}

// A rule reading one series, with its current and suggested limit.
struct RuleLimit {
  const Rule* rule;
  double suggested;
  uint64_t above_current;
  uint64_t above_suggested;
};

// Accounts a rule with this limit would fire on: value strictly above the
// limit and, for counters, at least the rule's min.
uint64_t Firing(const Distribution& d, const Rule& rule, double limit) {
  double threshold = limit;
  if (!IsRatio(rule.metric) && rule.min > 0) {
    threshold = std::max(limit, static_cast<double>(rule.min) - 0.5);
  }
  return d.CountAbove(threshold);
}

struct Measured {
  const Series* series;
  Distribution distribution;
  std::vector<std::pair<double, size_t>> top;  // peak value, account index
  std::vector<RuleLimit> rules;
  std::vector<HistogramBin> bins;
};

struct Marker {
  double value;
  std::string label;
  bool suggested;
};

std::vector<Marker> MarkersOf(const Measured& m) {
  std::vector<Marker> markers;
  for (const RuleLimit& r : m.rules) {
    markers.push_back({r.rule->above, r.rule->name + " " + FormatNumber(r.rule->above), false});
    if (r.suggested != r.rule->above) {
      markers.push_back({r.suggested, "suggested " + FormatNumber(r.suggested), true});
    }
  }
  return markers;
}

std::string TerminalHistogram(const Measured& m, bool color) {
  const auto& bins = m.bins;
  uint64_t max_count = 0;
  size_t label_width = 0;
  for (const auto& bin : bins) {
    max_count = std::max(max_count, bin.count);
    label_width = std::max(label_width, bin.label.size());
  }
  const std::vector<Marker> markers = MarkersOf(m);
  const int width = 40;
  std::string out;
  for (size_t i = 0; i < bins.size(); ++i) {
    const HistogramBin& bin = bins[i];
    const int length =
        bin.count == 0 || max_count == 0
            ? 0
            : std::max(1, static_cast<int>(std::lround(width * std::log10(1.0 + static_cast<double>(bin.count)) /
                                                       std::log10(1.0 + static_cast<double>(max_count)))));
    std::string line = "    " + std::string(label_width - bin.label.size(), ' ') + bin.label + " |" +
                       std::string(static_cast<size_t>(length), '#') +
                       std::string(static_cast<size_t>(width - length), ' ') + " " + Thousands(bin.count);
    for (const Marker& marker : markers) {
      const double position = eximlog::HistogramPosition(bins, marker.value, m.series->metric);
      if (position >= static_cast<double>(i) && position < static_cast<double>(i + 1)) {
        line += Paint("  <- " + SanitizeForTerminal(marker.label), marker.suggested ? Style::kGreen : Style::kRed,
                      color);
      }
    }
    out += line + "\n";
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out;
}

std::string Svg(const std::vector<Measured>& measured, const std::string& subtitle) {
  constexpr int kWidth = 800, kPanel = 250, kLeft = 70, kRight = 30, kTop = 70;
  const int height = kTop + static_cast<int>(measured.size()) * kPanel;
  std::string svg;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">senderwatch tune: "
                "peak values per account</text>\n",
                kWidth, height, kWidth, height, kLeft);
  svg += buf;
  svg += "<text x=\"" + std::to_string(kLeft) + "\" y=\"42\" fill=\"#555\">" + XmlEscape(subtitle) +
         "</text>\n<text x=\"" + std::to_string(kLeft) +
         "\" y=\"56\" fill=\"#555\">Bar height: accounts (log scale). Red: current limit; green: "
         "suggested. A rule fires on values above its line.</text>\n";
  for (size_t p = 0; p < measured.size(); ++p) {
    const Measured& m = measured[p];
    const int top = kTop + static_cast<int>(p) * kPanel;
    const int chart_top = top + 36, chart_bottom = top + kPanel - 50;
    const int chart_height = chart_bottom - chart_top;
    const double plot_width = kWidth - kLeft - kRight;
    const double bin_width = plot_width / static_cast<double>(std::max<size_t>(1, m.bins.size()));
    uint64_t max_count = 1;
    for (const auto& bin : m.bins) max_count = std::max(max_count, bin.count);
    const double log_max = std::log10(1.0 + static_cast<double>(max_count));
    svg += "<text x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(top + 14) +
           "\" font-size=\"13\" font-weight=\"bold\">" + XmlEscape(SeriesTitle(*m.series)) + " — " +
           Thousands(m.distribution.sorted.size()) + " accounts</text>\n";
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", kLeft,
                  chart_bottom, kWidth - kRight, chart_bottom);
    svg += buf;
    for (size_t i = 0; i < m.bins.size(); ++i) {
      const HistogramBin& bin = m.bins[i];
      const double h = bin.count == 0 ? 0
                                      : std::max(1.0, chart_height * std::log10(1.0 + static_cast<double>(bin.count)) / log_max);
      const double x = kLeft + bin_width * static_cast<double>(i);
      std::snprintf(buf, sizeof buf,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4a7ab5\">"
                    "<title>%s: %s accounts</title></rect>\n",
                    x + 1, chart_bottom - h, std::max(1.0, bin_width - 2), h, XmlEscape(bin.label).c_str(),
                    Thousands(bin.count).c_str());
      svg += buf;
      if (bin.count > 0) {
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\" fill=\"#333\">%s</text>\n",
                      x + bin_width / 2, chart_bottom - h - 3, Thousands(bin.count).c_str());
        svg += buf;
      }
      std::snprintf(buf, sizeof buf,
                    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" font-size=\"9\" "
                    "transform=\"rotate(-45 %.1f %d)\">%s</text>\n",
                    x + bin_width / 2, chart_bottom + 12, x + bin_width / 2, chart_bottom + 12,
                    XmlEscape(bin.label).c_str());
      svg += buf;
    }
    int label_row = 0;
    for (const Marker& marker : MarkersOf(m)) {
      const double x =
          kLeft + bin_width * eximlog::HistogramPosition(m.bins, marker.value, m.series->metric);
      const char* colour = marker.suggested ? "#2a9d3a" : "#d0312d";
      const bool left = x > kWidth - kRight - 140;  // label left of the line near the edge
      std::snprintf(buf, sizeof buf,
                    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" "
                    "stroke-dasharray=\"5,3\"/>\n<text x=\"%.1f\" y=\"%d\" fill=\"%s\" "
                    "text-anchor=\"%s\">%s</text>\n",
                    x, chart_top, x, chart_bottom, colour, left ? x - 4 : x + 4,
                    chart_top + 10 + 12 * label_row, colour, left ? "end" : "start",
                    XmlEscape(marker.label).c_str());
      svg += buf;
      ++label_row;
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace

int RunTune(const GlobalOptions& base, std::span<const std::string> args) {
  const auto specs = WithGlobalOptions({{"svg", 0, true},
                                        {"output", 'o', true},
                                        {"top", 'n', true},
                                        {"utc", 0, false},
                                        {"no-progress", 0, false}});
  auto parsed = ParseArgs(args, specs);
  if (!parsed) return UsageError("tune", parsed.error().message);
  if (parsed->Has("help")) return WriteOut(kTuneHelp) ? kExitOk : kExitStore;
  auto options = ApplyGlobalOptions(base, *parsed);
  if (!options) return UsageError("tune", options.error().message);
  if (parsed->positional().empty()) return UsageError("tune", "no log file given");
  uint64_t top_n = 5;
  if (auto n = parsed->Value("top")) {
    auto count = ParseCount("--top", *n);
    if (!count) return UsageError("tune", count.error().message);
    top_n = *count;
  }
  const bool color = options->color;

  auto policy = LoadEffectivePolicy(*options);
  if (!policy) return ReportError(policy.error());
  auto ordered = eximlog::OrderLogFiles(parsed->positional());
  if (!ordered) {
    std::fprintf(stderr, "senderwatch tune: %s\n", ordered.error().message.c_str());
    return kExitNotFound;
  }

  eximlog::PeakTracker tracker(*policy, eximlog::SeriesOfPolicy(*policy));
  eximlog::Joiner joiner(tracker);
  eximlog::ProgressBar bar(stderr, isatty(STDERR_FILENO) && !parsed->Has("no-progress"));
  eximlog::ScanOptions scan_options;
  scan_options.zone = parsed->Has("utc") ? eximlog::TimestampParser::Zone::kUtc
                                         : eximlog::TimestampParser::Zone::kLocal;
  scan_options.progress = [&](const eximlog::ScanProgress& p) { bar.Update(p); };
  auto stats = eximlog::ScanLogs(*ordered, joiner, scan_options);
  bar.Clear();
  if (!stats) {
    std::fprintf(stderr, "senderwatch tune: %s\n", stats.error().message.c_str());
    return kExitNotFound;
  }
  for (const auto& warning : stats->warnings) {
    std::fprintf(stderr, "senderwatch tune: warning: %s\n", warning.c_str());
  }

  // Measure every series.
  Policy suggested = *policy;
  std::vector<Measured> measured;
  uint64_t senders = 0;
  for (size_t a = 0; a < tracker.account_count(); ++a) senders += tracker.seen(a) && tracker.sent(a);
  for (size_t s = 0; s < tracker.series().size(); ++s) {
    const Series& series = tracker.series()[s];
    Measured m;
    m.series = &series;
    for (size_t a = 0; a < tracker.account_count(); ++a) {
      if (!tracker.seen(a)) continue;
      if (series.metric != Metric::kAuthfails && !tracker.sent(a)) continue;
      const double value = tracker.peak(s, a).value;
      m.distribution.sorted.push_back(value);
      m.top.emplace_back(value, a);
    }
    std::sort(m.distribution.sorted.begin(), m.distribution.sorted.end());
    std::stable_sort(m.top.begin(), m.top.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    while (!m.top.empty() && (m.top.size() > top_n || m.top.back().first <= 0)) m.top.pop_back();
    for (size_t r = 0; r < policy->rules.size(); ++r) {
      const Rule& rule = policy->rules[r];
      if (std::find(series.rules.begin(), series.rules.end(), rule.name) == series.rules.end()) continue;
      const double limit = eximlog::SuggestLimit(m.distribution, rule.metric, rule.action);
      suggested.rules[r].above = limit;
      m.rules.push_back({&rule, limit, Firing(m.distribution, rule, rule.above),
                         Firing(m.distribution, rule, limit)});
    }
    double marked = 0;
    for (const RuleLimit& r : m.rules) marked = std::max({marked, r.rule->above, r.suggested});
    m.bins = eximlog::MakeHistogram(m.distribution, series.metric, marked);
    measured.push_back(std::move(m));
  }
  const std::string suggested_toml = FormatPolicy(suggested);
  const std::string subtitle = Thousands(stats->lines) + " log lines" +
                               (stats->first_time ? ", " + FormatTime(stats->first_time) + " to " +
                                                        FormatTime(stats->last_time)
                                                  : std::string()) +
                               ", " + Thousands(senders) + " sending accounts";

  if (auto svg_path = parsed->Value("svg")) {
    std::ofstream svg(*svg_path, std::ios::binary | std::ios::trunc);
    svg << Svg(measured, subtitle);
    if (!svg.flush()) {
      std::fprintf(stderr, "senderwatch tune: cannot write %s\n", svg_path->c_str());
      return kExitStore;
    }
  }
  const auto output_path = parsed->Value("output");
  if (output_path) {
    std::ofstream out(*output_path, std::ios::binary | std::ios::trunc);
    out << suggested_toml;
    if (!out.flush()) {
      std::fprintf(stderr, "senderwatch tune: cannot write %s\n", output_path->c_str());
      return kExitStore;
    }
  }

  if (options->json) {
    JsonWriter json(true);
    json.BeginObject();
    json.Field("lines", stats->lines);
    json.Field("lines_not_understood", stats->lines_not_understood);
    json.Field("first_time", stats->first_time ? std::optional<std::string>(FormatTime(stats->first_time)) : std::nullopt);
    json.Field("last_time", stats->last_time ? std::optional<std::string>(FormatTime(stats->last_time)) : std::nullopt);
    json.Field("sending_accounts", senders);
    json.Key("series").BeginArray();
    for (const Measured& m : measured) {
      const Distribution& d = m.distribution;
      json.BeginObject();
      json.Field("metric", MetricName(m.series->metric));
      json.Field("window", FormatDuration(m.series->window_seconds));
      json.Field("min", m.series->min);
      json.Field("accounts", static_cast<uint64_t>(d.sorted.size()));
      json.Key("percentiles").BeginObject();
      json.Field("p50", d.Percentile(50)).Field("p90", d.Percentile(90)).Field("p99", d.Percentile(99));
      json.Field("p99.9", d.Percentile(99.9)).Field("max", d.sorted.empty() ? 0.0 : d.sorted.back());
      json.EndObject();
      json.Key("top").BeginArray();
      for (const auto& [value, account] : m.top) {
        const size_t s = static_cast<size_t>(m.series - tracker.series().data());
        json.BeginObject().Field("account", tracker.account_name(account)).Field("peak", value);
        json.Field("at", FormatTime(tracker.peak(s, account).at)).EndObject();
      }
      json.EndArray();
      json.Key("rules").BeginArray();
      for (const RuleLimit& r : m.rules) {
        json.BeginObject().Field("rule", r.rule->name).Field("action", ActionName(r.rule->action));
        json.Field("limit", r.rule->above).Field("accounts_above", r.above_current);
        json.Field("suggested", r.suggested).Field("accounts_above_suggested", r.above_suggested);
        json.EndObject();
      }
      json.EndArray();
      json.Key("candidates").BeginArray();
      std::vector<double> current;
      for (const RuleLimit& r : m.rules) current.insert(current.end(), {r.rule->above, r.suggested});
      for (double limit : eximlog::CandidateLimits(d, IsRatio(m.series->metric), current)) {
        json.BeginObject().Field("limit", limit).Field("accounts_above", d.CountAbove(limit)).EndObject();
      }
      json.EndArray();
      json.Key("histogram").BeginArray();
      for (const HistogramBin& bin : m.bins) {
        json.BeginObject().Field("low", bin.low).Field("high", bin.high).Field("accounts", bin.count).EndObject();
      }
      json.EndArray();
      json.EndObject();
    }
    json.EndArray();
    json.Field("suggested_policy", suggested_toml);
    json.EndObject();
    return WriteOut(json.Take()) ? kExitOk : kExitStore;
  }

  std::string text = "Measured " + subtitle + ".\n";
  for (const Measured& m : measured) {
    const Series& series = *m.series;
    const Distribution& d = m.distribution;
    const size_t s = static_cast<size_t>(m.series - tracker.series().data());
    text += "\n" + Paint(SeriesTitle(series), Style::kBold, color);
    if (m.rules.empty()) {
      text += "  (no rule)";
    } else {
      for (const RuleLimit& r : m.rules) {
        text += "  [" + SanitizeForTerminal(r.rule->name) + ": " + std::string(ActionName(r.rule->action)) +
                " above " + (r.rule->learned ? "learned, fallback " : "") + FormatNumber(r.rule->above) + "]";
      }
    }
    text += "\n";
    if (d.sorted.empty()) {
      text += "    no accounts\n";
      continue;
    }
    text += "    " + Thousands(d.sorted.size()) + " accounts   p50 " +
            FormatMetricValue(series.metric, d.Percentile(50)) + "   p90 " +
            FormatMetricValue(series.metric, d.Percentile(90)) + "   p99 " +
            FormatMetricValue(series.metric, d.Percentile(99)) + "   p99.9 " +
            FormatMetricValue(series.metric, d.Percentile(99.9)) + "   max " +
            FormatMetricValue(series.metric, d.sorted.back()) + "\n";
    if (!m.top.empty()) {
      text += "    top:";
      for (const auto& [value, account] : m.top) {
        text += "  " + SanitizeForTerminal(tracker.account_name(account)) + " " +
                FormatMetricValue(series.metric, value) + " (" +
                FormatTime(tracker.peak(s, account).at) + ")";
      }
      text += "\n";
    }
    text += TerminalHistogram(m, color);
    std::vector<double> current;
    for (const RuleLimit& r : m.rules) current.insert(current.end(), {r.rule->above, r.suggested});
    Table table({"LIMIT", "ACCOUNTS ABOVE", "NOTE"}, {Table::Align::kRight, Table::Align::kRight});
    for (double limit : eximlog::CandidateLimits(d, IsRatio(series.metric), current)) {
      std::string note;
      for (const RuleLimit& r : m.rules) {
        const std::string what = SanitizeForTerminal(r.rule->name) + " (" +
                                 std::string(ActionName(r.rule->action)) + ")";
        if (limit == r.rule->above) note += (note.empty() ? "" : ", ") + ("current " + what);
        if (limit == r.suggested) note += (note.empty() ? "" : ", ") + ("suggested for " + what);
      }
      table.AddRow({{FormatNumber(limit)}, {Thousands(d.CountAbove(limit))}, {note}});
    }
    text += table.Render(color, 4);
  }
  if (output_path) {
    text += "\nSuggested policy written to " + *output_path + "; check it with\n" +
            "  senderwatch replay --config " + ShellQuote(*output_path) + " LOG...\n";
  } else {
    text += "\nSuggested policy (write it with -o FILE; check it with 'senderwatch replay --config FILE'):\n\n" +
            suggested_toml;
  }
  return WriteOut(text) ? kExitOk : kExitStore;
}

}  // namespace senderwatch::cli
