// `senderwatch replay`: Exim main logs through the policy engine, with the
// log's timestamps as the clock. Tells which accounts the policy would have
// deferred or locked, when, by which rule, with which values, and how many
// of their recipients would have been refused. The work is in src/eximlog;
// this file parses options and prints.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/log_scan.h"
#include "cli/messages.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "eximlog/joiner.h"
#include "eximlog/limits_file.h"
#include "eximlog/log_reader.h"
#include "eximlog/replay.h"
#include "eximlog/scan.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kReplayHelp = R"help(Usage: senderwatch replay [--config FILE] [--limits FILE] [--json] [--timeline] [--utc] LOG...

Replays Exim main logs through the policy, as if the plugin had been called
at each logged event, with a clock that follows the log's timestamps, and
reports which accounts the policy would have deferred or locked, when, by
which rule, with which values, and how many of their recipients it would
have refused. Nothing is written to the store.

LOG is a main log as Exim writes it under any log_selector: the live file,
rotated files, gzip-compressed files (mainlog.2.gz); '-' reads standard
input. Files are read oldest first, whatever order they are given in.

What is counted (details and approximations in docs/replay.md):
  recipient   each recipient of a message that arrived with A=auth:id, from
              its "for" list (log_selector +received_recipients, exact), else
              at the first delivery line of each original recipient; and each
              "rejected RCPT" of an authenticated client; with its address
              and the envelope sender (check_sender's rcpt= and sender=)
  bounce      each "**" line of such a message
  defer       each "==" line of such a message ("retry time not reached"
              is not a try and does not count)
  authfail    each "authenticator failed ... (set_id=USER)" line

Options:
  --config FILE  the policy to replay (default /etc/exim4/senderwatch.toml,
                 built-in defaults when that does not exist)
  --json         one JSON object per line: each verdict change, then a
                 summary (schema in docs/replay.md)
  --timeline     also print every verdict change (human output)
  --limits FILE  per-account overrides, as the ACL passes them to check_sender
                 (default /etc/exim4/senderwatch.limits when it exists, the
                 SENDERWATCH_LIMITS_FILE of the snippets)
  --no-limits    replay every account with the policy's own limits
  --utc          timestamps without a zone are UTC (default: local time, as
                 Exim writes them; set TZ to the server's zone if it differs)
  --no-progress  no progress bar (it is drawn only when stderr is a terminal)

Examples:
  senderwatch replay /var/log/exim4/mainlog*
  senderwatch replay --config new.toml --json mainlog.1 | jq 'select(.verdict=="lock")'

Exit status: 0 ok, 1 a log file does not exist, 2 usage or policy error.
)help";

namespace {

constexpr const char* kDefaultLimitsPath = "/etc/exim4/senderwatch.limits";

Style VerdictStyle(Action action) {
  switch (action) {
    case Action::kLock: return Style::kBoldRed;
    case Action::kDefer: return Style::kRed;
    case Action::kWarn: return Style::kYellow;
    case Action::kOk: return Style::kGreen;
  }
  return Style::kPlain;
}

std::string ChangeJson(const eximlog::VerdictChange& c) {
  JsonWriter json(false);
  json.BeginObject();
  json.Field("time", FormatTime(c.time));
  json.Field("account", c.account);
  json.Field("verdict", ActionName(c.action));
  if (c.action == Action::kOk) {
    json.Key("rule").Null().Key("metric").Null().Key("value").Null().Key("limit").Null();
    json.Key("window").Null();
  } else {
    json.Field("rule", c.rule);
    json.Field("metric", MetricName(c.metric));
    json.Field("value", c.value);
    json.Field("limit", c.limit);
    json.Field("window", FormatDuration(c.window_seconds));
  }
  json.EndObject();
  return json.Take() + "\n";
}

std::string ChangeText(const eximlog::VerdictChange& c, bool color) {
  std::string line = FormatTime(c.time) + "  " + SanitizeForTerminal(c.account) + "  " +
                     Paint(ActionName(c.action), VerdictStyle(c.action), color);
  if (c.action != Action::kOk) {
    line += "  " + SanitizeForTerminal(c.rule) + ": " + std::string(MetricName(c.metric)) + " " +
            FormatMetricValue(c.metric, c.value) + " > " + FormatNumber(c.limit) + " in " +
            FormatDuration(c.window_seconds);
  }
  return line + "\n";
}

const char* CountingMode(const eximlog::JoinStats& join) {
  if (join.authenticated_messages == 0) return "none";
  if (join.listed_messages == join.authenticated_messages) return "arrival";
  if (join.listed_messages == 0) return "delivery";
  return "mixed";
}

}  // namespace

int RunReplay(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("replay", kReplayHelp, base, args,
                        {{"timeline", 0, false},
                         {"utc", 0, false},
                         {"no-progress", 0, false},
                         {"limits", 0, true},
                         {"no-limits", 0, false}},
                        kLogFiles);
  if (!call) return call.error();
  const bool timeline = call->parsed.Has("timeline");
  const bool json = call->options.json;
  const bool color = call->options.color;

  auto policy = LoadEffectivePolicy(call->options);
  if (!policy) return ReportError(policy.error());
  // Per-account overrides, as the ACL looks them up (SENDERWATCH_LIMITS_FILE).
  eximlog::OverridesByAccount overrides;
  std::string limits_path;
  if (!call->parsed.Has("no-limits")) {
    if (auto given = call->parsed.Value("limits")) {
      limits_path = *given;
    } else if (access(kDefaultLimitsPath, F_OK) == 0) {
      limits_path = kDefaultLimitsPath;
    }
  }
  if (!limits_path.empty()) {
    auto loaded = eximlog::LoadLimitsFile(limits_path);
    if (!loaded) return ReportError(loaded.error());
    overrides = std::move(*loaded);
  }

  NullLogger engine_log;  // locks are reported below, not logged again
  bool out_ok = true;
  eximlog::Replayer replayer(*policy, engine_log, [&](const eximlog::VerdictChange& change) {
    if (json) {
      out_ok = WriteOut(ChangeJson(change)) && out_ok;
    } else if (timeline) {
      out_ok = WriteOut(ChangeText(change, color)) && out_ok;
    }
  });
  replayer.set_overrides(std::move(overrides));
  eximlog::Joiner joiner(replayer);
  auto scan = ScanLogArguments("replay", call->parsed, joiner);
  if (!scan) return scan.error();
  const double seconds = scan->Seconds();
  const eximlog::ScanStats* stats = &scan->stats;
  const eximlog::ReplaySummary summary = replayer.Summary();
  const eximlog::JoinStats& join = joiner.stats();
  if (summary.engine_errors > 0) {
    Say("replay", Tone::kWarning, "{} calls refused by the engine, first: {}",
        Thousands(summary.engine_errors), summary.first_engine_error);
  }

  std::vector<eximlog::AccountOutcome> stopped;
  for (auto& outcome : replayer.Outcomes()) {
    if (outcome.worst != Action::kOk) stopped.push_back(std::move(outcome));
  }
  std::stable_sort(stopped.begin(), stopped.end(), [](const auto& a, const auto& b) {
    if (a.worst != b.worst) return a.worst > b.worst;
    return a.first_worst.time < b.first_worst.time;
  });

  if (json) {
    JsonWriter out(false);
    out.BeginObject();
    out.Field("summary", true);
    out.Field("files", stats->files);
    out.Field("lines", stats->lines);
    out.Field("lines_not_understood", stats->lines_not_understood);
    out.Field("first_time", stats->first_time ? std::optional<std::string>(FormatTime(stats->first_time))
                                              : std::nullopt);
    out.Field("last_time", stats->last_time ? std::optional<std::string>(FormatTime(stats->last_time))
                                            : std::nullopt);
    out.Field("messages", join.messages);
    out.Field("authenticated_messages", join.authenticated_messages);
    out.Field("accounts", summary.accounts);
    out.Field("locked_accounts", summary.locked_accounts);
    out.Field("deferred_accounts", summary.deferred_accounts);
    out.Field("warned_accounts", summary.warned_accounts);
    out.Field("verdict_changes", summary.verdict_changes);
    out.Field("recipients", join.recipients);
    out.Field("refused_recipients", summary.refused_recipients);
    out.Field("bounces", join.bounces);
    out.Field("defers", join.defers);
    out.Field("authfails", join.authfails);
    out.Field("recipient_counting", CountingMode(join));
    out.Field("limits_file", limits_path.empty() ? std::nullopt : std::optional<std::string>(limits_path));
    out.Field("elapsed_seconds", seconds);
    out.Key("stopped").BeginArray();
    for (const auto& s : stopped) {
      out.BeginObject();
      out.Field("account", s.account);
      out.Field("verdict", ActionName(s.worst));
      out.Field("since", FormatTime(s.first_worst.time));
      out.Field("rule", s.first_worst.rule);
      out.Field("refused", s.refused);
      out.Field("recipients", s.recipients);
      out.Field("bounces", s.bounces);
      out.EndObject();
    }
    out.EndArray();
    out.EndObject();
    out_ok = WriteOut(out.Take() + "\n") && out_ok;
    return out_ok ? kExitOk : kExitStore;
  }

  std::string text;
  if (timeline && summary.verdict_changes > 0) text += "\n";
  const double rate = seconds > 0 ? static_cast<double>(stats->lines) / seconds : 0;
  text += "Read " + Thousands(stats->lines) + (stats->lines == 1 ? " line" : " lines") + " from " +
          Plural(stats->files, "file");
  if (stats->first_time != 0) {
    text += ", " + FormatTime(stats->first_time) + " to " + FormatTime(stats->last_time);
  }
  text += " (" + Thousands(stats->lines_not_understood) + " not understood) in " + fmt::format("{:.2f}", seconds) +
          " s (" + Thousands(static_cast<uint64_t>(rate)) + " lines/s).\n";
  text += Thousands(join.messages) + " messages, " + Thousands(join.authenticated_messages) +
          " authenticated, from " + Thousands(summary.accounts) +
          (summary.accounts == 1 ? " account: " : " accounts: ") +
          Thousands(join.recipients) + " recipients, " + Thousands(join.bounces) + " bounces, " +
          Thousands(join.defers) + " deferrals, " + Thousands(join.authfails) + " failed logins.\n\n";
  std::string policy_name =
      call->options.config.empty() ? std::string("The policy") : "Policy " + call->options.config;
  if (!limits_path.empty()) policy_name += " (with the overrides of " + limits_path + ")";
  if (stopped.empty()) {
    text += policy_name + " would have let every account through.\n";
  } else {
    std::vector<std::string> parts;
    if (summary.locked_accounts > 0) parts.push_back("locked " + Plural(summary.locked_accounts, "account"));
    if (summary.deferred_accounts > 0) {
      parts.push_back("deferred " + Plural(summary.deferred_accounts, "account"));
    }
    if (summary.warned_accounts > 0) parts.push_back("warned " + Plural(summary.warned_accounts, "account"));
    text += policy_name + " would have ";
    for (size_t i = 0; i < parts.size(); ++i) {
      text += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
    }
    text += ", refusing " + Thousands(summary.refused_recipients) +
            (summary.refused_recipients == 1 ? " recipient" : " recipients") + ":\n\n";
    Table table({"ACCOUNT", "VERDICT", "SINCE", "RULE", "VALUE", "LIMIT", "WINDOW", "REFUSED",
                 "RCPT", "BOUNCES"},
                {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft,
                 Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
                 Table::Align::kRight, Table::Align::kRight, Table::Align::kRight});
    for (const auto& s : stopped) {
      const auto& w = s.first_worst;
      table.AddRow({{SanitizeForTerminal(s.account)},
                    {std::string(ActionName(s.worst)) + (s.worst == Action::kLock && !s.locked ? " (ended)" : ""),
                     VerdictStyle(s.worst)},
                    {FormatTime(w.time)},
                    {SanitizeForTerminal(w.rule)},
                    {FormatMetricValue(w.metric, w.value)},
                    {FormatNumber(w.limit)},
                    {FormatDuration(w.window_seconds)},
                    {Thousands(s.refused)},
                    {Thousands(s.recipients)},
                    {Thousands(s.bounces)}});
    }
    text += table.Render(color);
  }
  const char* mode = CountingMode(join);
  if (std::string_view(mode) == "delivery" || std::string_view(mode) == "mixed") {
    text += "\nNote: recipients were counted from delivery lines; add +received_recipients to\n"
            "Exim's log_selector to count them exactly as the plugin does (docs/replay.md).\n";
  }
  out_ok = WriteOut(text) && out_ok;
  return out_ok ? kExitOk : kExitStore;
}

}  // namespace senderwatch::cli
