// ASCII case folding, the one way senderwatch lowercases. Account names,
// addresses, lookup keys and bounce reasons are bytes from clients and
// remote servers: the locale's tolower() must not decide what they mean,
// and bytes of multibyte UTF-8 characters must pass through untouched.
// Exim's caseless lookups fold ASCII only, too.
//
// Thread-safe; no state.
#ifndef SENDERWATCH_ASCII_H_
#define SENDERWATCH_ASCII_H_

#include <string>
#include <string_view>

namespace senderwatch {

constexpr char AsciiLower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

}  // namespace senderwatch

#endif  // SENDERWATCH_ASCII_H_
