// CurrentPid (process.h): the pid cached per process, forgotten in every
// child of fork(). The cache is a copy of what the kernel knows about this
// process, not senderwatch state: it lives exactly as long as the pid does.
#include "senderwatch/process.h"

#include <pthread.h>
#include <unistd.h>

namespace senderwatch {
namespace {

pid_t cached_pid = 0;  // 0: not known (yet, or since the last fork)

void ForgetPid() { cached_pid = 0; }

}  // namespace

pid_t CurrentPid() noexcept {
  // The handler is registered before the first pid is cached, so no fork can
  // come between a cached pid and the handler that forgets it.
  static const bool forgotten_on_fork = pthread_atfork(nullptr, nullptr, &ForgetPid) == 0;
  if (!forgotten_on_fork) return getpid();
  if (cached_pid == 0) cached_pid = getpid();
  return cached_pid;
}

}  // namespace senderwatch
