// `senderwatch dump`: every record, as a table or as JSON for scripts and
// backups of the evidence. JSON is streamed record by record.

#include "cli/args.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "cli/views.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kDumpHelp = R"(Usage: senderwatch dump [--json]

Lists every record in the store in key order, locked or not, active or not,
from one consistent snapshot, then the records that cannot be decoded
(damaged, or written by a newer senderwatch; never deleted: gc sets damaged
ones aside). The table shows the lock state, how often the
account was locked, and its counters over the last hour and day; --json
writes each record in full (lock, last release, counters over 10m, 1h and
24h, client networks) with a schema that is stable and documented in
docs/cli.md ("senderwatch-dump", version 1).

Options:
  --json        machine-readable output, streamed record by record

Examples:
  senderwatch dump
  senderwatch dump --json > senderwatch-$(date +%F).json
  senderwatch dump --json | jq -r '.records[] | select(.locked) | .account'

Exit status: 0 ok, 2 usage error, 3 store error (or output not written).
)";

int RunDump(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("dump", kDumpHelp, base, args, {}, kNoOperands);
  if (!call) return call.error();
  auto context = OpenVerbContext(call->options, OpenMode::kReadOnly);
  if (!context) return context.error();
  Context& ctx = **context;
  const UnixSeconds now = ctx.clock.Now();

  if (ctx.options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("schema", "senderwatch-dump");
    json.Field("version", 1);
    json.Field("store", ctx.store_path);
    WriteTime(json, "generated_at", now);
    json.Key("records").BeginArray();
    bool output_ok = true;
    auto scan = ctx.store->ForEach([&](const AccountRecord& record) {
      WriteRecordJson(json, record, now);
      output_ok = WriteOut(json.Drain());
      return output_ok;
    });
    if (!scan) return ReportError(scan.error());
    if (!output_ok) return kExitStore;
    json.EndArray();
    json.Field("count", scan->records);
    json.Field("undecodable", scan->undecodable);
    auto undecodable = ctx.store->Undecodable();
    if (!undecodable) return ReportError(undecodable.error());
    json.Key("undecodable_records");
    WriteUndecodableJson(json, *undecodable);
    json.EndObject();
    return Emit(json.Take());
  }

  Table table(
      {"ACCOUNT", "STATE", "LOCKS", "RCPT 1h", "BOUNCES 1h", "DEFERS 1h", "NETS 1h", "AUTHFAIL 1h",
       "RCPT 24h", "BOUNCES 24h", "LAST SEEN"},
      {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight,
       Table::Align::kRight, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
       Table::Align::kRight, Table::Align::kRight, Table::Align::kLeft});
  const auto count = [&](const AccountRecord& r, Metric metric, int64_t window) {
    return FormatMetricValue(metric, MetricValue(r, metric, window, now));
  };
  uint64_t locked = 0;
  auto scan = ctx.store->ForEach([&](const AccountRecord& r) {
    const bool is_locked = r.IsLocked(now);
    if (is_locked) ++locked;
    table.AddRow({{SanitizeForTerminal(r.account)},
                  {is_locked ? "LOCKED" : "-", is_locked ? Style::kBoldRed : Style::kPlain},
                  {std::to_string(r.lock_count)},
                  {count(r, Metric::kRecipients, 3600)},
                  {count(r, Metric::kBounces, 3600)},
                  {count(r, Metric::kDefers, 3600)},
                  {count(r, Metric::kClientIps, 3600)},
                  {count(r, Metric::kAuthfails, 3600)},
                  {count(r, Metric::kRecipients, 86400)},
                  {count(r, Metric::kBounces, 86400)},
                  {FormatAgo(r.last_seen, now), Style::kDim}});
    return true;
  });
  if (!scan) return ReportError(scan.error());
  std::string out = table.rows() > 0 ? table.Render(ctx.options.color) : std::string();
  if (table.rows() > 0) out += '\n';
  out += Plural(scan->records, "record");
  out += ", " + std::to_string(locked) + " locked, in ";
  out += SanitizeForTerminal(ctx.store_path);
  out += '\n';
  auto undecodable = ctx.store->Undecodable();
  if (!undecodable) return ReportError(undecodable.error());
  if (!undecodable->empty()) {
    out += "\n" + Plural(undecodable->size(), "record") +
           " could not be decoded (kept; gc sets damaged ones aside, the lock journal "
           "keeps their locks):\n";
    for (const auto& record : *undecodable) out += "  " + DescribeUndecodable(record, now) + "\n";
  }
  return Emit(out);
}

}  // namespace senderwatch::cli
