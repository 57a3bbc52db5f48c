// `senderwatch show ACCOUNT`: everything known about one account, and above
// all why it is locked and how to release it.
#include <algorithm>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "cli/views.h"
#include "senderwatch/account.h"
#include "senderwatch/network.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kShowHelp = R"help(Usage: senderwatch show ACCOUNT [--json]

Shows one account: whether it is locked, which rule locked it with which
numbers and since when, who locked and released it, every rule's current
value against its limit, each metric over 10 minutes, 1 hour and 24 hours,
and the client networks it was used from.

A learned rule (above = "learned") shows where its limit comes from:
"(learned)" when it follows the account's own hourly history, "(fallback:
too little history)" while the account is younger than [learn] min_history
or has sent in fewer than min_active_hours hours; then the rule's static
fallback applies. 'senderwatch learn' fills the history from old logs.

ACCOUNT is the SMTP AUTH login name ($authenticated_id), compared without
regard to case and surrounding spaces.

Reading the lock:
  Locked since   when the lock began (and until when, for timed locks)
  Why            the rule that fired and its numbers at that moment, e.g.
                 "rule bounce-ratio: bounce_ratio 0.45 > 0.3 over 1h"
  Evidence       the detail recorded with the lock (or the admin's reason)
  Locked by      "senderwatch" for automatic locks, else the administrator
Lock rules count only evidence after the last release, so a released account
is not locked again by the spam that got it locked; rate limits (defer) keep
counting.

Options:
  --json        machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch show alice@example.com
  senderwatch show alice@example.com --json | jq .record.lock

After the password is changed:
  senderwatch queue alice@example.com            review its queued mail
  senderwatch unlock alice@example.com --reason "password changed"

Exit status: 0 shown, 1 no such account, 2 usage error, 3 store error.
)help";

namespace {

std::string RuleWindowText(const RuleView& view) {
  return FormatDuration(view.rule->window_seconds);
}

// A learned rule's limit says where it comes from: "36 (learned)", or
// "1000 (fallback: too little history)" while the account is too new.
std::string LimitText(const RuleView& view) {
  const std::string marker = LimitMarker(view);
  std::string text = FormatNumber(view.limit) + (marker.empty() ? "" : " (" + marker + ")");
  // Escalation: the lock in force makes the next one come sooner.
  if (view.next_limit != view.limit) text += " (next time " + FormatNumber(view.next_limit) + ")";
  return text;
}

std::string StatusText(const RuleView& view) {
  if (!view.enabled) return "off";
  if (view.fired) return "FIRES";
  if (view.rule->min > 0 && view.min_basis < static_cast<double>(view.rule->min)) {
    return "below min " + std::to_string(view.rule->min);
  }
  return "ok";
}

std::string RenderHuman(const Context& ctx, const AccountRecord& record, UnixSeconds now,
                        const std::vector<RuleView>& rules) {
  const bool color = ctx.options.color;
  const std::string name = SanitizeForTerminal(record.account);
  const bool locked = record.IsLocked(now);
  std::string out;
  out += Paint(name, Style::kBold, color) + "  " +
         (locked ? Paint("LOCKED", Style::kBoldRed, color)
                 : Paint("not locked", Style::kGreen, color)) +
         "\n\n";

  KeyValueList lock;
  if (locked) {
    std::string since = FormatTimeAndAgo(record.lock.since, now);
    since += record.lock.until == 0 ? ", until released"
                                    : ", until " + FormatTimeAndAgo(record.lock.until, now);
    lock.Add("Locked since", since);
    lock.Add("Why", SanitizeForTerminal(LockExplanation(record.lock)), Style::kRed);
    if (!record.lock.reason.empty()) lock.Add("Evidence", SanitizeForTerminal(record.lock.reason));
    lock.Add("Locked by", record.lock.by == "senderwatch" || record.lock.by.empty()
                              ? std::string("senderwatch (automatic)")
                              : SanitizeForTerminal(record.lock.by));
  } else if (record.lock.locked && record.lock.until != 0) {
    lock.Add("Lock", "expired " + FormatTimeAndAgo(record.lock.until, now) + " (" +
                         SanitizeForTerminal(LockExplanation(record.lock)) + ")");
  }
  lock.Add("Times locked", std::to_string(record.lock_count));
  if (record.last_release.at != 0) {
    std::string release = FormatTimeAndAgo(record.last_release.at, now);
    if (!record.last_release.by.empty())
      release += " by " + SanitizeForTerminal(record.last_release.by);
    if (!record.last_release.reason.empty()) {
      release += ": " + SanitizeForTerminal(record.last_release.reason);
    }
    lock.Add("Last release", release);
  } else {
    lock.Add("Last release", "never");
  }
  if (record.evidence_after != 0) {
    lock.Add("Evidence after",
             FormatTime(record.evidence_after) + " (lock rules ignore what came before)");
  }
  lock.Add("First seen", FormatTimeAndAgo(record.first_seen, now));
  lock.Add("Last seen", FormatTimeAndAgo(record.last_seen, now));
  out += lock.Render(color);

  out += "\n" + Paint("Rules now", Style::kBold, color) + "\n";
  Table rule_table(
      {"RULE", "METRIC", "WINDOW", "VALUE", "LIMIT", "ACTION", "STATUS"},
      {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight,
       Table::Align::kRight, Table::Align::kLeft, Table::Align::kLeft});
  for (const RuleView& view : rules) {
    const Metric metric = view.rule->metric;
    std::string value = FormatMetricValue(metric, view.value);
    if (view.since_release) value += "*";
    const Style style = view.fired             ? Style::kRed
                        : view.pressure >= 0.8 ? Style::kYellow
                                               : Style::kPlain;
    std::string rule_name = SanitizeForTerminal(view.rule->name);
    if (view.rule->applies_to != Origin::kAny) {
      rule_name += " [" + std::string(OriginName(view.rule->applies_to)) + "]";
    }
    rule_table.AddRow({{rule_name},
                       {std::string(MetricName(metric))},
                       {RuleWindowText(view)},
                       {value, style},
                       {LimitText(view)},
                       {std::string(ActionName(view.rule->action))},
                       {StatusText(view), style}});
  }
  if (rules.empty()) {
    out += "  (the policy has no rules)\n";
  } else {
    out += rule_table.Render(color, 2);
    if (std::any_of(rules.begin(), rules.end(),
                    [](const RuleView& v) { return v.since_release; })) {
      out += "  * counted since the last release only\n";
    }
    if (std::any_of(rules.begin(), rules.end(),
                    [](const RuleView& v) { return v.rule->applies_to != Origin::kAny; })) {
      out += "  [smtp], [local]: the rule judges only that kind of submission\n";
    }
    if (std::any_of(rules.begin(), rules.end(),
                    [](const RuleView& v) { return v.rule->learned && !v.learned; })) {
      out += "  fallback: learned limits apply once the account has " +
             HumanDuration(ctx.policy.learn.min_history_seconds) + " of history and " +
             std::to_string(ctx.policy.learn.min_active_hours) +
             " active hours ('senderwatch learn' reads them from old logs)\n";
    }
  }

  out += "\n" + Paint("Counters", Style::kBold, color) + "\n";
  std::vector<std::string> headers = {"METRIC"};
  std::vector<Table::Align> align = {Table::Align::kLeft};
  for (int64_t window : kStandardWindows) {
    headers.push_back(FormatDuration(window));
    align.push_back(Table::Align::kRight);
  }
  Table counters(headers, align);
  for (Metric metric : kAllMetrics) {
    std::vector<Table::Cell> row = {{std::string(MetricName(metric))}};
    for (int64_t window : kStandardWindows) {
      row.push_back({FormatMetricValue(metric, MetricValue(record, metric, window, now))});
    }
    counters.AddRow(std::move(row));
  }
  out += counters.Render(color, 2);

  out += "\n" + Paint("Client networks", Style::kBold, color) +
         " (IPv4 /24, IPv6 /64; most recent first)\n";
  std::vector<NetworkSighting> networks(
      record.networks.begin(),
      record.networks.begin() + std::min<size_t>(record.network_count, record.networks.size()));
  std::sort(networks.begin(), networks.end(),
            [](const NetworkSighting& a, const NetworkSighting& b) {
              return a.last_minute > b.last_minute;
            });
  if (networks.empty()) {
    out += "  none recorded\n";
  } else {
    Table table({"NETWORK", "FIRST SEEN", "LAST SEEN"});
    for (const NetworkSighting& n : networks) {
      table.AddRow({{FormatClientNetwork(n.network)},
                    {FormatMinuteAgo(n.first_minute, now)},
                    {FormatMinuteAgo(n.last_minute, now)}});
    }
    out += table.Render(color, 2);
  }

  if (locked) {
    const std::string quoted = ShellQuote(name);
    out += "\n" + Paint("To release", Style::kBold, color) +
           " it once its password has been changed:\n"
           "  senderwatch queue " +
           quoted +
           "     (review the mail it left in the queue)\n"
           "  senderwatch unlock " +
           quoted + " --reason \"password changed\"\n";
  }
  return out;
}

}  // namespace

