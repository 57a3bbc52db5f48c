// preload, the daemon's warm-up (dispatch.h, Function::kPreload): Exim's
// daemon expands it before it forks each SMTP connection, so what it loads
// must be what the children use, a changed policy file must reach the next
// children, and it must never open the store (an LMDB environment must not
// cross fork()) nor answer anything but an empty string (the expansion is
// smtp_accept_max_per_host, which takes digits or nothing).
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "reliability/harness.h"
#include "testutil/testutil.h"

namespace senderwatch::reliability {
namespace {

using exim::Function;
using testing::TempDir;

// A policy file in a fresh directory, whose store lives beside it.
class PreloadTest : public ::testing::Test {
 protected:
  std::string StoreSection() const {
    return "[store]\npath = \"" + dir_.Join("db") + "\"\ndurability = \"none\"\n";
  }
  void WritePolicy(std::string_view text) const { WriteFile(config_, text); }
  std::string Preload(exim::Host& host) const {
    return Call(Function::kPreload, {"config=" + config_}, host);
  }

  TempDir dir_;
  const std::string config_ = dir_.Join("policy.toml");
};

TEST_F(PreloadTest, AnswersNothingAndOpensNoStore) {
  WritePolicy(StoreSection());
  const ChildResult result = RunChild([&](std::string& out) {
    FakeHost host;
    out = Preload(host) + host.Joined();
    return out.empty() ? 0 : 1;
  });
  EXPECT_TRUE(result.ok()) << Describe(result);
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("db")));
}

TEST_F(PreloadTest, ForkedChildrenUseThePreloadedPolicy) {
  WritePolicy(StoreSection() + std::string(kLockAfterTwo));
  const ChildResult result = RunChild([&](std::string& out) {
    FakeHost daemon;
    Preload(daemon);
    // Whatever the file says now, the children forked after the preload
    // judge by the policy the daemon read: they do not read it again.
    WritePolicy("this is not TOML [");
    const ChildResult smtp = RunChild([&](std::string& child_out) {
      FakeHost host;
      for (int i = 0; i < 3; ++i) child_out = CheckSender(host, config_, "mallory");
      return 0;
    });
    out = smtp.output;
    return smtp.ok() ? 0 : 1;
  });
  EXPECT_TRUE(result.ok()) << Describe(result);
  EXPECT_TRUE(result.output.starts_with("verdict=lock rule=two-is-enough")) << result.output;
}

TEST_F(PreloadTest, ReadsAChangedPolicyAgain) {
  WritePolicy(StoreSection());
  const ChildResult result = RunChild([&](std::string& out) {
    FakeHost daemon;
    Preload(daemon);
    WritePolicy(StoreSection() + std::string(kLockAfterTwo));
    Preload(daemon);
    for (int i = 0; i < 3; ++i) out = CheckSender(daemon, config_, "mallory");
    return 0;
  });
  EXPECT_TRUE(result.ok()) << Describe(result);
  EXPECT_TRUE(result.output.starts_with("verdict=lock rule=two-is-enough")) << result.output;
}

TEST_F(PreloadTest, LogsABrokenPolicyOnceAndAnswersNothing) {
  WritePolicy("this is not TOML [");
  const ChildResult result = RunChild([&](std::string& out) {
    FakeHost daemon;
    const std::string first = Preload(daemon);
    const std::string second = Preload(daemon);
    out = first + second + "|" + std::to_string(daemon.Count("senderwatch: preload:"));
    return 0;
  });
  EXPECT_TRUE(result.ok()) << Describe(result);
  EXPECT_EQ(result.output, "|1");
}

}  // namespace
}  // namespace senderwatch::reliability
