// lsearch-style override files; see limits_file.h.
#include "eximlog/limits_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace senderwatch::eximlog {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

Result<OverridesByAccount> ParseLimitsFile(std::string_view text, std::string_view origin) {
  struct Entry {
    std::string key;
    std::string value;
    size_t line;
  };
  std::vector<Entry> entries;
  size_t number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == ' ' || line.front() == '\t') {
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string_view::npos) continue;
      if (entries.empty()) continue;  // continuation of nothing: lsearch ignores it
      entries.back().value += " ";
      entries.back().value += line.substr(start);
      continue;
    }
    std::string key;
    size_t pos = 0;
    if (line.front() == '"') {
      // A quoted key; backslash escapes the next character.
      for (pos = 1; pos < line.size() && line[pos] != '"'; ++pos) {
        if (line[pos] == '\\' && pos + 1 < line.size()) ++pos;
        key += line[pos];
      }
      if (pos < line.size()) ++pos;
    } else {
      while (pos < line.size() && line[pos] != ':' && line[pos] != ' ' && line[pos] != '\t') {
        key += line[pos++];
      }
    }
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    if (pos < line.size() && line[pos] == ':') ++pos;
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    entries.push_back({Lower(key), std::string(line.substr(pos)), number});
  }
  OverridesByAccount result;
  for (const Entry& entry : entries) {
    if (result.contains(entry.key)) continue;
    auto overrides = ParseLimitOverrides(entry.value);
    if (!overrides) {
      return MakeError(ErrorKind::kConfig, std::string(origin) + ":" + std::to_string(entry.line) +
                                               ": " + overrides.error().message);
    }
    result.emplace(entry.key, std::move(*overrides));
  }
  return result;
}

Result<OverridesByAccount> LoadLimitsFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorKind::kConfig,
                     "cannot read limits file " + path + ": " + std::strerror(errno), errno);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseLimitsFile(text.str(), path);
}

}  // namespace senderwatch::eximlog
