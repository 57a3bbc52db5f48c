// A tiny streaming JSON writer for `--json` output. The CLI's JSON is the
// interface scripts rely on (docs/cli.md documents every schema), so the
// writer guarantees well-formed output: strings are escaped and always valid
// UTF-8 (invalid bytes become U+FFFD), non-finite numbers become null, and
// commas and nesting are tracked here, not by the callers.
//
// Misuse (a value where a key is due, unbalanced End*) is a programming error
// and is caught by assertions in debug builds; the writer never throws.
#ifndef SENDERWATCH_SRC_CLI_JSON_H_
#define SENDERWATCH_SRC_CLI_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace senderwatch::cli {

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

class JsonWriter {
 public:
  // pretty: two-space indentation and one member per line; else compact.
  explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The key of the next member; must be inside an object.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // Shortest text that reads back as the same double; NaN and infinities
  // (not representable in JSON) are written as null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // Key and value in one call.
  JsonWriter& Field(std::string_view key, std::string_view value) { return Key(key).String(value); }
  JsonWriter& Field(std::string_view key, const char* value) { return Key(key).String(value); }
  JsonWriter& Field(std::string_view key, const std::string& value) {
    return Key(key).String(value);
  }
  JsonWriter& Field(std::string_view key, int64_t value) { return Key(key).Int(value); }
  JsonWriter& Field(std::string_view key, uint64_t value) { return Key(key).Uint(value); }
  JsonWriter& Field(std::string_view key, int value) { return Key(key).Int(value); }
  JsonWriter& Field(std::string_view key, unsigned value) { return Key(key).Uint(value); }
  JsonWriter& Field(std::string_view key, double value) { return Key(key).Double(value); }
  JsonWriter& Field(std::string_view key, bool value) { return Key(key).Bool(value); }
  // A string, or null when absent.
  JsonWriter& Field(std::string_view key, const std::optional<std::string>& value);

  // The document so far; complete once every Begin has its End. A pretty
  // document ends with a newline.
  std::string Take();
  // The text written since the last Drain, leaving the writer where it is:
  // lets long documents (dump) stream to stdout record by record.
  std::string Drain() { return std::exchange(out_, std::string()); }

 private:
  enum class Scope : uint8_t { kObject, kArray };
  struct Frame {
    Scope scope;
    bool empty = true;
  };
  // Writes the separator and indentation due before a value or a key.
  void BeforeValue();
  void Newline();

  std::string out_;
  std::vector<Frame> stack_;
  bool pretty_;
  bool after_key_ = false;
};

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_JSON_H_
