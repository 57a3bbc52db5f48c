// `senderwatch migrate --to redis|lmdb`: moves a host's records between its
// own LMDB store and the cluster's Redis (CopyStore), locks included, so a
// host joins a cluster, or leaves it, without releasing anyone.
#include "cli/args.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "senderwatch/store.h"

namespace senderwatch::cli {

const std::string_view kMigrateHelp = R"(Usage: senderwatch migrate --to redis|lmdb [--json]

Copies every record, with its history and lock, from the local LMDB store
([store] path, or --db) into the Redis the policy names ([store] redis), or
with --to lmdb from Redis into the local store. A record of the same
account in the target is replaced. Failed logins of names that never sent
(provisional records) are not copied. Run it once when a host joins a
cluster (before switching it to backend = "redis"), or to take a copy of
the cluster's records onto one host.

Options:
  --to redis|lmdb  the target
  --json           machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch migrate --to redis
  senderwatch --db /tmp/snapshot migrate --to lmdb

Exit status: 0 copied, 2 usage error, 3 store error.
)";

int RunMigrate(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("migrate", kMigrateHelp, base, args, {{"to", 0, true}}, kNoOperands);
  if (!call) return call.error();
  const std::string to = call->parsed.Value("to").value_or("");
  if (to != "redis" && to != "lmdb") return call->Usage("--to must be redis or lmdb");

  auto logger = NewStderrLogger(call->options.verbose);
  auto policy = LoadEffectivePolicy(call->options);
  if (!policy) return ReportError(policy.error());
  if (policy->store.redis.empty()) {
    return call->Usage(
        "the policy names no Redis ([store] redis = \"unix:/path\" or "
        "\"redis://host:port/db\")");
  }
  auto located = LocateCliStore(call->options, *policy, *logger);
  if (!located) return ReportError(located.error());
  const StoreSettings& settings = *located;
  SystemClock clock;
  auto lmdb = OpenLmdbStore(settings, clock, *logger,
                            to == "lmdb" ? OpenMode::kReadWrite : OpenMode::kReadOnly);
  if (!lmdb) return ReportError(lmdb.error());
  auto redis = OpenRedisStore(settings, clock, *logger);
  if (!redis) return ReportError(redis.error());
  Store& from = to == "redis" ? **lmdb : **redis;
  Store& into = to == "redis" ? **redis : **lmdb;
  auto report = CopyStore(from, into, clock.Now());
  if (!report) return ReportError(report.error());
  if (call->options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("from", from.Location());
    json.Field("to", into.Location());
    json.Field("records", report->records);
    json.Field("locked", report->locked);
    json.Field("undecodable", report->undecodable);
    json.EndObject();
    return Emit(json.Take());
  }
  return Emit("Copied " + Plural(report->records, "record") + " (" +
              std::to_string(report->locked) + " locked) from " + from.Location() + " to " +
              into.Location() +
              (report->undecodable > 0
                   ? "; " + Plural(report->undecodable, "undecodable record") + " left behind"
                   : std::string()) +
              ".\n");
}

}  // namespace senderwatch::cli
