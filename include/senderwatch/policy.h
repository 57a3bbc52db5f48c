// The policy: which rules apply, where the store lives and how it syncs.
// Loaded from senderwatch.toml (DESIGN.md, docs/tuning.md); with no file the
// built-in defaults apply. A Policy is a plain value: the plugin, the CLI and
// log replay evaluate the very same object.
#ifndef SENDERWATCH_POLICY_H_
#define SENDERWATCH_POLICY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/config_file.h"
#include "senderwatch/error.h"
#include "senderwatch/metric.h"

namespace senderwatch {

// Ordered by strength: when several rules fire, the strongest wins.
enum class Action { kOk = 0, kWarn = 1, kDefer = 2, kLock = 3 };
std::string_view ActionName(Action action);  // "ok", "warn", "defer", "lock"
std::optional<Action> ParseAction(std::string_view name);

// Where a submission comes from: an authenticated SMTP client, or a local
// process calling sendmail (acl_not_smtp: a web script, a cron job). Rules
// may apply to one kind only (Rule::applies_to); the kind of each call is
// known to the caller (check_sender: an empty CLIENT_IP is local; the
// record_* functions: their origin= option), never stored in the record.
enum class Origin { kAny = 0, kSmtp = 1, kLocal = 2 };
std::string_view OriginName(Origin origin);  // "any", "smtp", "local"
std::optional<Origin> ParseOrigin(std::string_view name);

// Windows are exact at slot granularity: windows up to one hour are kept in
// one-minute slots, longer windows (whole hours, up to 24h) in one-hour slots.
inline constexpr int64_t kMaxMinuteWindow = 3600;
inline constexpr int64_t kMaxWindow = 24 * 3600;

struct Rule {
  std::string name;                  // shown in verdicts and logs; unique
  Metric metric = Metric::kBounces;
  int64_t window_seconds = 3600;     // a multiple of 60 (<= 1h) or 3600 (<= 24h)
  double above = 0;                  // fires when the value is strictly above
  // For bounce_ratio: the least recipients in the window before the ratio
  // counts (a 1-of-2 bounce is not evidence). For counters: the least value.
  uint64_t min = 0;
  Action action = Action::kWarn;
  // above = "learned": the limit comes from the account's own history
  // (recipients and bounces only; see LearnSettings). `above` then holds
  // the fallback used while the account has too little history.
  bool learned = false;
  std::optional<double> floor;       // learned rules: overrides [learn] floor
  // The submissions the rule judges (applies_to = "any" | "smtp" | "local"):
  // in a call of the other kind the rule is off, as if overridden with
  // "off". Default any. A lock it sets holds for every kind.
  Origin applies_to = Origin::kAny;
};

enum class Durability {
  kAlways,    // fsync every write: nothing is lost, ~0.5 ms per RCPT on disk
  kPeriodic,  // fsync at most every sync_interval: counters of the last
              // interval may be lost on power loss; locks are synced at once
  kNone,      // never fsync counters (tmpfs, tests); locks are still synced
};

// Where the counters live (DESIGN.md, "Several hosts: Redis").
enum class StoreBackend {
  kLmdb,   // one host: the LMDB store at `path`
  kRedis,  // several hosts share a Redis; the LMDB store at `path` is the
           // fallback while Redis cannot be reached, and keeps every lock
};

struct StoreSettings {
  StoreBackend backend = StoreBackend::kLmdb;
  // Empty: "$spool_directory/db/senderwatch", resolved by the caller. With
  // the Redis backend: the local store used during an outage.
  std::string path;
  // The LMDB map size: the store never grows beyond this. When full, stale
  // records are pruned; if still full, counting fails open.
  uint64_t max_size = uint64_t{1} << 30;
  Durability durability = Durability::kPeriodic;
  int64_t sync_interval_seconds = 30;
  // Records without activity for this long (and not locked) are pruned.
  int64_t retention_seconds = 7 * 24 * 3600;
  // Failed logins of a name that has no record (it never sent) are kept in a
  // bounded table of provisional records, at most this many, and never more
  // than one per 4 KiB of max_size (ProvisionalCap). When it is full the
  // least useful entries go first (Store::ModifyProvisional). Larger: a
  // password-guessing run against a name that never sent survives a bigger
  // flood of invented names; smaller: the flood takes less space.
  uint64_t provisional_records = 100000;

