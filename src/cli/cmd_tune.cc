// `senderwatch tune`: measured limits. Shows, per metric and window the
// policy reads, how the peaks of the accounts not suspected compromised are
// distributed, who is at the top, how many accounts candidate limits would
// have stopped, a histogram (terminal and SVG), the suggested limits with
// the self-check, and the suggested policy file. The measuring, the
// suggestions and the self-check are in src/eximlog/tune.h; this file
// parses options and prints.
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
#include "cli/log_scan.h"
#include "cli/messages.h"
#include "cli/tune_charts.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "eximlog/joiner.h"
#include "eximlog/log_reader.h"
#include "eximlog/scan.h"
#include "eximlog/tune.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kTuneHelp = R"help(Usage: senderwatch tune [--config FILE] [--svg FILE] [-o FILE] [-n N] [--json] [--utc] [--no-progress] LOG...

Measures what the accounts in Exim main logs really do, to set limits from
evidence instead of guesses, without learning them from the spammers in
the logs. tune reads the logs once and then:

  1. replays them through the policy and through the built-in lock rules
     ("builtin:bounce-ratio", "builtin:client-networks"); the accounts
     either locks are "suspected compromised" and are left out of every
     measurement (they are listed, with the rule and value that locked them)
  2. records, for each metric and window the policy's rules read (and a
     one-hour window of every other metric), each account's peak: the
     highest value a rule would have seen at any check
  3. per rule, suggests a limit: for a lock rule from where the ordinary
     accounts end (the median and spread of the non-zero peaks on the log
     scale, which a few percent of hijacked accounts do not move), kept
     below every value at which the replay locked an account; for a warn or
     defer rule from the p99 of the accounts not suspected; a series with
     fewer than 30 accounts or 10 non-zero peaks keeps its limit and says why
  4. replays the suggested policy on the same logs (the self-check) and
     shows, beside each suggestion, the accounts it would newly stop or
     newly let through compared with the current policy

For each series it prints the distribution of the peaks (p50, p90, p99,
p99.9, max), the body (median, fence, busiest ordinary account), the
accounts at the top and the suspects' peaks, a histogram (log-scaled bars)
with the current and suggested limits, and how many accounts candidate
limits would fire on (rules fire strictly above the limit). Then the
self-check and the suggested policy file. docs/replay.md explains the method
and the measurements behind it.

Populations: recipients, bounces, defers and client_ips count accounts that
sent at least one recipient; authfails counts every user name that appeared;
a ratio (bounce_ratio, new_recipient_ratio) counts the accounts whose window
held the rule's 'min' recipients at least once. Suspects are never counted.
LOG files are read as by 'senderwatch replay'.

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
using eximlog::Series;

bool IsRatio(Metric metric) { return eximlog::IsRatioMetric(metric); }

void DiffJson(JsonWriter& json, const eximlog::VerdictDiff& v) {
  json.BeginObject().Field("account", v.account);
  json.Field("current", ActionName(v.before));
  json.Field("current_rule", v.before_rule.empty() ? std::nullopt : std::optional<std::string>(v.before_rule));
  json.Field("suggested", ActionName(v.after));
  json.Field("suggested_rule", v.after_rule.empty() ? std::nullopt : std::optional<std::string>(v.after_rule));
  json.EndObject();
}

std::string VerdictText(Action action, const std::string& rule) {
  return std::string(ActionName(action)) + (rule.empty() ? "" : " (" + SanitizeForTerminal(rule) + ")");
}

std::string DiffText(const eximlog::VerdictDiff& v) {
  return SanitizeForTerminal(v.account) + ": " + VerdictText(v.before, v.before_rule) + " -> " +
         VerdictText(v.after, v.after_rule);
}

std::string PeaksText(const char* title, const std::vector<eximlog::PeakOf>& peaks, Metric metric) {
  if (peaks.empty()) return {};
  std::string text = std::string("    ") + title + ":";
  for (size_t i = 0; i < peaks.size(); ++i) {
    if (i == 8) {
      text += "  and " + Thousands(peaks.size() - i) + " more";
      break;
    }
    text += "  " + SanitizeForTerminal(peaks[i].account) + " " + FormatMetricValue(metric, peaks[i].value) +
            " (" + FormatTime(peaks[i].at) + ")";
  }
  return text + "\n";
}

