// A sliding window made of fixed slots: the counters of the last N slots
// (minutes or hours), for every Counter. Counting is exact at slot
// granularity; memory is fixed, so a record has a fixed size.
//
// Time moves the ring: counting at a slot after the head clears the slots in
// between. A clock that jumps back counts into the head slot instead of
// rewriting history; one that jumps forward by more than N slots clears all.
#ifndef SENDERWATCH_WINDOW_H_
#define SENDERWATCH_WINDOW_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "senderwatch/metric.h"

namespace senderwatch {

template <int N, typename Count>
class SlotRing {
 public:
  static constexpr int kSlots = N;
  using CountType = Count;

  // Adds n to `counter` at slot index `slot` (e.g. minutes since the epoch).
  // Counts saturate at the maximum of Count.
  void Add(Counter counter, uint32_t slot, uint64_t n) {
    Advance(slot);
    // After Advance, slot <= head_. A slot that fell out of the ring (the
    // clock jumped back further than N slots) counts into the head.
    if (slot + N <= head_) slot = head_;
    Count& cell = counts_[Index(slot, counter)];
    const uint64_t sum = uint64_t{cell} + n;
    cell = static_cast<Count>(
        std::min<uint64_t>(sum, std::numeric_limits<Count>::max()));
  }

  // Sum of `counter` over slots first..last (inclusive), limited to the
  // slots still held.
  uint64_t Sum(Counter counter, uint32_t first, uint32_t last) const {
    if (head_ == 0) return 0;
    last = std::min(last, head_);
    const uint32_t oldest = head_ >= N - 1 ? head_ - (N - 1) : 0;
    first = std::max(first, oldest);
    if (first > last) return 0;
    uint64_t total = 0;
    for (uint32_t s = first;; ++s) {
      total += counts_[Index(s, counter)];
      if (s == last) break;
    }
    return total;
  }

  // Sums of every counter over slots first..last in one pass (evaluation
  // reads several counters over the same window).
  std::array<uint64_t, kCounterCount> SumAll(uint32_t first, uint32_t last) const {
    std::array<uint64_t, kCounterCount> totals{};
    if (head_ == 0) return totals;
    last = std::min(last, head_);
    const uint32_t oldest = head_ >= N - 1 ? head_ - (N - 1) : 0;
    first = std::max(first, oldest);
    if (first > last) return totals;
    for (uint32_t s = first;; ++s) {
      const Count* slot = &counts_[(s % N) * kCounterCount];
      for (int c = 0; c < kCounterCount; ++c) totals[static_cast<size_t>(c)] += slot[c];
      if (s == last) break;
    }
    return totals;
  }

  uint32_t head() const { return head_; }
  // Raw access for the record codec.
  Count* data() { return counts_.data(); }
  const Count* data() const { return counts_.data(); }
  void set_head(uint32_t head) { head_ = head; }

 private:
  static size_t Index(uint32_t slot, Counter counter) {
    return (slot % N) * kCounterCount + static_cast<size_t>(counter);
  }
  void Advance(uint32_t slot) {
    if (head_ == 0 || slot >= head_ + N) {
      counts_.fill(0);
      if (head_ == 0 || slot > head_) head_ = slot;
      return;
    }
    for (uint32_t s = head_ + 1; s <= slot; ++s) {
      for (int c = 0; c < kCounterCount; ++c) counts_[(s % N) * kCounterCount + c] = 0;
    }
    if (slot > head_) head_ = slot;
  }

  uint32_t head_ = 0;  // newest slot held; 0: empty
  std::array<Count, N * kCounterCount> counts_{};
};

}  // namespace senderwatch

#endif  // SENDERWATCH_WINDOW_H_
