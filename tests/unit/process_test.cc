#include "senderwatch/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace senderwatch {
namespace {

TEST(CurrentPid, IsThisProcess) {
  EXPECT_EQ(CurrentPid(), ::getpid());
  EXPECT_EQ(CurrentPid(), ::getpid());  // the cached answer too
}

TEST(CurrentPid, ForgetsTheParentInAForkedChild) {
  const pid_t parent = CurrentPid();  // cached before the fork
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child of an Exim process must not take its parent's store for its own.
    _exit(CurrentPid() == ::getpid() && CurrentPid() != parent ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child saw its parent's pid";
  EXPECT_EQ(CurrentPid(), parent);
}

}  // namespace
}  // namespace senderwatch