std::string SuspectsText(const eximlog::TuneReport& report, bool color) {
  if (report.suspects.empty()) {
    return "\nNo account suspected compromised: neither the policy nor the built-in lock rules lock any\n"
           "account in these logs, so every account is measured.\n";
  }
  std::string text = "\n" + Paint("Suspected compromised, excluded from every measurement", Style::kBold, color) +
                     " (locked when these logs are replayed\nthrough the policy, or through the built-in lock rules "
                     "\"builtin:\"):\n";
  Table table({"ACCOUNT", "LOCKED BY", "SINCE", "RULE", "VALUE", "LIMIT"},
              {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft,
               Table::Align::kRight, Table::Align::kRight});
  for (const eximlog::Suspect& x : report.suspects) {
    table.AddRow({{SanitizeForTerminal(x.account)}, {x.by_policy ? "policy" : "screening"}, {FormatTime(x.since)},
                  {SanitizeForTerminal(x.rule)}, {FormatMetricValue(x.metric, x.value)}, {FormatNumber(x.limit)}});
  }
  return text + table.Render(color, 2);
}

std::string SuggestionText(const eximlog::RuleReport& r, const Policy& policy, bool color) {
  const Rule& rule = policy.rules[r.rule];
  std::string text = "    " + Paint(SanitizeForTerminal(rule.name), Style::kBold, color) + ": ";
  if (r.suggestion.kept) {
    text += "keeps " + FormatNumber(rule.above) + ": " + r.suggestion.why + "\n";
  } else {
    text += FormatNumber(rule.above) + " -> " + Paint(FormatNumber(r.suggestion.limit), Style::kGreen, color) +
            ": " + r.suggestion.why + "\n";
  }
  if (r.newly_stopped.empty() && r.newly_let_through.empty()) {
    return text + "      self-check: no account's verdict changes by this rule\n";
  }
  for (const eximlog::VerdictDiff& v : r.newly_stopped) text += "      newly stops " + DiffText(v) + "\n";
  for (const eximlog::VerdictDiff& v : r.newly_let_through) text += "      newly lets through " + DiffText(v) + "\n";
  return text;
}

std::string SelfCheckText(const eximlog::TuneReport& report, bool color) {
  std::string text = "\n" + Paint("Self-check", Style::kBold, color) +
                     ": the suggested policy replayed on the same logs locks " +
                     Thousands(report.locked_after) + " accounts (the current policy: " +
                     Thousands(report.locked_before) + ")";
  if (report.changes.empty()) return text + "; no account's verdict changes.\n";
  text += "; " + Thousands(report.changes.size()) + " accounts change:\n";
  for (const eximlog::VerdictDiff& v : report.changes) text += "  " + DiffText(v) + "\n";
  return text;
}

}  // namespace