  // backend = "redis": "unix:/path/to.sock" or "redis://host[:port][/db]".
  std::string redis;
  // Optional file holding "PASSWORD" or "USER PASSWORD" (AUTH; an ACL user
  // when two words). Read with the policy, under the same trust checks;
  // the secret itself is never written back by FormatPolicy.
  std::string redis_password_file;
  std::string redis_user;
  std::string redis_password;
  // Prepended to every key: one Redis may serve several clusters. Account
  // names are hex-encoded after it, so no name reaches another key space.
  std::string redis_prefix = "senderwatch:";
  // Connect and command timeout. Short: a dead Redis must cost an SMTP
  // session a few dozen milliseconds, not seconds (then the local store is
  // used, and other processes skip Redis for a while: docs/operations.md).
  int64_t redis_timeout_ms = 50;
};

// The most provisional records a store keeps: provisional_records, but at
// most one per 4 KiB of max_size, so they never take more than a small part
// of the map whatever the settings.
uint64_t ProvisionalCap(const StoreSettings& settings);

// How learned limits are derived from an account's hourly history. The
// hourly limit is max(floor, multiple x the percentile of the account's
// hourly counts over the span); a rule's window of W hours allows W times
// that (windows under an hour allow one hour's worth).
struct LearnSettings {
  int64_t span_seconds = 14 * 24 * 3600;  // history considered; at most 14 days
  double percentile = 99;                 // of the hourly counts, idle hours included
  double multiple = 3;
  double floor = 20;                      // never below this many per hour
  // Until the account is this old and has sent in this many hours, learned
  // rules use their static fallback and new_recipient_ratio reads 0.
  int64_t min_history_seconds = 3 * 24 * 3600;
  uint32_t min_active_hours = 8;
};

// Which envelope senders an account may use (the sender_mismatch metric).
enum class SenderOwnership {
  kAddress,  // the account itself, or for a bare login its local part
  kDomain,   // any address in the account's domain
  kLookup,   // listed in `owners` (from [sender] file); else as kAddress
};

struct SenderSettings {
  SenderOwnership ownership = SenderOwnership::kAddress;
  std::string file;  // lookup file: "account: addr@x, @domain, *" per line
  std::map<std::string, std::vector<std::string>, std::less<>> owners;
};

// What the plugin returns when it cannot do its job (store unusable, bad
// policy). "accept" fails open: mail flows, the error is logged.
enum class OnError { kAccept, kDefer };

struct Policy {
  StoreSettings store;
  std::vector<Rule> rules;
  // 0: a lock lasts until a person releases it; else it ends by itself.
  int64_t lock_duration_seconds = 0;
  // Repeat offenders are locked sooner: lock rules' limits are multiplied
  // by escalation^n for an account locked n times before (n capped at 3).
  // 1 turns this off.
  double escalation = 0.5;
  LearnSettings learn;
  SenderSettings sender;
  OnError on_error = OnError::kAccept;
  // Optional command run (detached, through /bin/sh) when an account becomes
  // locked; empty: none. It never runs as root: it runs as `notify_user`,
  // or as the Exim user when that is empty, and is killed after
  // `notify_timeout_seconds` (its exit status or timeout is logged).
  std::string notify;
  std::string notify_user;
  int64_t notify_timeout_seconds = 30;
};

// The built-in policy used when no policy file exists (docs/tuning.md
// explains each default).
Policy DefaultPolicy();

// Parses TOML text. `origin` names the source in error messages
// ("senderwatch.toml:12:3: unknown key 'abov'"). Rules given in the file
// replace the built-in rules as a whole. Reads no files: the [sender] file
// and the Redis password file are named (sender.file,
// store.redis_password_file) but not loaded.
Result<Policy> ParsePolicy(std::string_view toml_text, std::string_view origin);

// Reads and parses a file, then the files it names: the [sender] file (an
// lsearch file, senderwatch/lsearch.h) and the Redis password file. A missing file is an error here; callers
// decide whether a missing *default* file means built-in defaults
// (senderwatch/locate.h). The file and the files it names must pass `trust`
// (config_file.h); the overload without it trusts root and this process's
// own user.
Result<Policy> LoadPolicyFile(const std::string& path, const FileTrust& trust);
Result<Policy> LoadPolicyFile(const std::string& path);

// Renders a policy as a complete TOML file (check-config, tune).
std::string FormatPolicy(const Policy& policy);

// True when `account` may use `sender` as its envelope sender.
bool OwnsSender(const SenderSettings& settings, std::string_view account, std::string_view sender);

// Per-call limit overrides from the ACL, e.g. from an Exim lookup:
// "bounce-flood=200 rcpt-rate=off". Keys are rule names; "off" disables.
struct LimitOverrides {
  std::map<std::string, std::optional<double>, std::less<>> limits;  // nullopt: off
  // The kind of the call being judged: rules whose applies_to names the
  // other kind are off. kAny (unknown): every rule applies.
  Origin origin = Origin::kAny;
  bool empty() const { return limits.empty() && origin == Origin::kAny; }
};
// Accepts pairs separated by spaces, commas or semicolons. Unknown rule names
// are kept (and ignored by evaluation) so one lookup file serves many policies.
Result<LimitOverrides> ParseLimitOverrides(std::string_view text);

}  // namespace senderwatch

#endif  // SENDERWATCH_POLICY_H_
