// Which process this is, without a system call. The plugin asks on every
// call whether Exim forked since the store was opened (an LMDB environment
// must not cross fork()), and getpid() is a system call since glibc 2.25
// stopped caching it: two of them were about a tenth of a check_sender's CPU
// time on a VM (docs/performance.md, "Per call").
#ifndef SENDERWATCH_PROCESS_H_
#define SENDERWATCH_PROCESS_H_

#include <sys/types.h>

namespace senderwatch {

// getpid(), remembered until the next fork(): a pthread_atfork child handler
// forgets it. Processes made without fork() (clone, vfork) must not call
// into senderwatch before they exec. Not thread-safe across a fork from
// another thread (the plugin and the CLI are single-threaded).
pid_t CurrentPid() noexcept;

}  // namespace senderwatch

#endif  // SENDERWATCH_PROCESS_H_
