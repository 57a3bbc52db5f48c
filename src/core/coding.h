// The byte-level encoding shared by everything senderwatch writes to disk:
// fixed-width little-endian integers, IEEE 754 doubles as their bit pattern,
// and strings prefixed by a u16 length (docs/format.md). The record codec,
// the history codec and the store's meta values and set-aside frames all
// write and read through here, so the wire format is decided in one place;
// a second store backend (Redis) stores the same bytes.
//
// Writers append to a std::string. ByteReader reads from bytes that may be
// hostile (a damaged or forged record): every read is bounds-checked and a
// short input fails cleanly, never reading past the end. Everything is
// inline: the record codec runs on every Exim call and reads field by field.
//
// Private to the project (src/, not include/): not part of the public API.
#ifndef SENDERWATCH_SRC_CORE_CODING_H_
#define SENDERWATCH_SRC_CORE_CODING_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace senderwatch::coding {

namespace detail {

// One append per field, not one per byte: every check_sender encodes its
// record, and push_back's per-byte capacity checks showed in the profile.
inline void PutLittleEndian(std::string& dst, uint64_t value, size_t bytes) {
  char le[8];
  for (size_t i = 0; i < bytes; ++i) le[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  dst.append(le, bytes);
}

// The caller has checked that `src` holds at least `bytes` bytes.
inline uint64_t LoadLittleEndian(const char* src, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) {
    value |= uint64_t{static_cast<uint8_t>(src[i])} << (8 * i);
  }
  return value;
}

}  // namespace detail

// ---- writing: each appends to `dst` ------------------------------------------

inline void PutFixed8(std::string& dst, uint8_t value) { dst.push_back(static_cast<char>(value)); }
inline void PutFixed16(std::string& dst, uint16_t value) { detail::PutLittleEndian(dst, value, 2); }
inline void PutFixed32(std::string& dst, uint32_t value) { detail::PutLittleEndian(dst, value, 4); }
inline void PutFixed64(std::string& dst, uint64_t value) { detail::PutLittleEndian(dst, value, 8); }
// Signed values are stored as their two's complement bit pattern.
inline void PutInt64(std::string& dst, int64_t value) {
  PutFixed64(dst, static_cast<uint64_t>(value));
}
inline void PutDouble(std::string& dst, double value) {
  PutFixed64(dst, std::bit_cast<uint64_t>(value));
}
inline void PutZeros(std::string& dst, size_t count) { dst.append(count, '\0'); }
// A u16 length and the bytes. `value` must have at most 65535 bytes (the
// formats cap their strings far below that).
inline void PutLengthPrefixed16(std::string& dst, std::string_view value) {
  PutFixed16(dst, static_cast<uint16_t>(value.size()));
  dst.append(value);
}

// Whole values (the store's meta entries) as new strings.
inline std::string EncodeFixed32(uint32_t value) {
  std::string out;
  PutFixed32(out, value);
  return out;
}
inline std::string EncodeInt64(int64_t value) {
  std::string out;
  PutInt64(out, value);
  return out;
}

// Whole values that must be exactly that wide: nullopt for any other size.
inline std::optional<uint32_t> DecodeFixed32(std::string_view bytes) {
  if (bytes.size() != 4) return std::nullopt;
  return static_cast<uint32_t>(detail::LoadLittleEndian(bytes.data(), 4));
}
inline std::optional<int64_t> DecodeInt64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  return static_cast<int64_t>(detail::LoadLittleEndian(bytes.data(), 8));
}

// ---- reading ----------------------------------------------------------------

// Reads fields one after another from `input`. The first read that does not
// fit fails the reader for good: ok() turns false, that read and every later
// one return zero (or an empty string) and nothing is consumed any more. So
// a decoder reads all its fields and checks ok() once, as long as nothing it
// does in between depends on a value being real (check ok() first there).
class ByteReader {
 public:
  explicit ByteReader(std::string_view input) : input_(input) {}
  // The reader views its input: a temporary string would be gone before
  // the first read (ASan found one in a test).
  explicit ByteReader(std::string&&) = delete;

  bool ok() const { return ok_; }
  size_t remaining() const { return input_.size() - pos_; }

  uint8_t Fixed8() { return static_cast<uint8_t>(Load(1)); }
  uint16_t Fixed16() { return static_cast<uint16_t>(Load(2)); }
  uint32_t Fixed32() { return static_cast<uint32_t>(Load(4)); }
  uint64_t Fixed64() { return Load(8); }
  int64_t Int64() { return static_cast<int64_t>(Load(8)); }
  double Double() { return std::bit_cast<double>(Load(8)); }

  // The next `count` bytes, valid as long as the input is.
  std::string_view Bytes(size_t count) {
    if (!Take(count)) return {};
    return input_.substr(pos_ - count, count);
  }
  void Skip(size_t count) { Take(count); }

  // A u16 length and that many bytes; a length above `max` fails the reader.
  std::string_view LengthPrefixed16(size_t max) {
    const uint16_t length = Fixed16();
    if (length > max) {
      Fail();
      return {};
    }
    return Bytes(length);
  }

 private:
  bool Take(size_t count) {
    if (!ok_ || remaining() < count) {
      Fail();
      return false;
    }
    pos_ += count;
    return true;
  }
  uint64_t Load(size_t bytes) {
    if (!Take(bytes)) return 0;
    return detail::LoadLittleEndian(input_.data() + pos_ - bytes, bytes);
  }
  void Fail() {
    ok_ = false;
    pos_ = input_.size();
  }

  std::string_view input_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace senderwatch::coding

#endif  // SENDERWATCH_SRC_CORE_CODING_H_
