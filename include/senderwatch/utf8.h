// UTF-8 validation shared by everything that must not pass invalid bytes
// on: account names, log escaping, terminal tables and JSON output.
#ifndef SENDERWATCH_UTF8_H_
#define SENDERWATCH_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace senderwatch {

// Length of the valid UTF-8 sequence starting at text[i], or 0 when the
// bytes there are not one (overlong forms, surrogates, code points above
// U+10FFFF and truncated sequences are invalid). Sets *code to the code
// point when `code` is not null. Precondition: i < text.size().
size_t Utf8SequenceLength(std::string_view text, size_t i, uint32_t* code = nullptr);

}  // namespace senderwatch

#endif  // SENDERWATCH_UTF8_H_
