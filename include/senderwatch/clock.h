// Time is injected. Window and policy code never reads the system clock: the
// plugin passes SystemClock, tests and log replay pass a ManualClock, so a
// test moves a window by advancing a number instead of sleeping.
#ifndef SENDERWATCH_CLOCK_H_
#define SENDERWATCH_CLOCK_H_

#include <cstdint>

namespace senderwatch {

// Seconds since the Unix epoch (UTC). All stored times use this unit.
using UnixSeconds = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixSeconds Now() const = 0;
};

// The real time. Thread-safe; stateless.
class SystemClock final : public Clock {
 public:
  UnixSeconds Now() const override;
};

// A clock that only moves when told to. Used by tests and by `replay`, whose
// time comes from log timestamps. Not thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixSeconds now = 0) : now_(now) {}
  UnixSeconds Now() const override { return now_; }
  void Set(UnixSeconds now) { now_ = now; }
  void Advance(UnixSeconds seconds) { now_ += seconds; }

 private:
  UnixSeconds now_;
};

}  // namespace senderwatch

#endif  // SENDERWATCH_CLOCK_H_
