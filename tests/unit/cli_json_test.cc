// The JSON writer behind every --json output: escaping and structure must be
// exact, or scripts break on the first odd account name.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "cli/json.h"

namespace senderwatch::cli {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("tab\there\nnew\rret\bback\fform"),
            "\"tab\\there\\nnew\\rret\\bback\\fform\"");
  EXPECT_EQ(JsonQuote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(JsonQuote("\x1b[31m"), "\"\\u001b[31m\"");
  EXPECT_EQ(JsonQuote("\x7f"), "\"\\u007f\"");
}

TEST(JsonQuote, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonQuote("j\xc3\xbcrgen@b\xc3\xa4r.de"), "\"j\xc3\xbcrgen@b\xc3\xa4r.de\"");
  EXPECT_EQ(JsonQuote("\xf0\x9f\x93\xa7"), "\"\xf0\x9f\x93\xa7\"");  // U+1F4E7, 4 bytes
  EXPECT_EQ(JsonQuote("a\xff"
                      "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(JsonQuote("\xc3"), "\"\\ufffd\"");                        // truncated sequence
  EXPECT_EQ(JsonQuote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong '/'
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
}

TEST(JsonQuote, EscapesJavaScriptLineSeparators) {
  EXPECT_EQ(JsonQuote("a\xe2\x80\xa8"
                      "b\xe2\x80\xa9"),
            "\"a\\u2028b\\u2029\"");
}

TEST(JsonWriter, CompactDocumentHasCommasAndNesting) {
  JsonWriter json(/*pretty=*/false);
  json.BeginObject();
  json.Field("name", "alice");
  json.Field("count", uint64_t{3});
  json.Field("delta", int64_t{-2});
  json.Field("locked", true);
  json.Key("none").Null();
  json.Key("list").BeginArray().Int(1).Int(2).BeginObject().EndObject().EndArray();
  json.Key("empty").BeginArray().EndArray();
  json.EndObject();
  EXPECT_EQ(json.Take(), R"({"name":"alice","count":3,"delta":-2,"locked":true,"none":null,)"
                         R"("list":[1,2,{}],"empty":[]})");
}

TEST(JsonWriter, PrettyDocumentIsIndentedAndEndsWithNewline) {
  JsonWriter json;
  json.BeginObject();
  json.Field("a", 1);
  json.Key("b").BeginArray().String("x").EndArray();
  json.EndObject();
  EXPECT_EQ(json.Take(), "{\n  \"a\": 1,\n  \"b\": [\n    \"x\"\n  ]\n}\n");
}

TEST(JsonWriter, DoublesRoundTripAndNonFiniteBecomesNull) {
  JsonWriter json(false);
  json.BeginArray();
  json.Double(0.3).Double(0.45).Double(2.0).Double(1.0 / 3.0);
  json.Double(std::numeric_limits<double>::quiet_NaN());
  json.Double(std::numeric_limits<double>::infinity());
  json.EndArray();
  const std::string text = json.Take();
  EXPECT_EQ(text, "[0.3,0.45,2,0.3333333333333333,null,null]");
  EXPECT_EQ(std::stod("0.3333333333333333"), 1.0 / 3.0);
}

TEST(JsonWriter, OptionalFieldWritesNullWhenAbsent) {
  JsonWriter json(false);
  json.BeginObject();
  json.Field("a", std::optional<std::string>());
  json.Field("b", std::optional<std::string>("x"));
  json.EndObject();
  EXPECT_EQ(json.Take(), R"({"a":null,"b":"x"})");
}

TEST(JsonWriter, DrainStreamsWithoutBreakingStructure) {
  JsonWriter json(false);
  json.BeginObject().Key("records").BeginArray();
  std::string streamed;
  for (int i = 0; i < 3; ++i) {
    json.BeginObject().Field("i", i).EndObject();
    streamed += json.Drain();
  }
  json.EndArray().EndObject();
  streamed += json.Take();
  EXPECT_EQ(streamed, R"({"records":[{"i":0},{"i":1},{"i":2}]})");
}

TEST(JsonWriter, KeysAreEscapedToo) {
  JsonWriter json(false);
  json.BeginObject().Field("we\"ird\n", "v").EndObject();
  EXPECT_EQ(json.Take(), R"({"we\"ird\n":"v"})");
}

}  // namespace
}  // namespace senderwatch::cli
