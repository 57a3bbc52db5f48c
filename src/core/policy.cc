// The policy file: TOML, strict (unknown keys are errors, because a typo in
// a threshold must not silently fall back to a default), and every error
// points at file:line:column.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include <toml++/toml.h>

#include "core/bounded_file.h"
#include "senderwatch/policy.h"
#include "senderwatch/config_file.h"
#include "senderwatch/ascii.h"
#include "senderwatch/history.h"
#include "senderwatch/lsearch.h"
#include "senderwatch/record.h"
#include "senderwatch/units.h"

namespace senderwatch {
namespace {

Rule MakeRule(std::string name, Metric metric, int64_t window, double above,
              uint64_t min, Action action) {
  Rule rule;
  rule.name = std::move(name);
  rule.metric = metric;
  rule.window_seconds = window;
  rule.above = above;
  rule.min = min;
  rule.action = action;
  return rule;
}

// Reads the [sender] lookup file, an lsearch file (senderwatch/lsearch.h)
// of "account: item, item"; items are addresses, "@domain" or "*",
// separated by commas or spaces, compared in lower case. The file must pass
// the same trust checks as the policy file that names it.
Result<std::map<std::string, std::vector<std::string>, std::less<>>> LoadOwners(
    const std::string& path, const FileTrust& trust) {
  auto content = ReadConfigFile(path, "sender file", 16u << 20, trust);
  if (!content) return std::unexpected(content.error());
  std::map<std::string, std::vector<std::string>, std::less<>> owners;
  for (LsearchEntry& entry : ParseLsearch(*content)) {
    auto& items = owners[std::move(entry.key)];
    std::string_view rest = entry.value;
    while (!rest.empty()) {
      const size_t end = rest.find_first_of(", \t");
      if (end != 0) items.push_back(AsciiLowercase(rest.substr(0, end)));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }
  return owners;
}

// Reads the Redis password file: one line, "PASSWORD" or "USER PASSWORD"
// (an ACL user). Errors never quote the file's content: it is a secret.
Result<std::pair<std::string, std::string>> LoadRedisPassword(const std::string& path,
                                                              const FileTrust& trust) {
  auto content = ReadConfigFile(path, "redis password file", 4096, trust);
  if (!content) return std::unexpected(content.error());
  std::string_view text = *content;
  text = text.substr(0, text.find('\n'));
  std::vector<std::string> words;
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find_first_of(" \t\r", start), text.size());
    if (end > start) words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (words.empty() || words.size() > 2) {
    return MakeError(ErrorKind::kConfig,
                     path + ": expected one line \"PASSWORD\" or \"USER PASSWORD\"");
  }
  if (words.size() == 1) return std::pair<std::string, std::string>("", words[0]);
  return std::pair<std::string, std::string>(words[0], words[1]);
}

class PolicyParser {
 public:
  explicit PolicyParser(std::string_view origin) : origin_(origin) {}

  Result<Policy> Parse(const toml::table& root) {
    Policy policy = DefaultPolicy();
    for (const auto& [key, node] : root) {
      const std::string_view k = key.str();
      if (k == "on_error") {
        auto text = String(node, k);
        if (!text) return std::unexpected(text.error());
        if (*text == "accept") policy.on_error = OnError::kAccept;
        else if (*text == "defer") policy.on_error = OnError::kDefer;
        else return Fail(node, "on_error must be \"accept\" or \"defer\"");
      } else if (k == "notify") {
        auto text = String(node, k);
        if (!text) return std::unexpected(text.error());
        policy.notify = *text;
      } else if (k == "notify_user") {
        auto text = String(node, k);
        if (!text) return std::unexpected(text.error());
        if (*text == "root" || *text == "0") {
          return Fail(node, "notify_user must not be root: the notify command never runs as root");
        }
        policy.notify_user = *text;
      } else if (k == "notify_timeout") {
        auto seconds = Duration(node, k);
        if (!seconds) return std::unexpected(seconds.error());
        if (*seconds <= 0 || *seconds > 3600) return Fail(node, "notify_timeout must be between 1s and 1h");
        policy.notify_timeout_seconds = *seconds;
      } else if (k == "store") {
        if (auto r = ParseStore(node, policy.store); !r) return std::unexpected(r.error());
      } else if (k == "lock") {
        if (auto r = ParseLock(node, policy); !r) return std::unexpected(r.error());
      } else if (k == "rule") {
        if (auto r = ParseRules(node, policy.rules); !r) return std::unexpected(r.error());
      } else if (k == "learn") {
        if (auto r = ParseLearn(node, policy.learn); !r) return std::unexpected(r.error());
      } else if (k == "sender") {
        if (auto r = ParseSender(node, policy.sender); !r) return std::unexpected(r.error());
      } else {
        return Fail(node, "unknown key '" + std::string(k) +
                              "' (expected on_error, notify, notify_user, notify_timeout, [store], [lock], [learn], [sender] or [[rule]])");
      }
    }
    return policy;
  }