int RunShow(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("show", kShowHelp, base, args, {}, kOneAccount);
  if (!call) return call.error();
  auto account = NormalizeAccount(call->operands().front());
  if (!account) return call->Usage(account.error().message);

  auto context = OpenVerbContext(call->options, OpenMode::kReadOnly);
  if (!context) return context.error();
  Context& ctx = **context;
  auto record = ctx.store->Get(*account);
  if (!record) return ReportError(record.error());
  if (!record->has_value()) {
    return ReportNoRecord(*account, ctx.store_path);
  }
  const UnixSeconds now = ctx.clock.Now();
  const std::vector<RuleView> rules = ViewRules(ctx.policy, **record, now);
  // Data of this account the store cannot decode: when its record is among
  // it, what is shown above comes from the lock journal.
  auto all_undecodable = ctx.store->Undecodable();
  if (!all_undecodable) return ReportError(all_undecodable.error());
  std::vector<UndecodableRecord> undecodable;
  for (auto& entry : *all_undecodable) {
    if (entry.account == *account) undecodable.push_back(std::move(entry));
  }
  if (ctx.options.json) {
    JsonWriter json;
    json.BeginObject();
    WriteTime(json, "now", now);
    json.Key("record");
    WriteRecordJson(json, **record, now);
    json.Key("rules");
    WriteRulesJson(json, rules);
    json.Key("undecodable");
    WriteUndecodableJson(json, undecodable);
    json.EndObject();
    return Emit(json.Take());
  }
  std::string out = RenderHuman(ctx, **record, now, rules);
  if (!undecodable.empty()) {
    const bool in_place = std::any_of(undecodable.begin(), undecodable.end(),
                                      [](const UndecodableRecord& r) { return !r.set_aside; });
    out += "\n" + Paint("Undecodable data", Style::kBoldRed, ctx.options.color) +
           (in_place ? " (the record cannot be decoded: shown as the lock journal has it)\n"
                     : "\n");
    for (const auto& entry : undecodable) out += "  " + DescribeUndecodable(entry, now) + "\n";
  }
  return Emit(out);
}

}  // namespace senderwatch::cli
