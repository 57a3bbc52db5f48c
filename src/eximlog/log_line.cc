// The main-log line scanner; see log_line.h for what it understands.
//
// Exim builds these lines in receive.c (arrivals), deliver.c (deliveries,
// failures, deferrals; string_log_address for the "addr (parents) <top>"
// form) and smtp_in.c (rejections, authenticator failures). Field order is
// fixed by that code, which is what lets the scanner skip client-controlled
// text by syntax instead of searching through it.
#include "eximlog/log_line.h"

#include <cstring>

namespace senderwatch::eximlog {
namespace {

constexpr size_t npos = std::string_view::npos;

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool StartsWith(std::string_view s, size_t pos, std::string_view prefix) {
  return s.size() - pos >= prefix.size() && std::memcmp(s.data() + pos, prefix.data(), prefix.size()) == 0;
}

// The end of a double-quoted string starting at s[pos] == '"' (the position
// after the closing quote; backslash escapes the next byte). An unterminated
// string runs to the end.
size_t SkipQuoted(std::string_view s, size_t pos) {
  for (++pos; pos < s.size(); ++pos) {
    if (s[pos] == '\\') {
      ++pos;
    } else if (s[pos] == '"') {
      return pos + 1;
    }
  }
  return s.size();
}

// The end of a token: the next space outside double quotes. Addresses with a
// quoted local part ("a b"@x, <"a b"@x>) and quoted field values (T="...")
// are one token.
size_t TokenEnd(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    const char c = s[pos];
    if (c == ' ') return pos;
    if (c == '"') {
      pos = SkipQuoted(s, pos);
    } else {
      ++pos;
    }
  }
  return pos;
}

// True for a "KEY=" token: upper-case letters or digits (at least one, first a
// letter), then '='. "id=" (lower case) is checked separately.
bool IsFieldToken(std::string_view token) {
  size_t i = 0;
  while (i < token.size() && ((token[i] >= 'A' && token[i] <= 'Z') || (i > 0 && IsDigit(token[i])))) {
    ++i;
  }
  return i > 0 && i < token.size() && token[i] == '=';
}

// The address between '[' and ']' at s[pos], moving pos past it and a
// ":port". Empty view when s[pos] is not '['.
std::string_view BracketedAddress(std::string_view s, size_t& pos) {
  if (pos >= s.size() || s[pos] != '[') return {};
  const size_t close = s.find(']', pos + 1);
  if (close == npos) return {};
  std::string_view ip = s.substr(pos + 1, close - pos - 1);
  pos = close + 1;
  if (pos + 1 < s.size() && s[pos] == ':' && IsDigit(s[pos + 1])) {
    ++pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
  }
  return ip;
}

// Exim's sender_fullhost at s[pos]: "[ip]", "name [ip]", "(helo) [ip]" or
// "name (helo) [ip]", the address optionally followed by ":port". The HELO
// name is client-controlled and may hold anything but is closed by ") [".
// Returns the address and moves pos past the host; empty when it does not
// parse (pos unchanged).
std::string_view ParseHost(std::string_view s, size_t& pos) {
  size_t p = pos;
  if (p < s.size() && s[p] != '[' && s[p] != '(') {
    const size_t space = s.find(' ', p);
    if (space == npos) return {};
    p = space + 1;
  }
  if (p < s.size() && s[p] == '(') {
    const size_t close = s.find(") [", p);
    if (close == npos) return {};
    p = close + 2;
  }
  std::string_view ip = BracketedAddress(s, p);
  if (ip.empty()) return {};
  pos = p;
  return ip;
}

// Splits "A=authenticator:id[:authenticated_sender]" (the value after "A=").
// Exim appends ":authenticated_sender" under +smtp_mailauth; an id holding
// a ':' followed by an address is read as that suffix.
void SplitAuth(std::string_view value, LogLine& out) {
  const size_t colon = value.find(':');
  if (colon == npos) {
    out.authenticator = value;
    out.auth_id = {};
    return;
  }
  out.authenticator = value.substr(0, colon);
  std::string_view id = value.substr(colon + 1);
  const size_t last = id.rfind(':');
  if (last != npos) {
    const std::string_view tail = id.substr(last + 1);
    if (tail == "<>" || tail.find('@') != npos) id = id.substr(0, last);
  }
  out.auth_id = id;
}

uint32_t CountWords(std::string_view list) {
  uint32_t count = 0;
  size_t pos = 0;
  while (pos < list.size()) {
    while (pos < list.size() && list[pos] == ' ') ++pos;
    if (pos >= list.size()) break;
    ++count;
    pos = TokenEnd(list, pos);
  }
  return count;
}

// "<= sender [R=id] [H=host] [U=ident] [P=proto] ... [A=auth:id] ... S=n ...
// [T="subject"] [from <sender>] [for rcpt...]". `pos` is just after "<= ".
bool ParseArrival(std::string_view s, size_t pos, LogLine& out) {
  const size_t sender_end = TokenEnd(s, pos);
  if (sender_end == pos) return false;
  out.sender = s.substr(pos, sender_end - pos);
  pos = sender_end;
  bool seen_size = false;
  while (pos < s.size()) {
    if (s[pos] == ' ') {
      ++pos;
      continue;
    }
    if (StartsWith(s, pos, "H=")) {
      size_t p = pos + 2;
      std::string_view ip = ParseHost(s, p);
      if (!ip.empty()) {
        out.client_ip = ip;
        pos = p;
        continue;
      }
    } else if (StartsWith(s, pos, "for ")) {
      // +received_recipients: the rest of the line.
      out.recipients = s.substr(pos + 4);
      out.has_recipient_list = true;
      out.recipient_count = CountWords(out.recipients);
      return true;
    } else if (StartsWith(s, pos, "from ")) {
      pos = TokenEnd(s, pos + 5);
      continue;
    }
    const size_t end = TokenEnd(s, pos);
    const std::string_view token = s.substr(pos, end - pos);
    if (token.size() > 2 && token[1] == '=') {
      const std::string_view value = token.substr(2);
      switch (token[0]) {
        case 'R': out.bounce_of = value; break;
        case 'U': out.ident = value; break;
        case 'P': out.protocol = value; break;
        case 'S': seen_size = true; break;
        case 'A':
          // A= precedes S=; after it only client-controlled fields follow.
          if (!seen_size) SplitAuth(value, out);
          break;
        default: break;
      }
    }
    pos = end;
  }
  return true;
}

// The address part of a delivery, failure or deferral line:
// "addr [(parent, parent)] [<top>]", then fields or ": reason". Sets
// address, top_address and, when the line has one, reason.
bool ParseDeliveryAddress(std::string_view s, size_t pos, LogLine& out) {
  size_t end = TokenEnd(s, pos);
  if (end == pos) return false;
  std::string_view address = s.substr(pos, end - pos);
  bool reason_next = false;
  if (address.size() > 1 && address.back() == ':') {
    address.remove_suffix(1);
    reason_next = true;
  }
  out.address = address;
  out.top_address = address;
  pos = end;
  std::string_view previous;
  bool first = true;       // the token right after the address
  bool in_fields = false;  // past the parents and the top address
  while (pos < s.size()) {
    if (s[pos] == ' ') {
      ++pos;
      continue;
    }
    if (reason_next) {
      out.reason = s.substr(pos);
      // +deliver_time puts " DT=1.234s" after the text of "**" lines.
      const size_t dt = out.reason.rfind(" DT=");
      if (dt != npos && out.reason.find(' ', dt + 1) == npos) out.reason = out.reason.substr(0, dt);
      // "defer (-52): retry time not reached" and friends: Exim did not try.
      if (StartsWith(previous, 0, "(-5") &&
          StartsWith(out.reason, 0, "retry time not reached")) {
        out.retry_skipped = true;
      }
      return true;
    }
    if (first && s[pos] == '(') {
      // Intermediate parents "(a, b)" may hold spaces.
      const size_t close = s.find(')', pos);
      end = close == npos ? s.size() : close + 1;
      if (end < s.size() && s[end] == ':') ++end;
    } else {
      end = TokenEnd(s, pos);
    }
    first = false;
    std::string_view token = s.substr(pos, end - pos);
    if (token.size() > 1 && token.back() == ':') {
      token.remove_suffix(1);
      reason_next = true;
    }
    if (!in_fields) {
      if (IsFieldToken(token)) {
        in_fields = true;
      } else if (token.size() > 2 && token.front() == '<' && token.back() == '>') {
        out.top_address = token.substr(1, token.size() - 2);
      }
    }
    previous = token;
    pos = end;
  }
  return true;
}

// "H=host [U=ident] F=<sender> [A=auth:id] [temporarily ]rejected RCPT <r>: reason"
bool ParseRejectedRcpt(std::string_view s, size_t pos, LogLine& out) {
  while (pos < s.size()) {
    if (s[pos] == ' ') {
      ++pos;
      continue;
    }
    if (StartsWith(s, pos, "H=")) {
      size_t p = pos + 2;
      std::string_view ip = ParseHost(s, p);
      if (ip.empty()) return false;
      out.client_ip = ip;
      pos = p;
      continue;
    }
    if (StartsWith(s, pos, "temporarily rejected RCPT ")) {
      out.temporary = true;
      pos += 26;
      break;
    }
    if (StartsWith(s, pos, "rejected RCPT ")) {
      pos += 14;
      break;
    }
    const size_t end = TokenEnd(s, pos);
    const std::string_view token = s.substr(pos, end - pos);
    if (StartsWith(token, 0, "F=<")) {
      out.sender = token.substr(3, token.size() > 4 ? token.size() - 4 : 0);
    } else if (StartsWith(token, 0, "A=")) {
      SplitAuth(token.substr(2), out);
    } else if (StartsWith(token, 0, "U=")) {
      out.ident = token.substr(2);
    } else if (!IsFieldToken(token) && token != "DS") {
      return false;  // not the rejection layout
    }
    pos = end;
  }
  if (pos >= s.size() || s[pos] != '<') return false;
  const size_t end = TokenEnd(s, pos);
  std::string_view rcpt = s.substr(pos, end - pos);
  if (!rcpt.empty() && rcpt.back() == ':') rcpt.remove_suffix(1);
  if (rcpt.size() < 2 || rcpt.back() != '>') return false;
  out.address = rcpt.substr(1, rcpt.size() - 2);
  out.top_address = out.address;
  if (end + 1 < s.size()) out.reason = s.substr(end + 1);
  return true;
}

// "NAME authenticator failed for HOST[ I=...]: 535 ... (set_id=USER)"
bool ParseAuthFailure(std::string_view s, size_t pos, size_t marker, LogLine& out) {
  static constexpr std::string_view kMarker = " authenticator failed for ";
  if (s.find(' ', pos) != marker) return false;  // the name is one word
  out.authenticator = s.substr(pos, marker - pos);
  size_t p = marker + kMarker.size();
  out.client_ip = ParseHost(s, p);
  const size_t colon = s.find(": ", p);
  if (colon == npos) return true;
  out.reason = s.substr(colon + 2);
  static constexpr std::string_view kSetId = " (set_id=";
  const size_t set_id = out.reason.find(kSetId);
  if (set_id != npos && out.reason.back() == ')') {
    const size_t start = set_id + kSetId.size();
    out.user = out.reason.substr(start, out.reason.size() - 1 - start);
  }
  return true;
}

}  // namespace