 private:
  std::unexpected<Error> Fail(const toml::node& node, const std::string& what) const {
    const auto& where = node.source().begin;
    return MakeError(ErrorKind::kConfig, std::string(origin_) + ":" +
                                             std::to_string(where.line) + ":" +
                                             std::to_string(where.column) + ": " + what);
  }

  Result<std::string> String(const toml::node& node, std::string_view key) const {
    if (const auto* s = node.as_string()) return s->get();
    return Fail(node, std::string(key) + " must be a string");
  }

  Result<int64_t> Duration(const toml::node& node, std::string_view key) const {
    if (const auto* i = node.as_integer(); i && i->get() == 0) return 0;
    auto text = String(node, key);
    if (!text) return std::unexpected(text.error());
    auto seconds = ParseDuration(*text);
    if (!seconds) return Fail(node, std::string(key) + ": " + seconds.error().message);
    return *seconds;
  }

  Result<double> Number(const toml::node& node, std::string_view key) const {
    if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = node.as_floating_point()) {
      // nan and inf would make a rule that silently never (or always) fires.
      if (!std::isfinite(f->get())) return Fail(node, std::string(key) + " must be a finite number");
      return f->get() == 0 ? 0.0 : f->get();  // no -0
    }
    return Fail(node, std::string(key) + " must be a number");
  }

