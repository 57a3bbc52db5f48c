// The lock journal (see lock_journal.h; format in docs/format.md).
#include "store/lock_journal.h"

#include <cerrno>
#include <charconv>
#include <map>
#include <system_error>
#include <utility>

#include "core/bounded_file.h"
#include "senderwatch/metric.h"

namespace senderwatch::store_internal {
namespace {

constexpr std::string_view kLinePrefix = "lock ";

bool NeedsEscape(unsigned char c) { return c <= 0x20 || c == 0x7f || c == '%' || c == '='; }

void AppendEscaped(std::string& out, std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (NeedsEscape(c)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> Unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

template <typename T>
bool ParseNumber(std::string_view text, T& value) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

void AppendField(std::string& out, std::string_view key, std::string_view value) {
  out += ' ';
  out += key;
  out += '=';
  AppendEscaped(out, value);
}

void AppendNumber(std::string& out, std::string_view key, int64_t value) {
  out += ' ';
  out += key;
  out += '=';
  out += std::to_string(value);
}

void AppendDouble(std::string& out, std::string_view key, double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out += ' ';
  out += key;
  out += '=';
  out.append(buffer, ec == std::errc() ? end : buffer);
}

bool Ended(const JournalEntry& entry, UnixSeconds now) {
  return entry.lock.until != 0 && entry.lock.until <= now;
}

Result<void> Rewrite(const std::string& dir, const DirInfo& info,
                     const std::string& old_text,
                     const std::map<std::string, JournalEntry, std::less<>>& entries) {
  std::vector<JournalEntry> list;
  list.reserve(entries.size());
  for (const auto& [account, entry] : entries) list.push_back(entry);
  const std::string text = FormatJournal(list);
  if (text == old_text) return {};
  return ReplaceFileAtomically(dir, kJournalName, text, info);
}

// The journal's text; nullopt when there is none. Read as policy files are
// (bounded_file.h): whoever can write the store directory could plant a FIFO
// or a link under the journal's name, and every writer reads the journal.
Result<std::optional<std::string>> ReadJournalText(const std::string& dir) {
  auto file = internal::ReadBoundedFile(dir + "/" + std::string(kJournalName),
                                        {.what = "lock journal",
                                         .kind = ErrorKind::kStoreIo,
                                         .max_bytes = kMaxJournalBytes,
                                         .follow_symlinks = false});
  if (!file) {
    if (file.error().code == ENOENT) return std::optional<std::string>();
    return std::unexpected(file.error());
  }
  return std::optional<std::string>(std::move(file->text));
}

// Reads the journal into a map keyed by account, keeping the raw text so an
// unchanged journal is not rewritten.
Result<std::pair<std::string, std::map<std::string, JournalEntry, std::less<>>>> Load(
    const std::string& dir, UnixSeconds now) {
  auto text = ReadJournalText(dir);
  if (!text) return std::unexpected(text.error());
  std::map<std::string, JournalEntry, std::less<>> entries;
  std::string raw = text->value_or(std::string());
  for (auto& entry : ParseJournal(raw).entries) {
    if (Ended(entry, now)) continue;
    std::string account = entry.account;
    entries.insert_or_assign(std::move(account), std::move(entry));
  }
  return std::pair(std::move(raw), std::move(entries));
}

}  // namespace

std::optional<JournalEntry> JournalEntryOf(const AccountRecord& record) {
  if (!record.lock.locked) return std::nullopt;
  return JournalEntry{record.account, record.lock, record.lock_count, record.last_release};
}

AccountRecord RecordFromJournal(const JournalEntry& entry) {
  AccountRecord record;
  record.account = entry.account;
  record.first_seen = entry.lock.since;
  record.last_seen = entry.lock.since;
  record.lock = entry.lock;
  record.lock.locked = true;
  record.lock_count = entry.lock_count;
  record.last_release = entry.last_release;
  return record;
}

std::string FormatJournalLine(const JournalEntry& entry) {
  std::string line = "lock";
  AppendField(line, "account", entry.account);
  AppendNumber(line, "since", entry.lock.since);
  AppendNumber(line, "until", entry.lock.until);
  AppendField(line, "rule", entry.lock.rule);
  AppendField(line, "metric", MetricName(entry.lock.metric));
  AppendDouble(line, "value", entry.lock.value);
  AppendDouble(line, "limit", entry.lock.limit);
  AppendNumber(line, "window", entry.lock.window_seconds);
  AppendField(line, "by", entry.lock.by);
  AppendField(line, "reason", entry.lock.reason);
  AppendNumber(line, "count", entry.lock_count);
  AppendNumber(line, "released_at", entry.last_release.at);
  AppendField(line, "released_by", entry.last_release.by);
  AppendField(line, "release_reason", entry.last_release.reason);
  return line;
}

std::optional<JournalEntry> ParseJournalLine(std::string_view line) {
  if (!line.starts_with(kLinePrefix)) return std::nullopt;
  line.remove_prefix(kLinePrefix.size());
  JournalEntry entry;
  entry.lock.locked = true;
  bool have_since = false;
  while (!line.empty()) {
    const size_t space = line.find(' ');
    const std::string_view token = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (token.empty()) continue;
    const size_t eq = token.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = token.substr(0, eq);
    const auto value = Unescape(token.substr(eq + 1));
    if (!value) return std::nullopt;
    bool ok = true;
    if (key == "account") {
      entry.account = *value;
    } else if (key == "since") {
      ok = have_since = ParseNumber(*value, entry.lock.since);
    } else if (key == "until") {
      ok = ParseNumber(*value, entry.lock.until);
    } else if (key == "rule") {
      entry.lock.rule = *value;
    } else if (key == "metric") {
      // Descriptive only: a metric this version does not know keeps the lock.
      if (const auto metric = ParseMetric(*value)) entry.lock.metric = *metric;
    } else if (key == "value") {
      ok = ParseNumber(*value, entry.lock.value);
    } else if (key == "limit") {
      ok = ParseNumber(*value, entry.lock.limit);
    } else if (key == "window") {
      ok = ParseNumber(*value, entry.lock.window_seconds);
    } else if (key == "by") {
      entry.lock.by = *value;
    } else if (key == "reason") {
      entry.lock.reason = *value;
    } else if (key == "count") {
      ok = ParseNumber(*value, entry.lock_count);
    } else if (key == "released_at") {
      ok = ParseNumber(*value, entry.last_release.at);
    } else if (key == "released_by") {
      entry.last_release.by = *value;
    } else if (key == "release_reason") {
      entry.last_release.reason = *value;
    }  // unknown keys: written by a newer version, ignored
    if (!ok) return std::nullopt;
  }
  if (entry.account.empty() || !have_since) return std::nullopt;
  return entry;
}

bool JournalDiffers(const std::optional<JournalEntry>& a,
                    const std::optional<JournalEntry>& b) {
  if (a.has_value() != b.has_value()) return true;
  if (!a) return false;
  return FormatJournalLine(*a) != FormatJournalLine(*b);
}

std::string FormatJournal(const std::vector<JournalEntry>& entries) {
  std::string text(kJournalHeader);
  text += '\n';
  for (const auto& entry : entries) {
    text += FormatJournalLine(entry);
    text += '\n';
  }
  return text;
}

ParsedJournal ParseJournal(std::string_view text) {
  ParsedJournal parsed;
  std::map<std::string, size_t, std::less<>> index;  // account -> position
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto entry = ParseJournalLine(line);
    if (!entry) {
      ++parsed.bad_lines;
      continue;
    }
    if (auto it = index.find(entry->account); it != index.end()) {
      parsed.entries[it->second] = std::move(*entry);  // the last line wins
    } else {
      index.emplace(entry->account, parsed.entries.size());
      parsed.entries.push_back(std::move(*entry));
    }
  }
  return parsed;
}

Result<ParsedJournal> ReadJournal(const std::string& dir) {
  auto text = ReadJournalText(dir);
  if (!text) return std::unexpected(text.error());
  if (!*text) return ParsedJournal{};
  return ParseJournal(**text);
}

std::set<std::string, std::less<>> LockedAccounts(const ParsedJournal& journal,
                                                 UnixSeconds now) {
  std::set<std::string, std::less<>> accounts;
  for (const auto& entry : journal.entries) {
    if (!Ended(entry, now)) accounts.insert(entry.account);
  }
  return accounts;
}

std::optional<JournalEntry> FindLock(const ParsedJournal& journal, std::string_view account,
                                     UnixSeconds now) {
  for (const auto& entry : journal.entries) {
    if (entry.account == account && !Ended(entry, now)) return entry;
  }
  return std::nullopt;
}

Result<void> UpdateJournal(const std::string& dir, const DirInfo& info,
                           std::string_view account,
                           const std::optional<JournalEntry>& entry, UnixSeconds now) {
  auto loaded = Load(dir, now);
  if (!loaded) return std::unexpected(loaded.error());
  auto& [old_text, entries] = *loaded;
  if (auto it = entries.find(account); it != entries.end()) entries.erase(it);
  if (entry && !Ended(*entry, now)) {
    JournalEntry copy = *entry;
    copy.account = std::string(account);
    entries.insert_or_assign(copy.account, std::move(copy));
  }
  return Rewrite(dir, info, old_text, entries);
}

Result<void> RemoveFromJournal(const std::string& dir, const DirInfo& info,
                               const std::vector<std::string>& accounts,
                               UnixSeconds now) {
  auto loaded = Load(dir, now);
  if (!loaded) return std::unexpected(loaded.error());
  auto& [old_text, entries] = *loaded;
  for (const auto& account : accounts) {
    if (auto it = entries.find(account); it != entries.end()) entries.erase(it);
  }
  return Rewrite(dir, info, old_text, entries);
}

}  // namespace senderwatch::store_internal
