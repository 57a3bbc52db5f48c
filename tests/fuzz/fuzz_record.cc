// Fuzzes the record decoder with arbitrary bytes (a damaged or hostile
// data.mdb). Beyond "never crash": whatever decodes must be usable the way
// the engine uses it (count, see a network, evaluate, encode), and encoding
// is a fixed point: encode(decode(encode(r))) == encode(r).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "senderwatch/verdict.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_record: %s\n", what);
  __builtin_trap();
}

// A clock reading near t + d. The record's own times may be anything (it
// is hostile); a clock is not: the system clock reads between 1970 and, say,
// the year 36,000 (2^40 seconds). Clamped to that, without overflowing.
senderwatch::UnixSeconds Shift(senderwatch::UnixSeconds t, int64_t d) {
  constexpr senderwatch::UnixSeconds kLatest = senderwatch::UnixSeconds{1} << 40;
  senderwatch::UnixSeconds out = 0;
  if (__builtin_add_overflow(t, d, &out)) out = d > 0 ? kLatest : 0;
  return std::clamp<senderwatch::UnixSeconds>(out, 0, kLatest);
}

const senderwatch::Policy& TestPolicy() {
  static const senderwatch::Policy policy = senderwatch::DefaultPolicy();
  return policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace senderwatch;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto record = DecodeRecord(bytes, "fuzz");
  if (!record) {
    const ErrorKind kind = record.error().kind;
    if (kind != ErrorKind::kStoreCorrupt && kind != ErrorKind::kUnsupported) Fail("wrong error kind");
    return 0;
  }
  const std::string encoded = EncodeRecord(*record);
  auto decoded = DecodeRecord(encoded, "fuzz");
  if (!decoded) Fail("EncodeRecord wrote bytes DecodeRecord refuses");
  if (EncodeRecord(*decoded) != encoded) Fail("encode/decode is not a fixed point");

  // What the engine does with a stored record, at clock readings around the
  // record's own times (a clock that jumped back or forward) and at the
  // extremes of a real clock.
  const UnixSeconds times[] = {Shift(record->last_seen, 0),     Shift(record->last_seen, 59),
                               Shift(record->last_seen, -3600), Shift(record->first_seen, 0),
                               0, 1'790'000'000, int64_t{1} << 40};
  ClientNetwork network;
  network.family = 4;
  network.prefix = {192, 0, 2, 0, 0, 0, 0, 0};
  LimitOverrides overrides;
  for (const UnixSeconds now : times) {
    AccountRecord r = *record;
    (void)r.IsLocked(now);
    (void)Evaluate(TestPolicy(), r, now, overrides);
    (void)ReadRules(TestPolicy(), r, now, overrides);
    r.Count(Counter::kRecipients, now);
    r.Count(Counter::kBounces, now, 1000);
    r.SeeNetwork(network, now);
    (void)Evaluate(TestPolicy(), r, now, overrides);
    for (const Metric m : kAllMetrics) (void)MetricValue(r, m, 3600, now, r.evidence_after);
    auto re = DecodeRecord(EncodeRecord(r), r.account);
    if (!re) Fail("a counted record no longer decodes");
  }
  return 0;
}
