// `senderwatch learn`: Exim main logs into the store's long-term history, so
// that learned limits (above = "learned") know each account's usual volume
// from the first day instead of after min_history. The replay is replay's
// own (src/eximlog) with every rule removed; the merge into the store is in
// src/eximlog/learn.cc. This file parses options and prints.
#include <unistd.h>

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
#include "cli/views.h"
#include "eximlog/joiner.h"
#include "eximlog/learn.h"
#include "eximlog/log_reader.h"
#include "eximlog/replay.h"
#include "eximlog/scan.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kLearnHelp = R"help(Usage: senderwatch learn [--dry-run] [--utc] [--json] [--no-progress] LOG...

Reads Exim main logs into the store, so that rules with above = "learned"
know each account's usual hourly volume from the first day: without it a
learned limit applies only once the plugin itself has watched an account
for [learn] min_history (default 3d), and until then the rule's fallback
does. Run it once when installing senderwatch, before enabling the plugin in
Exim's ACLs, with the logs of the last two weeks (the history holds 14 days):

  senderwatch learn /var/log/exim4/mainlog*

The logs are replayed as `senderwatch replay` does (same parsing, same
counting as check_sender, the policy's [learn] and [sender] settings) but
with every rule removed: learning never defers or locks anyone. Then each
account is merged into the store (--db, the plugin's store by default):

  - an account the store has no activity of gets what the plugin would hold
    had it been running while the logs were written: its hourly history,
    the recipients it wrote to, its recent counters and client networks;
  - an account the store already knows only gets the hours before its first
    recorded activity added to its history. Later mail was counted by the
    plugin itself and is not counted again; the hour in which the store's
    record began is taken from the store alone.

So it is safe to run while the plugin is running, and on logs older than the
store's data (to lengthen the history after the fact). Running it twice on
the same logs adds nothing the second time. What it cannot tell apart is the
same mail in two files given together (a log and a copy of it, such as
mainlog.1 and mainlog.1.gz): give each log once, or those events are counted
twice and the learned limits come out too high.

Not written: accounts whose last mail in the logs is older than [store]
retention (gc would remove them at once), names with no recipient and no
bounce (failed logins only: user names guessed by attackers), and accounts
whose stored record cannot be decoded (left as they are).

LOG is a main log as Exim writes it under any log_selector, as for replay:
rotated and gzip-compressed files, '-' for standard input; files are read
oldest first. Without +received_recipients in log_selector recipients are
counted from delivery lines (docs/replay.md).

Options:
  --dry-run      read the logs and report what would be written, write nothing
                 (the store is opened read-only)
  --json         the report as one JSON object (schema in docs/cli.md)
  --utc          timestamps without a zone are UTC (default: local time, as
                 Exim writes them; set TZ to the server's zone if it differs)
  --no-progress  no progress bar (it is drawn only when stderr is a terminal)
  --config FILE  the policy: [learn], [sender] and [store] settings, and which
                 rules are learned (default /etc/exim4/senderwatch.toml)

Examples:
  sudo senderwatch learn /var/log/exim4/mainlog*
  senderwatch --db /tmp/test-store learn --dry-run mainlog.1 mainlog.2.gz
  senderwatch show alice@example.com     the learned limit, marked "learned"

Exit status: 0 ok, 1 a log file does not exist, 2 usage or policy error,
3 store error.
)help";

namespace {

// "1 account", "19,999 accounts".
std::string Counted(uint64_t n, std::string_view noun) {
  return Thousands(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

std::string LearnedRuleNames(const Policy& policy) {
  std::string names;
  for (const Rule& rule : policy.rules) {
    if (!rule.learned) continue;
    if (!names.empty()) names += ", ";
    names += rule.name;
  }
  return names;
}

}  // namespace

int RunLearn(const GlobalOptions& base, std::span<const std::string> args) {
  auto call =
      StartVerb("learn", kLearnHelp, base, args,
                {{"dry-run", 0, false}, {"utc", 0, false}, {"no-progress", 0, false}}, kLogFiles);
  if (!call) return call.error();
  const bool dry_run = call->parsed.Has("dry-run");

  // The store first: a store that cannot be opened should not cost a long
  // read of the logs.
  auto context =
      OpenVerbContext(call->options, dry_run ? OpenMode::kReadOnly : OpenMode::kReadWrite);
  if (!context) return context.error();
  Context& ctx = **context;
  const Policy counting = eximlog::CountingPolicy(ctx.policy);
  auto replayed = NewMemoryStore(ctx.policy.store);
  NullLogger engine_log;  // no rules: the engine has nothing to say
  eximlog::Replayer replayer(counting, *replayed, engine_log);
  eximlog::Joiner joiner(replayer);
  auto scan = ScanLogArguments("learn", call->parsed, joiner);
  if (!scan) return scan.error();
  const eximlog::ScanStats* stats = &scan->stats;
  const eximlog::ReplaySummary summary = replayer.Summary();
  if (summary.engine_errors > 0) {
    Say("learn", Tone::kWarning, "{} calls refused by the engine, first: {}",
        Thousands(summary.engine_errors), summary.first_engine_error);
  }

  const UnixSeconds now = ctx.clock.Now();
  std::vector<eximlog::LearnedAccount> accounts;
  eximlog::MergeOptions merge_options;
  merge_options.now = now;
  merge_options.dry_run = dry_run;
  if (ctx.options.json) {
    merge_options.on_account = [&](const eximlog::LearnedAccount& a) { accounts.push_back(a); };
  }
  auto report = eximlog::MergeReplayed(*replayed, *ctx.store, ctx.policy, merge_options);
  if (!report) return ReportError(report.error());
  const double seconds = scan->Seconds();
  const eximlog::JoinStats& join = joiner.stats();
  const std::string learned_rules = LearnedRuleNames(ctx.policy);

  if (ctx.options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("store", ctx.store_path);
    json.Field("dry_run", dry_run);
    WriteTime(json, "now", now);
    json.Field("files", stats->files);
    json.Field("lines", stats->lines);
    json.Field("lines_not_understood", stats->lines_not_understood);
    WriteTime(json, "first_time", stats->first_time);
    WriteTime(json, "last_time", stats->last_time);
    json.Field("recipients", join.recipients);
    json.Field("bounces", join.bounces);
    json.Field("accounts", report->accounts);
    json.Field("new", report->added);
    json.Field("extended", report->extended);
    json.Field("up_to_date", report->up_to_date);
    json.Field("stale", report->stale);
    json.Field("no_mail", report->no_mail);
    json.Field("unreadable", report->unreadable);
    json.Field("hours_new", report->hours_new);
    json.Field("hours_extended", report->hours_extended);
    json.Field("with_learned_limit", report->with_learned_limit);
    json.Field("elapsed_seconds", seconds);
    json.Key("per_account").BeginArray();
    for (const auto& a : accounts) {
      json.BeginObject();
      json.Field("account", a.account);
      json.Field("outcome", eximlog::LearnOutcomeName(a.outcome));
      json.Field("hours_added", a.hours_added);
      WriteTime(json, "first_seen", a.first_seen);
      WriteTime(json, "last_seen", a.last_seen);
      json.Field("learned_limit", a.learned_limit);
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
    return Emit(json.Take());
  }

  std::string text = "Read " + Thousands(stats->lines) + (stats->lines == 1 ? " line" : " lines") +
                     " from " + Counted(stats->files, "file");
  if (stats->first_time != 0) {
    text += ", " + FormatTime(stats->first_time) + " to " + FormatTime(stats->last_time);
  }
  text += " (" + Thousands(stats->lines_not_understood) + " not understood) in " + fmt::format("{:.2f}", seconds) +
          " s: " + Thousands(join.recipients) + " recipients and " + Thousands(join.bounces) +
          " bounces of " + Counted(report->accounts, "account") + ".\n";
  text += std::string(dry_run ? "Would write into " : "Written into ") +
          SanitizeForTerminal(ctx.store_path) + ":\n";
  KeyValueList list;
  list.Add("New", Counted(report->added, "account") + " the store had no activity of: " +
                      Counted(report->hours_new, "hour") + " with mail");
  list.Add("Extended", Counted(report->extended, "account") + " already in the store: " +
                           Counted(report->hours_extended, "earlier hour") + " with mail added");
  list.Add("Up to date", Counted(report->up_to_date, "account") +
                             " the store knew from before these logs: nothing to add");
  if (report->stale > 0) {
    list.Add("Not written", Counted(report->stale, "account") +
                                " idle for longer than [store] retention (" +
                                HumanDuration(ctx.policy.store.retention_seconds) + ")");
  }
  if (report->no_mail > 0) {
    list.Add("Not written", Counted(report->no_mail, "name") +
                                " with no recipient and no bounce (failed logins only)");
  }
  if (report->unreadable > 0) {
    list.Add("Not written", Counted(report->unreadable, "account") +
                                " whose stored record cannot be decoded (left as it is)");
  }
  text += list.Render(ctx.options.color);
  const uint64_t written = report->added + report->extended;
  if (learned_rules.empty()) {
    text += "The policy has no learned rule (above = \"learned\"); the history is kept\n"
            "for when it has one.\n";
  } else if (written > 0) {
    text += "Learned limits (" + SanitizeForTerminal(learned_rules) + ") now apply to " +
            Thousands(report->with_learned_limit) + " of these " + Counted(written, "account") +
            ";\nthe others keep the fallback until they have " +
            HumanDuration(ctx.policy.learn.min_history_seconds) + " of history and " +
            Counted(ctx.policy.learn.min_active_hours, "active hour") + ".\n";
  }
  if (join.authenticated_messages > 0 && join.listed_messages < join.authenticated_messages) {
    text += "Note: recipients were counted from delivery lines; add +received_recipients to\n"
            "Exim's log_selector to count them exactly as the plugin does (docs/replay.md).\n";
  }
  return Emit(text);
}

}  // namespace senderwatch::cli
