// `senderwatch top`: the riskiest accounts right now, each metric next to
// the limit of the rule closest to firing.
#include <algorithm>
#include <optional>
#include <string_view>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/messages.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "cli/views.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kTopHelp = R"(Usage: senderwatch top [--by METRIC] [-n N] [--all] [--json]

Shows the riskiest accounts now: locked accounts first, then the accounts
whose rules are closest to firing. Each metric is shown as VALUE/LIMIT, the
current value over the rule's window next to the limit of the rule on that
metric that is closest to firing (a metric no rule tests shows the last hour
and no limit).

Columns:
  STATE      LOCKED (a lock is in force), or the strongest rule that fires
             now: defer, warn, or ok
  RISK       how close the nearest rule is to firing: value/limit in percent;
             100% is the limit, a rule fires strictly above it. While a rule's
             'min' evidence is missing the percentage is scaled down.
  RULE       for a locked account the rule that locked it ("manual" when
             locked by hand), else the rule with that risk
  RCPT       recipients;  BOUNCES  hard bounces;  RATIO  bounces/recipients
             A learned rule's limit is marked: 52/150L is learned from the
             account's own history, 3/1000F is the rule's fallback while the
             account has too little history (see 'senderwatch learn')
  NETS       distinct client networks (IPv4 /24, IPv6 /64)
  AUTHFAIL   failed SMTP AUTH attempts
  SEEN       last activity

Options:
  --by METRIC   sort by one metric's value instead of by risk: recipients,
                bounces, bounce_ratio, client_ips or authfails
  -n N          show at most N accounts (default 20; 0 shows all)
  --all         include accounts with no activity in their windows
  --json        machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch top
  senderwatch top --by bounces -n 5
  senderwatch top --json | jq '.accounts[] | select(.locked) | .account'

Then: 'senderwatch show ACCOUNT' explains one account.

Exit status: 0 ok, 2 usage error, 3 store error.
)";

namespace {

// "52/150L": the limit of a learned rule is marked L when it comes from the
// account's history, F while the rule's fallback applies (too little history).
std::string ColumnText(const MetricView& m) {
  std::string text = FormatMetricValue(m.metric, m.value);
  if (m.has_limit) text += "/" + FormatNumber(m.limit);
  if (m.has_limit && m.learned_rule) text += m.learned ? "L" : "F";
  return text;
}

std::optional<std::string_view> ColumnLimitSource(const MetricView& m) {
  if (!m.has_limit) return std::nullopt;
  if (!m.learned_rule) return "static";
  return m.learned ? "learned" : "fallback";
}

Style ColumnStyle(const MetricView& m) {
  if (m.fired) return Style::kRed;
  if (m.pressure >= 0.8) return Style::kYellow;
  return Style::kPlain;
}

}  // namespace