  Result<bool> ParseStore(const toml::node& node, StoreSettings& store) const {
    const auto* table = node.as_table();
    if (table == nullptr) return Fail(node, "store must be a table: [store]");
    for (const auto& [key, value] : *table) {
      const std::string_view k = key.str();
      if (k == "path") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        if (text->empty() || text->front() != '/') return Fail(value, "store path must be absolute");
        store.path = *text;
      } else if (k == "max_size") {
        uint64_t bytes = 0;
        if (const auto* i = value.as_integer()) {
          if (i->get() <= 0) return Fail(value, "max_size must be positive");
          bytes = static_cast<uint64_t>(i->get());
        } else {
          auto text = String(value, k);
          if (!text) return std::unexpected(text.error());
          auto size = ParseSize(*text);
          if (!size) return Fail(value, size.error().message);
          bytes = *size;
        }
        if (bytes < (uint64_t{256} << 10)) return Fail(value, "max_size must be at least 256KiB");
        store.max_size = bytes;
      } else if (k == "durability") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        if (*text == "always") store.durability = Durability::kAlways;
        else if (*text == "periodic") store.durability = Durability::kPeriodic;
        else if (*text == "none") store.durability = Durability::kNone;
        else return Fail(value, "durability must be \"always\", \"periodic\" or \"none\"");
      } else if (k == "sync_interval") {
        auto seconds = Duration(value, k);
        if (!seconds) return std::unexpected(seconds.error());
        if (*seconds <= 0) return Fail(value, "sync_interval must be positive");
        store.sync_interval_seconds = *seconds;
      } else if (k == "retention") {
        auto seconds = Duration(value, k);
        if (!seconds) return std::unexpected(seconds.error());
        if (*seconds < kMaxWindow) return Fail(value, "retention must be at least 24h (the longest window)");
        store.retention_seconds = *seconds;
      } else if (k == "backend") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        if (*text == "lmdb") store.backend = StoreBackend::kLmdb;
        else if (*text == "redis") store.backend = StoreBackend::kRedis;
        else return Fail(value, "backend must be \"lmdb\" or \"redis\"");
      } else if (k == "redis") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        if (!text->starts_with("unix:/") && !text->starts_with("redis://")) {
          return Fail(value, "redis must be \"unix:/path\" or \"redis://host:port/db\"");
        }
        store.redis = *text;
      } else if (k == "redis_password_file") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        if (text->empty() || text->front() != '/') {
          return Fail(value, "redis_password_file must be an absolute path");
        }
        store.redis_password_file = *text;  // read by LoadPolicyFile: parsing reads no files
      } else if (k == "redis_prefix") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        store.redis_prefix = *text;
      } else if (k == "redis_timeout") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        auto ms = ParseMilliseconds(*text);
        if (!ms) return Fail(value, "redis_timeout: " + ms.error().message);
        if (*ms <= 0 || *ms > 60000) return Fail(value, "redis_timeout must be between 1ms and 60s");
        store.redis_timeout_ms = *ms;
      } else if (k == "provisional_records") {
        const auto* count = value.as_integer();
        if (count == nullptr || count->get() < 0) {
          return Fail(value, "provisional_records must be a whole number, 0 or more");
        }
        store.provisional_records = static_cast<uint64_t>(count->get());
      } else {
        return Fail(value, "unknown key '" + std::string(k) +
                               "' in [store] (expected path, max_size, durability, sync_interval, "
                               "retention, provisional_records, backend, redis, "
                               "redis_password_file, redis_prefix, redis_timeout)");
      }
    }
    if (store.backend == StoreBackend::kRedis && store.redis.empty()) {
      return Fail(node, "backend = \"redis\" needs redis = \"unix:/path\" or \"redis://host:port/db\"");
    }
    return true;
  }

  Result<bool> ParseLock(const toml::node& node, Policy& policy) const {
    const auto* table = node.as_table();
    if (table == nullptr) return Fail(node, "lock must be a table: [lock]");
    for (const auto& [key, value] : *table) {
      if (key.str() == "escalation") {
        auto factor = Number(value, "escalation");
        if (!factor) return std::unexpected(factor.error());
        if (*factor <= 0 || *factor > 1) return Fail(value, "escalation must be above 0 and at most 1");
        policy.escalation = *factor;
        continue;
      }
      if (key.str() != "duration") {
        return Fail(value, "unknown key '" + std::string(key.str()) +
                               "' in [lock] (expected duration, escalation)");
      }
      auto seconds = Duration(value, "duration");
      if (!seconds) return std::unexpected(seconds.error());
      policy.lock_duration_seconds = *seconds;
    }
    return true;
  }

  Result<bool> ParseLearn(const toml::node& node, LearnSettings& learn) const {
    const auto* table = node.as_table();
    if (table == nullptr) return Fail(node, "learn must be a table: [learn]");
    for (const auto& [key, value] : *table) {
      const std::string_view k = key.str();
      if (k == "span" || k == "min_history") {
        auto seconds = Duration(value, k);
        if (!seconds) return std::unexpected(seconds.error());
        if (*seconds < 3600 || *seconds > kHistoryHours * int64_t{3600}) {
          return Fail(value, std::string(k) + " must be between 1h and 14d");
        }
        (k == "span" ? learn.span_seconds : learn.min_history_seconds) = *seconds;
      } else if (k == "percentile" || k == "multiple" || k == "floor") {
        auto number = Number(value, k);
        if (!number) return std::unexpected(number.error());
        if (k == "percentile" && (*number <= 0 || *number > 100)) {
          return Fail(value, "percentile must be above 0 and at most 100");
        }
        if (k != "percentile" && *number <= 0) return Fail(value, std::string(k) + " must be positive");
        (k == "percentile" ? learn.percentile : k == "multiple" ? learn.multiple : learn.floor) = *number;
      } else if (k == "min_active_hours") {
        const auto* i = value.as_integer();
        if (i == nullptr || i->get() < 0 || i->get() > kHistoryHours) {
          return Fail(value, "min_active_hours must be an integer from 0 to 336");
        }
        learn.min_active_hours = static_cast<uint32_t>(i->get());
      } else {
        return Fail(value, "unknown key '" + std::string(k) +
                               "' in [learn] (expected span, percentile, multiple, floor, min_history, min_active_hours)");
      }
    }
    return true;
  }

  Result<bool> ParseSender(const toml::node& node, SenderSettings& sender) const {
    const auto* table = node.as_table();
    if (table == nullptr) return Fail(node, "sender must be a table: [sender]");
    for (const auto& [key, value] : *table) {
      const std::string_view k = key.str();
      auto text = String(value, k);
      if (!text) return std::unexpected(text.error());
      if (k == "ownership") {
        if (*text == "address") sender.ownership = SenderOwnership::kAddress;
        else if (*text == "domain") sender.ownership = SenderOwnership::kDomain;
        else if (*text == "lookup") sender.ownership = SenderOwnership::kLookup;
        else return Fail(value, "ownership must be \"address\", \"domain\" or \"lookup\"");
      } else if (k == "file") {
        if (text->empty() || text->front() != '/') return Fail(value, "sender file must be an absolute path");
        sender.file = *text;  // read by LoadPolicyFile: parsing reads no files
      } else {
        return Fail(value, "unknown key '" + std::string(k) + "' in [sender] (expected ownership, file)");
      }
    }
    if (sender.ownership == SenderOwnership::kLookup && sender.file.empty()) {
      return Fail(node, "ownership = \"lookup\" needs a file");
    }
    return true;
  }

  Result<bool> ParseRules(const toml::node& node, std::vector<Rule>& rules) const {
    const auto* array = node.as_array();
    if (array == nullptr) return Fail(node, "rules must be written as [[rule]] tables");
    rules.clear();
    std::set<std::string, std::less<>> names;
    for (const auto& element : *array) {
      const auto* table = element.as_table();
      if (table == nullptr) return Fail(element, "each [[rule]] must be a table");
      auto rule = ParseRule(*table);
      if (!rule) return std::unexpected(rule.error());
      if (!names.insert(rule->name).second) {
        return Fail(element, "duplicate rule name '" + rule->name + "'");
      }
      rules.push_back(std::move(*rule));
    }
    if (rules.size() > 64) return Fail(node, "at most 64 rules");
    return true;
  }

  Result<Rule> ParseRule(const toml::table& table) const {
    Rule rule;
    bool has_name = false, has_metric = false, has_above = false, has_action = false;
    std::optional<double> fallback;
    for (const auto& [key, value] : table) {
      const std::string_view k = key.str();
      if (k == "name") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        if (!ValidRuleName(*text)) {
          return Fail(value, "rule name must be 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.' "
                             "(and not config, mode, rcpt, sender or origin)");
        }
        rule.name = *text;
        has_name = true;
      } else if (k == "metric") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        auto metric = ParseMetric(*text);
        if (!metric) {
          return Fail(value, "unknown metric '" + *text +
                                 "' (expected recipients, bounces, defers, bounce_ratio, client_ips, authfails, "
                                 "spam_rejects, new_recipient_ratio or sender_mismatch)");
        }
        rule.metric = *metric;
        has_metric = true;
      } else if (k == "window") {
        auto seconds = Duration(value, k);
        if (!seconds) return std::unexpected(seconds.error());
        const int64_t w = *seconds;
        const bool ok = w > 0 && ((w <= kMaxMinuteWindow && w % 60 == 0) ||
                                  (w > kMaxMinuteWindow && w <= kMaxWindow && w % 3600 == 0));
        if (!ok) {
          return Fail(value, "window must be whole minutes up to 1h, or whole hours up to 24h");
        }
        rule.window_seconds = w;
      } else if (k == "above") {
        if (const auto* text = value.as_string()) {
          if (text->get() != "learned") return Fail(value, "above must be a number or \"learned\"");
          rule.learned = true;
        } else {
          auto number = Number(value, k);
          if (!number) return std::unexpected(number.error());
          if (*number < 0) return Fail(value, "above must not be negative");
          rule.above = *number;
        }
        has_above = true;
      } else if (k == "fallback" || k == "floor") {
        auto number = Number(value, k);
        if (!number) return std::unexpected(number.error());
        if (*number < 0) return Fail(value, std::string(k) + " must not be negative");
        if (k == "fallback") {
          fallback = *number;
        } else {
          rule.floor = *number;
        }
      } else if (k == "min") {
        const auto* i = value.as_integer();
        if (i == nullptr || i->get() < 0) return Fail(value, "min must be a non-negative integer");
        rule.min = static_cast<uint64_t>(i->get());
      } else if (k == "action") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        auto action = ParseAction(*text);
        if (!action || *action == Action::kOk) {
          return Fail(value, "action must be \"warn\", \"defer\" or \"lock\"");
        }
        rule.action = *action;
        has_action = true;
      } else if (k == "applies_to") {
        auto text = String(value, k);
        if (!text) return std::unexpected(text.error());
        auto origin = ParseOrigin(*text);
        if (!origin) return Fail(value, "applies_to must be \"any\", \"smtp\" or \"local\"");
        rule.applies_to = *origin;
      } else {
        return Fail(value, "unknown key '" + std::string(k) +
                               "' in [[rule]] (expected name, metric, window, above, min, action, "
                               "applies_to, fallback, floor)");
      }
    }
    const char* missing = !has_name ? "name" : !has_metric ? "metric" : !has_above ? "above"
                          : !has_action ? "action" : nullptr;
    if (missing != nullptr) return Fail(table, std::string("[[rule]] needs '") + missing + "'");
    if (rule.learned) {
      if (rule.metric != Metric::kRecipients && rule.metric != Metric::kBounces) {
        return Fail(table, "rule '" + rule.name + "': only recipients and bounces can be learned");
      }
      if (!fallback) {
        return Fail(table, "rule '" + rule.name +
                               "': above = \"learned\" needs a fallback limit for accounts with little history");
      }
      rule.above = *fallback;
    } else if (fallback || rule.floor) {
      return Fail(table, "rule '" + rule.name + "': fallback and floor apply only to above = \"learned\"");
    }
    if ((rule.metric == Metric::kBounceRatio || rule.metric == Metric::kNewRecipientRatio) &&
        rule.above > 1) {
      return Fail(table, "rule '" + rule.name + "': a ratio limit is between 0 and 1");
    }
    if (rule.metric == Metric::kClientIps && rule.above >= kMaxNetworks) {
      return Fail(table, "rule '" + rule.name + "': client_ips can count at most " +
                             std::to_string(kMaxNetworks) + " networks, so 'above' must be below " +
                             std::to_string(kMaxNetworks));
    }
    return rule;
  }

  static bool ValidRuleName(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    // Reserved: these are option names of the ${dlfunc} calls.
    if (name == "config" || name == "mode" || name == "rcpt" || name == "sender" ||
        name == "origin") {
      return false;
    }
    for (char c : name) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
      if (!ok) return false;
    }
    return true;
  }

  std::string_view origin_;
};

}  // namespace

