// Account normalisation and log escaping: the two gates every untrusted
// string passes before it reaches the store key space or a log line.
#include "senderwatch/account.h"

#include <cstdint>

#include "senderwatch/ascii.h"
#include "senderwatch/utf8.h"

namespace senderwatch {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

Result<std::string> NormalizeAccount(std::string_view raw) {
  while (!raw.empty() && IsSpace(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && IsSpace(raw.back())) raw.remove_suffix(1);
  if (raw.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "empty account name");
  }
  if (raw.size() > kMaxAccountLength) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "account name too long (" + std::to_string(raw.size()) +
                         " bytes, at most " + std::to_string(kMaxAccountLength) + ")");
  }
  std::string account;
  account.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    const auto c = static_cast<uint8_t>(raw[i]);
    if (c < 0x20 || c == 0x7F) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "account name contains a control character: " + EscapeForLog(raw));
    }
    const size_t length = Utf8SequenceLength(raw, i);
    if (length == 0) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "account name is not valid UTF-8: " + EscapeForLog(raw));
    }
    if (length == 1) {
      account.push_back(AsciiLower(static_cast<char>(c)));
    } else {
      account.append(raw.substr(i, length));
    }
    i += length;
  }
  return account;
}

Result<std::string_view> NormalizeAccountInto(std::string_view raw, std::string& storage) {
  bool plain = !raw.empty() && raw.size() <= kMaxAccountLength;
  for (size_t i = 0; plain && i < raw.size(); ++i) {
    const char c = raw[i];
    plain = c > ' ' && c < 0x7F && !(c >= 'A' && c <= 'Z');
  }
  if (plain) return raw;
  auto normalized = NormalizeAccount(raw);
  if (!normalized) return std::unexpected(normalized.error());
  storage = std::move(*normalized);
  return std::string_view(storage);
}

std::string EscapeForLog(std::string_view raw, size_t max_length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(raw.size(), max_length) + 8);
  for (size_t i = 0; i < raw.size();) {
    if (out.size() >= max_length) {
      out += "...";
      break;
    }
    const auto c = static_cast<uint8_t>(raw[i]);
    const size_t length = Utf8SequenceLength(raw, i);
    if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || length == 0) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
      continue;
    }
    out.append(raw.substr(i, length));
    i += length;
  }
  return out;
}

}  // namespace senderwatch
