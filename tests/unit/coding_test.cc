// The shared byte encoding (src/core/coding.h): the bytes on the wire are
// the ones docs/format.md documents, and reads of short or hostile input
// fail cleanly instead of reading past the end.
#include "core/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace senderwatch::coding {
namespace {

std::string Bytes(std::initializer_list<uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST(Coding, WritesLittleEndianAsTheFormatDocuments) {
  // docs/format.md: "All integers are little-endian"; the meta key "format"
  // holds u32 1.
  EXPECT_EQ(EncodeFixed32(1), Bytes({0x01, 0x00, 0x00, 0x00}));
  std::string out;
  PutFixed8(out, 0xAB);
  PutFixed16(out, 0x0102);
  PutFixed32(out, 0x01020304);
  PutFixed64(out, 0x0102030405060708ULL);
  EXPECT_EQ(out, Bytes({0xAB, 0x02, 0x01, 0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05, 0x04,
                        0x03, 0x02, 0x01}));
  // i64 as two's complement; f64 as its IEEE 754 bit pattern (1.0 is
  // 0x3FF0000000000000).
  EXPECT_EQ(EncodeInt64(-2), Bytes({0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
  out.clear();
  PutDouble(out, 1.0);
  EXPECT_EQ(out, Bytes({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F}));
  // Strings: u16 length, then the bytes.
  out.clear();
  PutLengthPrefixed16(out, "abc");
  EXPECT_EQ(out, Bytes({0x03, 0x00, 'a', 'b', 'c'}));
}

TEST(Coding, ReadsBackWhatItWrote) {
  std::string out;
  PutFixed8(out, 0xFF);
  PutFixed16(out, 0xFFFE);
  PutFixed32(out, 0xDEADBEEF);
  PutFixed64(out, std::numeric_limits<uint64_t>::max() - 1);
  PutInt64(out, std::numeric_limits<int64_t>::min());
  PutDouble(out, -0.3);
  PutZeros(out, 3);
  PutLengthPrefixed16(out, "bounce-ratio");
  PutLengthPrefixed16(out, "");
  ByteReader in(out);
  EXPECT_EQ(in.Fixed8(), 0xFF);
  EXPECT_EQ(in.Fixed16(), 0xFFFE);
  EXPECT_EQ(in.Fixed32(), 0xDEADBEEFu);
  EXPECT_EQ(in.Fixed64(), std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(in.Int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(in.Double(), -0.3);
  EXPECT_EQ(in.Bytes(3), std::string(3, '\0'));
  EXPECT_EQ(in.LengthPrefixed16(64), "bounce-ratio");
  EXPECT_EQ(in.LengthPrefixed16(64), "");
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.remaining(), 0u);
}

TEST(Coding, ShortInputFailsTheReaderForGood) {
  const std::string three = Bytes({0x01, 0x02, 0x03});
  ByteReader in(three);
  EXPECT_EQ(in.Fixed16(), 0x0201);
  EXPECT_EQ(in.Fixed32(), 0u);  // 1 byte left: fails, consumes nothing useful
  EXPECT_FALSE(in.ok());
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(in.Fixed8(), 0u);  // stays failed although a byte was there
  EXPECT_FALSE(in.ok());

  for (size_t size = 0; size < 8; ++size) {
    const std::string input(size, '\xff');  // outlives the reader, which views it
    ByteReader shorter(input);
    EXPECT_EQ(shorter.Fixed64(), 0u) << size;
    EXPECT_FALSE(shorter.ok()) << size;
  }
  ByteReader skip(three);
  skip.Skip(4);
  EXPECT_FALSE(skip.ok());
  ByteReader bytes(three);
  EXPECT_EQ(bytes.Bytes(4), "");
  EXPECT_FALSE(bytes.ok());
}

TEST(Coding, LengthPrefixedStringsAreBoundedByTheInputAndTheLimit) {
  // The length says 5, only 2 bytes follow.
  // Each input is named: a ByteReader views its bytes and must not outlive them.
  const std::string truncated_bytes = Bytes({0x05, 0x00, 'a', 'b'});
  ByteReader truncated(truncated_bytes);
  EXPECT_EQ(truncated.LengthPrefixed16(64), "");
  EXPECT_FALSE(truncated.ok());
  // Longer than the field allows, although the bytes are there.
  const std::string too_long_bytes = Bytes({0x03, 0x00, 'a', 'b', 'c'});
  ByteReader too_long(too_long_bytes);
  EXPECT_EQ(too_long.LengthPrefixed16(2), "");
  EXPECT_FALSE(too_long.ok());
  // A length that would run past the end of any buffer.
  const std::string huge_bytes = Bytes({0xFF, 0xFF, 'a'});
  ByteReader huge(huge_bytes);
  EXPECT_EQ(huge.LengthPrefixed16(0xFFFF), "");
  EXPECT_FALSE(huge.ok());
}

TEST(Coding, WholeValuesMustHaveExactlyTheirWidth) {
  EXPECT_EQ(DecodeFixed32(Bytes({0x04, 0x03, 0x02, 0x01})), 0x01020304u);
  EXPECT_EQ(DecodeFixed32(Bytes({0x01, 0x00, 0x00})), std::nullopt);
  EXPECT_EQ(DecodeFixed32(Bytes({0x01, 0x00, 0x00, 0x00, 0x00})), std::nullopt);
  EXPECT_EQ(DecodeInt64(EncodeInt64(1764237600)), 1764237600);
  EXPECT_EQ(DecodeInt64(EncodeInt64(-1)), -1);
  EXPECT_EQ(DecodeInt64(std::string(7, '\0')), std::nullopt);
  EXPECT_EQ(DecodeInt64(std::string(9, '\0')), std::nullopt);
  EXPECT_EQ(DecodeInt64(""), std::nullopt);
}

}  // namespace
}  // namespace senderwatch::coding