uint64_t ProvisionalCap(const StoreSettings& settings) {
  return std::min(settings.provisional_records, settings.max_size / 4096);
}

Policy DefaultPolicy() {
  Policy policy;
  // Chosen so that an honest heavy sender is never locked (locks need
  // evidence a person would call compromise) while a spam run from a leaked
  // password trips within minutes; docs/tuning.md explains each number.
  Rule rcpt_rate = MakeRule("rcpt-rate", Metric::kRecipients, 3600, 1000, 0, Action::kDefer);
  rcpt_rate.learned = true;  // 1000 until the account has history
  policy.rules = {
      rcpt_rate,
      MakeRule("bounce-flood", Metric::kBounces, 3600, 50, 0, Action::kDefer),
      MakeRule("bounce-ratio", Metric::kBounceRatio, 3600, 0.3, 20, Action::kLock),
      MakeRule("client-networks", Metric::kClientIps, 3600, 10, 0, Action::kLock),
      MakeRule("auth-failures", Metric::kAuthfails, 3600, 20, 0, Action::kWarn),
      MakeRule("spam-rejects", Metric::kSpamRejects, 3600, 25, 0, Action::kDefer),
      MakeRule("new-recipients", Metric::kNewRecipientRatio, 3600, 0.95, 100, Action::kDefer),
      MakeRule("sender-mismatch", Metric::kSenderMismatch, 3600, 10, 0, Action::kWarn),
  };
  return policy;
}