bool IsMessageId(std::string_view t) {
  size_t second_dash = 0;
  if (t.size() == 16) {
    second_dash = 13;
  } else if (t.size() == 23) {
    second_dash = 18;
  } else {
    return false;
  }
  if (t[6] != '-' || t[second_dash] != '-') return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i == 6 || i == second_dash) continue;
    if (!IsAlnum(t[i])) return false;
  }
  return true;
}

size_t ParseHeader(std::string_view line, TimestampParser& times, LogLine& out) {
  out = LogLine{};
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t pos = times.Parse(line, out.time);
  if (pos == 0) {
    out.kind = LineKind::kMalformed;
    return 0;
  }
  out.kind = LineKind::kOther;
  // +pid: "[1234] "
  if (pos < line.size() && line[pos] == '[') {
    size_t p = pos + 1;
    while (p < line.size() && IsDigit(line[p])) ++p;
    if (p > pos + 1 && p + 1 < line.size() && line[p] == ']' && line[p + 1] == ' ') pos = p + 2;
  }
  // The message id, when the line is about a message.
  for (const size_t length : {size_t{16}, size_t{23}}) {
    if (line.size() - pos >= length + 1 && line[pos + length] == ' ' &&
        IsMessageId(line.substr(pos, length))) {
      out.message_id = line.substr(pos, length);
      pos += length + 1;
      break;
    }
  }
  const std::string_view rest = line.substr(pos);
  if (!out.message_id.empty()) {
    const bool marker = rest.size() >= 3 && rest[2] == ' ';
    const char a = marker ? rest[0] : '\0';
    const char b = marker ? rest[1] : '\0';
    if (marker && ((a == '<' && b == '=') || (a == '(' && b == '='))) {
      out.kind = LineKind::kArrival;
    } else if (marker && ((a == '=' && b == '>') || (a == '-' && b == '>') ||
                          (a == '>' && b == '>') || (a == '*' && b == '>'))) {
      out.cutthrough = a == '>';
      out.kind = LineKind::kDelivery;
    } else if (marker && a == '*' && b == '*') {
      out.kind = LineKind::kFailure;
    } else if (marker && a == '=' && b == '=') {
      out.kind = LineKind::kDeferral;
    } else if (StartsWith(rest, 0, "Completed") && (rest.size() == 9 || rest[9] == ' ')) {
      out.kind = LineKind::kCompleted;
    }
    return pos;
  }
  // Lines without a message id: SMTP-time rejections and AUTH failures.
  if (rest.find("rejected RCPT <") != npos) {
    out.kind = LineKind::kRejectedRcpt;
  } else if (rest.find(" authenticator failed for ") != npos) {
    out.kind = LineKind::kAuthFailure;
  }
  return pos;
}

