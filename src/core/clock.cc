// The one place the library reads the real time.
#include <chrono>

#include "senderwatch/clock.h"

namespace senderwatch {

UnixSeconds SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace senderwatch