int RunTop(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("top", kTopHelp, base, args,
                        {{"by", 0, true}, {"count", 'n', true}, {"all", 0, false}}, kNoOperands);
  if (!call) return call.error();
  std::optional<Metric> by;
  if (auto name = call->parsed.Value("by")) {
    by = ParseMetric(*name);
    if (!by || std::find(kTopMetrics.begin(), kTopMetrics.end(), *by) == kTopMetrics.end()) {
      return UsageError("top",
                        "--by takes recipients, bounces, bounce_ratio, client_ips or "
                        "authfails, not '" +
                            *name + "'");
    }
  }
  uint64_t limit = 20;
  if (auto n = call->parsed.Value("count")) {
    auto count = ParseCount("-n", *n);
    if (!count) return call->Usage(count.error().message);
    limit = *count;
  }
  const bool all = call->parsed.Has("all");

  auto context = OpenVerbContext(call->options, OpenMode::kReadOnly);
  if (!context) return context.error();
  Context& ctx = **context;
  const UnixSeconds now = ctx.clock.Now();

  std::vector<AccountSummary> summaries;
  uint64_t total = 0;
  uint64_t locked = 0;
  auto scan = ctx.store->ForEach([&](const AccountRecord& record) {
    ++total;
    AccountSummary summary = Summarize(ctx.policy, record, now);
    if (summary.locked) ++locked;
    bool active = summary.locked || summary.risk > 0;
    for (const MetricView& m : summary.metrics) active = active || m.value > 0;
    if (all || active) summaries.push_back(std::move(summary));
    return true;
  });
  if (!scan) return ReportError(scan.error());

  const auto metric_index = [&](Metric metric) {
    return static_cast<size_t>(std::find(kTopMetrics.begin(), kTopMetrics.end(), metric) -
                               kTopMetrics.begin());
  };
  std::stable_sort(summaries.begin(), summaries.end(),
                   [&](const AccountSummary& a, const AccountSummary& b) {
                     if (by) {
                       const size_t i = metric_index(*by);
                       if (a.metrics[i].value != b.metrics[i].value) {
                         return a.metrics[i].value > b.metrics[i].value;
                       }
                     }
                     if (a.locked != b.locked) return a.locked;
                     if (a.risk != b.risk) return a.risk > b.risk;
                     return a.metrics[0].value > b.metrics[0].value;
                   });
  const size_t shown = limit == 0 ? summaries.size() : std::min<size_t>(summaries.size(), limit);

  if (ctx.options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("store", ctx.store_path);
    WriteTime(json, "now", now);
    json.Field("records", total);
    json.Field("locked", locked);
    json.Field("undecodable", scan->undecodable);
    json.Key("accounts").BeginArray();
    for (size_t i = 0; i < shown; ++i) {
      const AccountSummary& s = summaries[i];
      json.BeginObject();
      json.Field("account", s.account);
      json.Field("locked", s.locked);
      json.Field("state", s.locked ? std::string_view("lock") : ActionName(s.state));
      json.Field("risk", s.risk);
      json.Field("risk_rule", s.risk_rule);
      json.Field("lock_rule", s.lock_rule);
      WriteTime(json, "last_seen", s.last_seen);
      json.Key("metrics").BeginObject();
      for (const MetricView& m : s.metrics) {
        json.Key(MetricName(m.metric)).BeginObject();
        json.Field("value", m.value);
        json.Key("limit");
        if (m.has_limit) {
          json.Double(m.limit);
        } else {
          json.Null();
        }
        json.Field("window_seconds", m.window_seconds);
        json.Field("rule", m.rule);
        json.Field("fired", m.fired);
        json.Field("learned", m.learned);
        json.Key("limit_source");
        if (auto source = ColumnLimitSource(m)) {
          json.String(*source);
        } else {
          json.Null();
        }
        json.EndObject();
      }
      json.EndObject();
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
    return Emit(json.Take());
  }

  const bool color = ctx.options.color;
  Table table(
      {"ACCOUNT", "STATE", "RISK", "RULE", "RCPT", "BOUNCES", "RATIO", "NETS", "AUTHFAIL", "SEEN"},
      {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight, Table::Align::kLeft,
       Table::Align::kRight, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
       Table::Align::kRight, Table::Align::kLeft});
  for (size_t i = 0; i < shown; ++i) {
    const AccountSummary& s = summaries[i];
    std::vector<Table::Cell> row;
    row.push_back({SanitizeForTerminal(s.account), s.locked ? Style::kBold : Style::kPlain});
    const Style state_style = s.locked                    ? Style::kBoldRed
                              : s.state == Action::kDefer ? Style::kRed
                              : s.state == Action::kWarn  ? Style::kYellow
                                                          : Style::kGreen;
    row.push_back({StateLabel(s), state_style});
    row.push_back({FormatPercent(s.risk), s.risk > 1      ? Style::kRed
                                          : s.risk >= 0.8 ? Style::kYellow
                                                          : Style::kPlain});
    // A locked account names the rule that locked it; others the nearest rule.
    const std::string& rule = s.locked ? s.lock_rule : s.risk_rule;
    row.push_back({rule.empty() ? "-" : SanitizeForTerminal(rule)});
    for (const MetricView& m : s.metrics) row.push_back({ColumnText(m), ColumnStyle(m)});
    row.push_back({FormatAgo(s.last_seen, now), Style::kDim});
    table.AddRow(std::move(row));
  }
  std::string out;
  if (shown == 0) {
    out = total == 0 ? "No accounts recorded yet in " + ctx.store_path + ".\n"
                     : "No account has activity in its windows (" + std::to_string(total) +
                           " records; --all lists them).\n";
  } else {
    out = table.Render(color);
    out += "\n" + std::to_string(shown) + " of " + std::to_string(summaries.size()) +
           (all ? " accounts" : " active accounts") + " shown; " + std::to_string(locked) +
           " locked of " + std::to_string(total) + " recorded. ";
    out += "'senderwatch show ACCOUNT' explains one.\n";
    bool learned = false;
    bool fallback = false;
    for (size_t i = 0; i < shown; ++i) {
      for (const MetricView& m : summaries[i].metrics) {
        learned = learned || (m.has_limit && m.learned_rule && m.learned);
        fallback = fallback || (m.has_limit && m.learned_rule && !m.learned);
      }
    }
    if (learned) out += "L: learned limit, from the account's own history.\n";
    if (fallback) out += "F: fallback limit of a learned rule: too little history yet.\n";
  }
  if (scan->undecodable > 0) {
    Say("", Tone::kWarning, "{} records could not be decoded (gc removes them)",
        scan->undecodable);
  }
  return Emit(out);
}

}  // namespace senderwatch::cli