void ParseBody(std::string_view line, size_t body, LogLine& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  bool ok = true;
  switch (out.kind) {
    case LineKind::kArrival:
      ok = ParseArrival(line, body + 3, out);
      break;
    case LineKind::kDelivery:
    case LineKind::kFailure:
    case LineKind::kDeferral:
      ok = ParseDeliveryAddress(line, body + 3, out);
      break;
    case LineKind::kRejectedRcpt:
      ok = ParseRejectedRcpt(line, body, out);
      break;
    case LineKind::kAuthFailure: {
      const size_t marker = line.find(" authenticator failed for ", body);
      ok = marker != npos && ParseAuthFailure(line, body, marker, out);
      break;
    }
    case LineKind::kMalformed:
    case LineKind::kOther:
    case LineKind::kCompleted:
      break;
  }
  if (!ok) out.kind = LineKind::kMalformed;
}

void ParseBodyForAccounts(std::string_view line, size_t body, LogLine& out) {
  // Local submissions ("U=login P=local") belong to their login: parse those.
  if (out.kind == LineKind::kArrival && line.find(" A=", body) == npos &&
      line.find(" P=local ", body) == npos) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t pos = body + 3;
    const size_t sender_end = pos < line.size() ? TokenEnd(line, pos) : pos;
    if (sender_end == pos) {
      out.kind = LineKind::kMalformed;
      return;
    }
    out.sender = line.substr(pos, sender_end - pos);
    if (StartsWith(line, sender_end, " R=")) {
      out.bounce_of = line.substr(sender_end + 3, TokenEnd(line, sender_end + 3) - sender_end - 3);
    }
    return;
  }
  ParseBody(line, body, out);
}

void ParseLine(std::string_view line, TimestampParser& times, LogLine& out) {
  const size_t body = ParseHeader(line, times, out);
  ParseBody(line, body, out);
}

}  // namespace senderwatch::eximlog
