// Exim's lsearch file format, read once for every file of that kind; see
// senderwatch/lsearch.h (and lsearch.c, "lsearch" in Exim's spec).
#include "senderwatch/lsearch.h"

#include <set>

#include "senderwatch/ascii.h"

namespace senderwatch {
namespace {

// C's isspace() in the "C" locale, which is what Exim tests.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char lower = AsciiLower(c);
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

// One escape after a backslash in a quoted key, as Exim's
// string_interpret_escape reads it; advances `s` past it.
char Unescape(std::string_view& s) {
  const char c = s.front();
  s.remove_prefix(1);
  if (c >= '0' && c <= '7') {
    int value = c - '0';
    for (int i = 0; i < 2 && !s.empty() && s.front() >= '0' && s.front() <= '7'; ++i) {
      value = value * 8 + (s.front() - '0');
      s.remove_prefix(1);
    }
    return static_cast<char>(value);
  }
  switch (c) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    case 'x': {
      int value = 0;
      for (int i = 0; i < 2 && !s.empty() && HexValue(s.front()) >= 0; ++i) {
        value = value * 16 + HexValue(s.front());
        s.remove_prefix(1);
      }
      return static_cast<char>(value);
    }
    default: return c;
  }
}

// Splits a key line into its key (lower case) and the rest, past the
// white space and the optional colon that follow the key.
LsearchEntry ParseKeyLine(std::string_view s) {
  LsearchEntry entry;
  if (s.front() == '"') {
    s.remove_prefix(1);
    while (!s.empty() && s.front() != '"') {
      const char c = s.front();
      s.remove_prefix(1);
      entry.key += c == '\\' && !s.empty() ? Unescape(s) : c;
    }
    if (!s.empty()) s.remove_prefix(1);  // the closing quote
  } else {
    size_t end = 0;
    while (end < s.size() && s[end] != ':' && !IsSpace(s[end])) ++end;
    entry.key.assign(s.substr(0, end));
    s.remove_prefix(end);
  }
  for (char& c : entry.key) c = AsciiLower(c);
  s = TrimLeft(s);
  if (!s.empty() && s.front() == ':') s = TrimLeft(s.substr(1));
  entry.value.assign(s);
  return entry;
}

}  // namespace

std::vector<LsearchEntry> ParseLsearch(std::string_view text) {
  std::vector<LsearchEntry> entries;
  std::set<std::string, std::less<>> seen;
  // The entry whose continuation lines are still being joined; null once
  // an empty or '#' line ended them (lsearch then skips indented lines).
  LsearchEntry* open = nullptr;
  size_t number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = TrimRight(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (line.empty() || line.front() == '#') {
      open = nullptr;
      continue;
    }
    if (IsSpace(line.front())) {
      if (open != nullptr) {
        open->value += ' ';
        open->value += TrimLeft(line);
      }
      continue;
    }
    LsearchEntry entry = ParseKeyLine(line);
    entry.line = number;
    if (!seen.insert(entry.key).second) {
      open = nullptr;  // lsearch never reaches a later line of the same key
      continue;
    }
    entries.push_back(std::move(entry));
    open = &entries.back();
  }
  return entries;
}

}  // namespace senderwatch
