// Fuzzes the Exim main-log line parser (what replay and tune read, from
// files anyone who can make Exim log a line can influence). Beyond "never
// crash": every field is a view into the line it came from, as the header
// promises, and parsing is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "eximlog/log_line.h"
#include "eximlog/timestamp.h"

namespace {

using senderwatch::eximlog::LogLine;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_eximlog: %s\n", what);
  __builtin_trap();
}

void CheckInside(std::string_view field, std::string_view line) {
  if (field.empty()) return;
  const char* begin = line.data();
  const char* end = line.data() + line.size();
  if (field.data() < begin || field.data() + field.size() > end) Fail("a field points outside its line");
}

void CheckLine(const LogLine& out, std::string_view line) {
  for (const std::string_view field :
       {out.message_id, out.sender, out.bounce_of, out.authenticator, out.auth_id, out.ident,
        out.protocol, out.client_ip, out.recipients, out.address, out.top_address, out.reason,
        out.user}) {
    CheckInside(field, line);
  }
  if (!out.message_id.empty() && !senderwatch::eximlog::IsMessageId(out.message_id)) {
    Fail("message_id is not a message id");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace senderwatch::eximlog;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // One parser per zone for the whole input, as replay keeps one per file:
  // its hour cache carries over from line to line.
  TimestampParser local(TimestampParser::Zone::kLocal);
  TimestampParser utc(TimestampParser::Zone::kUtc);
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    LogLine a;
    LogLine b;
    ParseLine(line, local, a);
    ParseLine(line, utc, b);
    CheckLine(a, line);
    CheckLine(b, line);
    if (a.kind != b.kind) Fail("the zone changed how a line parses");
    LogLine again;
    ParseLine(line, utc, again);
    if (again.kind != b.kind || again.time != b.time) Fail("parsing is not deterministic");
    (void)IsMessageId(line);
    start = end + 1;
  }
  return 0;
}
