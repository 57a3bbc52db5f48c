// Edge coverage for libFuzzer from GCC. GCC's -fsanitize-coverage=trace-pc
// calls __sanitizer_cov_trace_pc() at the start of every basic block; clang's
// libFuzzer wants "inline 8-bit counters" instead. This file registers a
// table of counters with libFuzzer and bumps the one a block's address hashes
// to, which is what clang's instrumentation does inline (without the hash).
// Collisions only make two blocks look alike; they never make a run wrong.
// Comparison tracing (trace-cmp) needs nothing here: GCC emits the same
// __sanitizer_cov_trace_cmp* calls clang does and libFuzzer implements them
// (except the floating-point ones, stubbed at the end).
//
// Compiled without instrumentation or sanitizers (tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(uint8_t* start, uint8_t* stop);

namespace {

constexpr int kBits = 17;
constexpr size_t kCounters = size_t{1} << kBits;
alignas(64) uint8_t counters[kCounters];

struct Register {
  Register() { __sanitizer_cov_8bit_counters_init(counters, counters + kCounters); }
};
// Before main(): libFuzzer reads the tables when its driver starts.
__attribute__((init_priority(101))) Register registered;

}  // namespace

extern "C" __attribute__((visibility("default"))) void __sanitizer_cov_trace_pc() {
  const auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  const uint64_t hash = (static_cast<uint64_t>(pc) ^ (pc >> kBits)) * 0x9E3779B97F4A7C15ull;
  uint8_t& counter = counters[hash >> (64 - kBits)];
  // Saturating, so a hot block never wraps back to "not seen".
  if (counter != 255) ++counter;
}

// GCC also traces floating-point comparisons, which libFuzzer has no use
// for; they only need to exist.
extern "C" __attribute__((visibility("default"))) void __sanitizer_cov_trace_cmpf(float, float) {}
extern "C" __attribute__((visibility("default"))) void __sanitizer_cov_trace_cmpd(double, double) {}