int RunTune(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("tune", kTuneHelp, base, args,
                        {{"svg", 0, true},
                         {"output", 'o', true},
                         {"top", 'n', true},
                         {"utc", 0, false},
                         {"no-progress", 0, false}},
                        kLogFiles);
  if (!call) return call.error();
  uint64_t top_n = 5;
  if (auto n = call->parsed.Value("top")) {
    auto count = ParseCount("--top", *n);
    if (!count) return call->Usage(count.error().message);
    top_n = *count;
  }
  const bool color = call->options.color;

  auto policy = LoadEffectivePolicy(call->options);
  if (!policy) return ReportError(policy.error());
  eximlog::EventLog events;
  eximlog::Joiner joiner(events);
  auto scan = ScanLogArguments("tune", call->parsed, joiner);
  if (!scan) return scan.error();
  const eximlog::ScanStats* stats = &scan->stats;

  eximlog::TuneOptions tune_options;
  tune_options.top = top_n;
  const eximlog::TuneReport report = eximlog::Tune(*policy, events, tune_options);
  std::vector<Measured> measured;
  for (const eximlog::SeriesReport& sr : report.series) {
    measured.push_back({&sr, eximlog::SeriesHistogram(sr, *policy)});
  }
  const std::string suggested_toml = FormatPolicy(report.suggested);
  const std::string subtitle = Thousands(stats->lines) + " log lines" +
                               (stats->first_time ? ", " + FormatTime(stats->first_time) + " to " +
                                                        FormatTime(stats->last_time)
                                                  : std::string()) +
                               ", " + Thousands(report.sending_accounts) + " sending accounts";

  if (auto svg_path = call->parsed.Value("svg")) {
    std::ofstream svg(*svg_path, std::ios::binary | std::ios::trunc);
    svg << TuneSvg(measured, *policy, subtitle);
    if (!svg.flush()) {
      Say("tune", Tone::kPlain, "cannot write {}", *svg_path);
      return kExitStore;
    }
  }
  const auto output_path = call->parsed.Value("output");
  if (output_path) {
    std::ofstream out(*output_path, std::ios::binary | std::ios::trunc);
    out << suggested_toml;
    if (!out.flush()) {
      Say("tune", Tone::kPlain, "cannot write {}", *output_path);
      return kExitStore;
    }
  }

  if (call->options.json) {
    JsonWriter json(true);
    json.BeginObject();
    json.Field("lines", stats->lines);
    json.Field("lines_not_understood", stats->lines_not_understood);
    json.Field("first_time", stats->first_time ? std::optional<std::string>(FormatTime(stats->first_time)) : std::nullopt);
    json.Field("last_time", stats->last_time ? std::optional<std::string>(FormatTime(stats->last_time)) : std::nullopt);
    json.Field("sending_accounts", report.sending_accounts);
    json.Key("suspects").BeginArray();
    for (const eximlog::Suspect& x : report.suspects) {
      json.BeginObject().Field("account", x.account).Field("locked_by", x.by_policy ? "policy" : "screening");
      json.Field("rule", x.rule).Field("metric", MetricName(x.metric)).Field("window", FormatDuration(x.window_seconds));
      json.Field("value", x.value).Field("limit", x.limit).Field("since", FormatTime(x.since)).EndObject();
    }
    json.EndArray();
    json.Key("series").BeginArray();
    for (const Measured& m : measured) {
      const eximlog::SeriesReport& sr = *m.report;
      const Distribution& d = sr.population;
      json.BeginObject();
      json.Field("metric", MetricName(sr.series.metric));
      json.Field("window", FormatDuration(sr.series.window_seconds));
      json.Field("min", sr.series.min);
      json.Field("accounts", static_cast<uint64_t>(d.sorted.size()));
      json.Key("percentiles").BeginObject();
      json.Field("p50", d.Percentile(50)).Field("p90", d.Percentile(90)).Field("p99", d.Percentile(99));
      json.Field("p99.9", d.Percentile(99.9)).Field("max", d.sorted.empty() ? 0.0 : d.sorted.back());
      json.EndObject();
      json.Key("body").BeginObject();
      json.Field("nonzero", static_cast<uint64_t>(sr.body.nonzero)).Field("median", sr.body.median);
      json.Field("spread", sr.body.spread).Field("fence", sr.body.fence).Field("top", sr.body.top);
      json.Field("above", static_cast<uint64_t>(sr.body.above)).EndObject();
      const auto peaks = [&](const char* key, const std::vector<eximlog::PeakOf>& list) {
        json.Key(key).BeginArray();
        for (const eximlog::PeakOf& p : list) {
          json.BeginObject().Field("account", p.account).Field("peak", p.value).Field("at", FormatTime(p.at)).EndObject();
        }
        json.EndArray();
      };
      peaks("top", sr.top);
      peaks("suspects_excluded", sr.suspects);
      json.Key("rules").BeginArray();
      for (const eximlog::RuleReport& r : sr.rules) {
        const Rule& rule = policy->rules[r.rule];
        json.BeginObject().Field("rule", rule.name).Field("action", ActionName(rule.action));
        json.Field("limit", rule.above).Field("accounts_above", r.above_current);
        json.Field("suggested", r.suggestion.limit).Field("accounts_above_suggested", r.above_suggested);
        json.Field("kept", r.suggestion.kept).Field("reason", r.suggestion.why);
        if (r.suggestion.cap) {
          json.Field("cap", *r.suggestion.cap);
        } else {
          json.Key("cap").Null();
        }
        const auto diffs = [&](const char* key, const std::vector<eximlog::VerdictDiff>& list) {
          json.Key(key).BeginArray();
          for (const eximlog::VerdictDiff& v : list) DiffJson(json, v);
          json.EndArray();
        };
        diffs("newly_stopped", r.newly_stopped);
        diffs("newly_let_through", r.newly_let_through);
        json.EndObject();
      }
      json.EndArray();
      json.Key("candidates").BeginArray();
      for (double limit : eximlog::CandidateLimits(d, IsRatio(sr.series.metric), eximlog::LimitsToShow(sr, *policy))) {
        json.BeginObject().Field("limit", limit).Field("accounts_above", d.CountAbove(limit)).EndObject();
      }
      json.EndArray();
      json.Key("histogram").BeginArray();
      for (const eximlog::HistogramBin& bin : m.bins) {
        json.BeginObject().Field("low", bin.low).Field("high", bin.high).Field("accounts", bin.count).EndObject();
      }
      json.EndArray();
      json.EndObject();
    }
    json.EndArray();
    json.Key("self_check").BeginObject();
    json.Field("locked_current", report.locked_before).Field("locked_suggested", report.locked_after);
    json.Key("changes").BeginArray();
    for (const eximlog::VerdictDiff& v : report.changes) DiffJson(json, v);
    json.EndArray();
    json.EndObject();
    json.Field("suggested_policy", suggested_toml);
    json.EndObject();
    return WriteOut(json.Take()) ? kExitOk : kExitStore;
  }

  std::string text = "Measured " + subtitle + ".\n";
  text += SuspectsText(report, color);
  for (const Measured& m : measured) {
    const eximlog::SeriesReport& sr = *m.report;
    const Series& series = sr.series;
    const Distribution& d = sr.population;
    text += "\n" + Paint(SeriesTitle(series), Style::kBold, color);
    if (sr.rules.empty()) {
      text += "  (no rule)";
    } else {
      for (const eximlog::RuleReport& r : sr.rules) {
        const Rule& rule = policy->rules[r.rule];
        text += "  [" + SanitizeForTerminal(rule.name) + ": " + std::string(ActionName(rule.action)) +
                " above " + (rule.learned ? "learned, fallback " : "") + FormatNumber(rule.above) + "]";
      }
    }
    text += "\n";
    if (d.sorted.empty()) {
      text += "    no accounts\n";
    } else {
      text += "    " + Thousands(d.sorted.size()) + " accounts   p50 " +
              FormatMetricValue(series.metric, d.Percentile(50)) + "   p90 " +
              FormatMetricValue(series.metric, d.Percentile(90)) + "   p99 " +
              FormatMetricValue(series.metric, d.Percentile(99)) + "   p99.9 " +
              FormatMetricValue(series.metric, d.Percentile(99.9)) + "   max " +
              FormatMetricValue(series.metric, d.sorted.back()) + "\n";
      if (sr.body.nonzero > 0) {
        text += "    body: " + Thousands(sr.body.nonzero) + " non-zero, median " +
                FormatMetricValue(series.metric, sr.body.median) + ", fence " +
                FormatMetricValue(series.metric, sr.body.fence) + ", busiest ordinary account " +
                FormatMetricValue(series.metric, sr.body.top) + ", " + Thousands(sr.body.above) +
                " above the fence\n";
      }
      text += PeaksText("top", sr.top, series.metric);
      text += PeaksText("suspected, excluded", sr.suspects, series.metric);
      text += TerminalHistogram(m, *policy, color);
      Table table({"LIMIT", "ACCOUNTS ABOVE", "NOTE"}, {Table::Align::kRight, Table::Align::kRight});
      for (double limit : eximlog::CandidateLimits(d, IsRatio(series.metric), eximlog::LimitsToShow(sr, *policy))) {
        std::string note;
        for (const eximlog::RuleReport& r : sr.rules) {
          const Rule& rule = policy->rules[r.rule];
          const std::string what = SanitizeForTerminal(rule.name) + " (" + std::string(ActionName(rule.action)) + ")";
          if (limit == rule.above) note += (note.empty() ? "" : ", ") + ("current " + what);
          if (limit == r.suggestion.limit && !r.suggestion.kept) {
            note += (note.empty() ? "" : ", ") + ("suggested for " + what);
          }
        }
        table.AddRow({{FormatNumber(limit)}, {Thousands(d.CountAbove(limit))}, {note}});
      }
      text += table.Render(color, 4);
    }
    for (const eximlog::RuleReport& r : sr.rules) text += SuggestionText(r, *policy, color);
  }
  text += SelfCheckText(report, color);
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
