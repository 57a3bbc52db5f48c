// Fuzzes the policy file parser with arbitrary text. Beyond "never crash":
// a policy that parses must survive FormatPolicy -> ParsePolicy (check-config
// and tune print policies that admins paste back), and formatting is stable
// after one round trip.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "senderwatch/policy.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_policy: %s\n%s\n", what, detail.c_str());
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace senderwatch;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = ParsePolicy(text, "fuzz.toml");
  if (!policy) {
    if (policy.error().kind != ErrorKind::kConfig) Fail("error of the wrong kind", policy.error().message);
    if (policy.error().message.rfind("fuzz.toml", 0) != 0) Fail("error does not name the file", policy.error().message);
    return 0;
  }
  const std::string formatted = FormatPolicy(*policy);
  auto again = ParsePolicy(formatted, "formatted.toml");
  if (!again) Fail("FormatPolicy wrote a file ParsePolicy refuses", again.error().message + "\n---\n" + formatted);
  if (again->rules.size() != policy->rules.size()) Fail("round trip changed the rules", formatted);
  const std::string reformatted = FormatPolicy(*again);
  if (reformatted != formatted) Fail("FormatPolicy is not stable", formatted + "\n---\n" + reformatted);
  return 0;
}