Result<Policy> ParsePolicy(std::string_view toml_text, std::string_view origin) {
  try {
    toml::table root = toml::parse(toml_text, origin);
    return PolicyParser(origin).Parse(root);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return MakeError(ErrorKind::kConfig, std::string(origin) + ":" + std::to_string(where.line) +
                                             ":" + std::to_string(where.column) + ": " +
                                             std::string(e.description()));
  } catch (const std::exception& e) {
    return MakeError(ErrorKind::kConfig, std::string(origin) + ": " + e.what());
  }
}

Result<Policy> LoadPolicyFile(const std::string& path, const FileTrust& trust) {
  auto text = ReadConfigFile(path, "policy file", 1u << 20, trust);
  if (!text) return std::unexpected(text.error());
  auto policy = ParsePolicy(*text, path);
  if (!policy) return policy;
  // The files the policy names, under the same trust as the policy itself.
  if (!policy->sender.file.empty()) {
    auto owners = LoadOwners(policy->sender.file, trust);
    if (!owners) {
      return MakeError(ErrorKind::kConfig, path + ": [sender] file: " + owners.error().message,
                       owners.error().code);
    }
    policy->sender.owners = std::move(*owners);
  }
  if (!policy->store.redis_password_file.empty()) {
    auto secret = LoadRedisPassword(policy->store.redis_password_file, trust);
    if (!secret) {
      return MakeError(ErrorKind::kConfig, path + ": [store] redis_password_file: " +
                                               secret.error().message, secret.error().code);
    }
    policy->store.redis_user = secret->first;
    policy->store.redis_password = secret->second;
  }
  return policy;
}

Result<Policy> LoadPolicyFile(const std::string& path) {
  return LoadPolicyFile(path, DefaultFileTrust());
}

}  // namespace senderwatch
