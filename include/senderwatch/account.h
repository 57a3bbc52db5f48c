// Account names come from Exim ($authenticated_id) and the command line.
// They are normalised once, here, so that "Alice" and "alice" share one
// record and nothing hostile (NUL, newlines, escape sequences, megabytes)
// reaches the store or a log line.
#ifndef SENDERWATCH_ACCOUNT_H_
#define SENDERWATCH_ACCOUNT_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "senderwatch/error.h"

namespace senderwatch {

// Longer names are refused: RFC 5321 bounds an address at 256 octets.
inline constexpr size_t kMaxAccountLength = 256;

// Trims surrounding whitespace, lowercases ASCII letters (UTF-8 bytes above
// 0x7f are kept as they are) and checks that the result is non-empty, at most
// kMaxAccountLength bytes, valid UTF-8 and free of control characters.
Result<std::string> NormalizeAccount(std::string_view raw);

// The same as NormalizeAccount, without a copy when `raw` is already in
// normal form (printable ASCII without capitals, the common case): the
// result views `raw` then, else `storage`, which must outlive the result.
Result<std::string_view> NormalizeAccountInto(std::string_view raw, std::string& storage);

// Makes arbitrary bytes safe to print on one log line: control characters,
// quotes, backslashes and invalid UTF-8 become \xNN escapes; long input is cut
// with "...". Used for every untrusted string that reaches a log.
std::string EscapeForLog(std::string_view raw, size_t max_length = 200);

}  // namespace senderwatch

#endif  // SENDERWATCH_ACCOUNT_H_
