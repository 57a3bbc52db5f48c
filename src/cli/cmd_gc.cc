// `senderwatch gc`: prunes stale records (Store::Prune) and says what it
// freed. Run it from a timer (docs/operations.md).
#include "cli/args.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "cli/views.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kGcHelp = R"(Usage: senderwatch gc [--json]

Removes records of accounts that have been inactive for longer than the
retention ([store] retention in the policy, default 7d) and are not
locked. Locked accounts are never removed, whether the record or the lock
journal says so. Damaged records are set aside, never deleted ('senderwatch
dump' lists them), and an account the lock journal holds as locked gets its
lock back in their place; records of a newer senderwatch are left alone. The plugin also prunes when the store fills up; running gc daily
keeps the store small and fast. Freed pages are reused by LMDB; the data
file does not shrink.

Options:
  --json        machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch gc
  # daily, as the Exim user (see docs/operations.md for a systemd timer):
  17 4 * * *  Debian-exim  /usr/bin/senderwatch gc

Exit status: 0 ok, 2 usage error, 3 store error.
)";

int RunGc(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("gc", kGcHelp, base, args, {}, kNoOperands);
  if (!call) return call.error();
  auto context = OpenVerbContext(call->options, OpenMode::kReadWrite);
  if (!context) return context.error();
  Context& ctx = **context;
  const UnixSeconds now = ctx.clock.Now();
  auto report = ctx.store->Prune(now);
  if (!report) return ReportError(report.error());
  if (ctx.options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("store", ctx.store_path);
    WriteTime(json, "at", now);
    json.Field("retention_seconds", ctx.policy.store.retention_seconds);
    json.Field("examined", report->examined);
    json.Field("removed", report->removed);
    json.Field("bytes_freed", report->bytes_freed);
    json.Field("set_aside", report->set_aside);
    json.EndObject();
    return Emit(json.Take());
  }
  return Emit("Examined " + Plural(report->examined, "record") + ", removed " +
              std::to_string(report->removed) + " (inactive for more than " +
              HumanDuration(ctx.policy.store.retention_seconds) + "), freed " +
              FormatBytes(report->bytes_freed) + " of records" +
              (report->set_aside > 0 ? "; set aside " + Plural(report->set_aside, "damaged record") +
                                           " ('senderwatch dump' lists them)"
                                     : std::string()) +
              ".\n");
}

}  // namespace senderwatch::cli
