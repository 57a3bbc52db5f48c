// `senderwatch stats`: the store's health at a glance (Store::Stats).
#include "cli/args.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "cli/views.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kStatsHelp = R"(Usage: senderwatch stats [--json]

Shows where the store is (with backend = "redis": whether Redis answers;
when it does not, the figures are those of the local fallback store), how many records and locked accounts it holds,
how much of its maximum size (the LMDB map, [store] max_size) is in use,
the oldest activity it still remembers, and how many reader slots of dead
processes were cleared on opening. When 'used' approaches 'max size', raise
max_size in the policy or run 'senderwatch gc'.

Options:
  --json        machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch stats
  senderwatch --db /tmp/copy-of-store stats --json

Exit status: 0 ok, 2 usage error, 3 store error.
)";

int RunStats(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("stats", kStatsHelp, base, args, {}, kNoOperands);
  if (!call) return call.error();
  auto context = OpenVerbContext(call->options, OpenMode::kReadOnly);
  if (!context) return context.error();
  Context& ctx = **context;
  const UnixSeconds now = ctx.clock.Now();
  auto stats = ctx.store->Stats();
  if (!stats) return ReportError(stats.error());
  if (ctx.store_not_created) {  // the stand-in reports itself; show the real place
    stats->location = ctx.store_path;
    stats->map_size = ctx.policy.store.max_size;
  }
  if (ctx.options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("location", stats->location);
    json.Field("backend", stats->backend);
    json.Field("reachable", stats->reachable);
    if (!stats->problem.empty()) json.Field("problem", stats->problem);
    json.Field("records", stats->records);
    json.Field("locked", stats->locked);
    json.Field("provisional", stats->provisional);
    json.Field("map_size", stats->map_size);
    json.Field("used_bytes", stats->used_bytes);
    json.Field("file_bytes", stats->file_bytes);
    WriteTime(json, "oldest_activity", stats->oldest_activity);
    json.Field("stale_readers_cleared", stats->stale_readers_cleared);
    json.Field("undecodable", stats->undecodable);
    json.Field("set_aside", stats->set_aside);
    json.EndObject();
    return Emit(json.Take());
  }
  KeyValueList list;
  list.Add("Store", SanitizeForTerminal(stats->location));
  if (stats->backend == "redis") {
    list.Add("Redis", stats->reachable ? "reachable"
                                       : "UNREACHABLE: " + SanitizeForTerminal(stats->problem) +
                                             " (figures of the local fallback store)",
             stats->reachable ? Style::kPlain : Style::kRed);
  }
  list.Add("Records", std::to_string(stats->records));
  list.Add("Locked", std::to_string(stats->locked),
           stats->locked > 0 ? Style::kRed : Style::kPlain);
  list.Add("Provisional", std::to_string(stats->provisional) + " (failed logins of names that never sent)");
  std::string used = FormatBytes(stats->used_bytes);
  if (stats->map_size > 0) {
    const double share =
        static_cast<double>(stats->used_bytes) / static_cast<double>(stats->map_size);
    used += " (" + FormatPercent(share) + " of max size)";
    list.Add("Used", used, share >= 0.8 ? Style::kYellow : Style::kPlain);
  } else {
    list.Add("Used", used);
  }
  list.Add("Max size", FormatBytes(stats->map_size));
  list.Add("Data file", FormatBytes(stats->file_bytes));
  list.Add("Oldest activity", FormatTimeAndAgo(stats->oldest_activity, now));
  list.Add("Stale readers cleared", std::to_string(stats->stale_readers_cleared));
  if (stats->undecodable > 0 || stats->set_aside > 0) {
    list.Add("Undecodable",
             std::to_string(stats->undecodable) + " in place, " +
                 std::to_string(stats->set_aside) + " set aside ('senderwatch dump' lists them)",
             Style::kYellow);
  }
  return Emit(list.Render(ctx.options.color, 0));
}

}  // namespace senderwatch::cli
