// Failure classification: the enhanced status code (RFC 3463) first, then
// phrases real servers use. docs/tuning.md lists the table; the unit tests
// hold real reply texts.
#include "senderwatch/failure.h"

#include <array>
#include <string>

#include "senderwatch/ascii.h"

namespace senderwatch {
namespace {

struct Enhanced {
  int klass = 0;
  int subject = 0;
  int detail = 0;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads up to 3 digits at text[i]; returns digits read.
size_t Digits(std::string_view text, size_t i, int& value) {
  size_t n = 0;
  value = 0;
  while (i + n < text.size() && n < 3 && IsDigit(text[i + n])) {
    value = value * 10 + (text[i + n] - '0');
    ++n;
  }
  return n;
}

// The first "c.s.d" code with c in {2,4,5} standing alone (not inside an
// IP address or a version number).
bool FindEnhancedCode(std::string_view text, Enhanced& code) {
  for (size_t i = 0; i + 4 < text.size(); ++i) {
    const char c = text[i];
    if (c != '2' && c != '4' && c != '5') continue;
    if (i > 0 && (IsDigit(text[i - 1]) || text[i - 1] == '.')) continue;
    if (text[i + 1] != '.') continue;
    int subject = 0;
    int detail = 0;
    const size_t s = Digits(text, i + 2, subject);
    if (s == 0 || i + 2 + s >= text.size() || text[i + 2 + s] != '.') continue;
    const size_t d = Digits(text, i + 3 + s, detail);
    if (d == 0) continue;
    const size_t end = i + 3 + s + d;
    if (end < text.size() && (IsDigit(text[end]) || text[end] == '.')) continue;
    code = {c - '0', subject, detail};
    return true;
  }
  return false;
}

// The basic reply code after "SMTP error ...: " or at the start.
int FindBasicCode(std::string_view text) {
  for (size_t i = 0; i + 3 <= text.size(); ++i) {
    if ((text[i] == '4' || text[i] == '5') && IsDigit(text[i + 1]) && IsDigit(text[i + 2]) &&
        (i == 0 || text[i - 1] == ' ' || text[i - 1] == ':') &&
        (i + 3 == text.size() || text[i + 3] == ' ' || text[i + 3] == '-')) {
      return (text[i] - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
    }
  }
  return 0;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

template <size_t N>
bool ContainsAny(const std::string& haystack, const std::array<std::string_view, N>& needles) {
  for (std::string_view n : needles) {
    if (Contains(haystack, n)) return true;
  }
  return false;
}

// Failures Exim reports for reasons of its own, through msg:fail:internal,
// that say nothing about the recipient (deliver.c and queue.c, 4.96 to
// 4.98): an administrator removed the message (-Mrm, which `senderwatch
// queue --remove` runs) or cancelled it (-Mg), timeout_frozen_after ran out,
// a system filter failed it, or a mail loop. Matched at the start, in lower
// case.
constexpr std::array<std::string_view, 3> kEximOwnPrefixes = {
    "message removed by ",            // -Mrm
    "delivery cancelled",             // -Mg, timeout_frozen_after, a system filter's "fail"
    "too many \"received\" headers",  // a mail loop
};

constexpr std::array<std::string_view, 10> kNeutralPhrases = {
    "quota",      "mailbox full",  "mailbox is full", "insufficient storage", "greylist",
    "try again",  "too large",     "size limit",      "retry timeout",        "temporarily"};
constexpr std::array<std::string_view, 12> kSpamPhrases = {
    "spam",       "blacklist", "blocklist", "blocked",      "listed",     "reputation",
    "policy",     "junk",      "abuse",     "not accepted", "bulk mail",  "phish"};
constexpr std::array<std::string_view, 14> kDeadPhrases = {
    "user unknown",        "unknown user",       "no such user",        "does not exist",
    "unrouteable address", "unroutable address", "mailbox unavailable", "invalid recipient",
    "recipient unknown",   "no mailbox",         "address rejected",    "not found",
    "unknown recipient",   "no such recipient"};

}  // namespace

FailureKind ClassifyFailure(std::string_view reason) {
  // Empty: Exim raised the event without a message (a message a system
  // filter froze or ignored): nothing is known about the recipient.
  if (reason.empty()) return FailureKind::kNeutral;
  // ASCII only: the reason is bytes from a remote server, and the locale's
  // tolower() must not decide what they mean.
  const std::string text = AsciiLowercase(reason.substr(0, 2048));
  for (std::string_view prefix : kEximOwnPrefixes) {
    if (text.starts_with(prefix)) return FailureKind::kNeutral;
  }
  Enhanced code;
  if (FindEnhancedCode(reason, code)) {
    if (code.klass == 4 || code.klass == 2) return FailureKind::kNeutral;
    switch (code.subject) {
      case 1: return FailureKind::kDeadAddress;  // addressing: unknown user, bad domain
      case 7: return FailureKind::kSpamReject;   // security or policy
      case 2:  // mailbox: 5.2.1 disabled is dead; full, too large: neutral
        return code.detail == 1 ? FailureKind::kDeadAddress : FailureKind::kNeutral;
      case 4:  // routing: 5.4.4 unable to route is a dead domain
        return code.detail == 4 ? FailureKind::kDeadAddress : FailureKind::kNeutral;
      default: return FailureKind::kNeutral;   // system, protocol, content
    }
  }
  const int basic = FindBasicCode(text);
  if (basic >= 400 && basic < 500) return FailureKind::kNeutral;
  if (ContainsAny(text, kNeutralPhrases)) return FailureKind::kNeutral;
  if (ContainsAny(text, kDeadPhrases)) return FailureKind::kDeadAddress;
  if (ContainsAny(text, kSpamPhrases)) return FailureKind::kSpamReject;
  return FailureKind::kDeadAddress;
}

std::string_view FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kDeadAddress: return "dead";
    case FailureKind::kSpamReject: return "spam";
    case FailureKind::kNeutral: return "neutral";
  }
  return "dead";
}

}  // namespace senderwatch
