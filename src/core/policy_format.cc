// Policy to TOML: `check-config` prints the effective policy and `tune`
// suggests one; both must produce a file ParsePolicy accepts unchanged.
#include <cstdio>
#include <string>

#include "senderwatch/policy.h"
#include "senderwatch/units.h"

namespace senderwatch {
namespace {

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04X", u);
      out += escaped;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string Number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

std::string SizeText(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
  if (bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes % (uint64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

}  // namespace

std::string FormatPolicy(const Policy& p) {
  std::string out;
  out += "on_error = " + Quote(p.on_error == OnError::kAccept ? "accept" : "defer") + "\n";
  if (!p.notify.empty()) out += "notify = " + Quote(p.notify) + "\n";
  if (!p.notify_user.empty()) out += "notify_user = " + Quote(p.notify_user) + "\n";
  if (p.notify_timeout_seconds != Policy{}.notify_timeout_seconds) {
    out += "notify_timeout = " + Quote(FormatDuration(p.notify_timeout_seconds)) + "\n";
  }
  // No rules at all must stay no rules: a file without any rule key means
  // the built-in rules. (A top-level key, so before the first table.)
  if (p.rules.empty()) out += "rule = []\n";
  out += "\n[store]\n";
  if (!p.store.path.empty()) out += "path = " + Quote(p.store.path) + "\n";
  else out += "# path = \"$spool_directory/db/senderwatch\" (the default)\n";
  out += "max_size = " + Quote(SizeText(p.store.max_size)) + "\n";
  const char* durability = p.store.durability == Durability::kAlways     ? "always"
                           : p.store.durability == Durability::kPeriodic ? "periodic"
                                                                         : "none";
  out += "durability = " + Quote(durability) + "\n";
  out += "sync_interval = " + Quote(FormatDuration(p.store.sync_interval_seconds)) + "\n";
  out += "retention = " + Quote(FormatDuration(p.store.retention_seconds)) + "\n";
  out += "provisional_records = " + std::to_string(p.store.provisional_records) + "\n";
  if (p.store.backend == StoreBackend::kRedis) {
    out += "backend = \"redis\"\n";
    out += "redis = " + Quote(p.store.redis) + "\n";
    if (!p.store.redis_password_file.empty()) {
      out += "redis_password_file = " + Quote(p.store.redis_password_file) + "\n";
    }
    out += "redis_prefix = " + Quote(p.store.redis_prefix) + "\n";
    out += "redis_timeout = " + Quote(std::to_string(p.store.redis_timeout_ms) + "ms") + "\n";
  }
  out += "\n[lock]\nduration = " + Quote(FormatDuration(p.lock_duration_seconds)) + "\n";
  out += "escalation = " + Number(p.escalation) + "\n";
  out += "\n[learn]\n";
  out += "span = " + Quote(FormatDuration(p.learn.span_seconds)) + "\n";
  out += "percentile = " + Number(p.learn.percentile) + "\n";
  out += "multiple = " + Number(p.learn.multiple) + "\n";
  out += "floor = " + Number(p.learn.floor) + "\n";
  out += "min_history = " + Quote(FormatDuration(p.learn.min_history_seconds)) + "\n";
  out += "min_active_hours = " + std::to_string(p.learn.min_active_hours) + "\n";
  out += "\n[sender]\n";
  const char* ownership = p.sender.ownership == SenderOwnership::kAddress  ? "address"
                          : p.sender.ownership == SenderOwnership::kDomain ? "domain"
                                                                           : "lookup";
  out += "ownership = " + Quote(ownership) + "\n";
  if (!p.sender.file.empty()) out += "file = " + Quote(p.sender.file) + "\n";
  for (const Rule& r : p.rules) {
    out += "\n[[rule]]\n";
    out += "name = " + Quote(r.name) + "\n";
    out += "metric = " + Quote(MetricName(r.metric)) + "\n";
    out += "window = " + Quote(FormatDuration(r.window_seconds)) + "\n";
    if (r.learned) {
      out += "above = \"learned\"\n";
      out += "fallback = " + Number(r.above) + "\n";
      if (r.floor) out += "floor = " + Number(*r.floor) + "\n";
    } else {
      out += "above = " + Number(r.above) + "\n";
    }
    if (r.min != 0) out += "min = " + std::to_string(r.min) + "\n";
    out += "action = " + Quote(ActionName(r.action)) + "\n";
    if (r.applies_to != Origin::kAny) out += "applies_to = " + Quote(OriginName(r.applies_to)) + "\n";
  }
  return out;
}

}  // namespace senderwatch
