// The verbs end to end inside the process: RunCli against a temporary LMDB
// store, checking exit codes and the JSON a script would read. (The
// integration tests do the same through a real Exim.)
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/commands.h"
#include "senderwatch/policy.h"
#include "testutil/testutil.h"

namespace senderwatch::cli {
namespace {

class CliTest : public ::testing::Test {
 protected:
  CliTest() {
    std::ofstream(policy_path_) << FormatPolicy(DefaultPolicy());
    setenv("SUDO_USER", "jane", 1);
    setenv("NO_COLOR", "1", 1);
  }
  ~CliTest() override { unsetenv("SUDO_USER"); }

  // Runs `senderwatch --db STORE --config POLICY args...`; returns the exit
  // code and leaves standard output in out_.
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", dir_.path(), "--config", policy_path_});
    ::testing::internal::CaptureStdout();
    const int code = RunCli(args);
    out_ = ::testing::internal::GetCapturedStdout();
    return code;
  }

  senderwatch::testing::TempDir dir_;
  std::string policy_path_ = dir_.Join("senderwatch.toml");
  std::string out_;
};

TEST_F(CliTest, LockShowUnlockRoundTrip) {
  ASSERT_EQ(Run({"lock", "Alice@Example.com", "--reason", "phished, ticket 4711"}), kExitOk);
  EXPECT_NE(out_.find("Locked alice@example.com (by jane): phished, ticket 4711"),
            std::string::npos)
      << out_;

  ASSERT_EQ(Run({"show", "alice@example.com", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("locked": true)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("rule": "manual")"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("by": "jane")"), std::string::npos) << out_;

  ASSERT_EQ(Run({"show", "alice@example.com"}), kExitOk);
  EXPECT_NE(out_.find("LOCKED"), std::string::npos) << out_;
  EXPECT_NE(out_.find("locked by hand by jane"), std::string::npos) << out_;
  EXPECT_NE(out_.find("senderwatch unlock alice@example.com"), std::string::npos) << out_;
  EXPECT_EQ(out_.find('\x1b'), std::string::npos) << "NO_COLOR must keep output plain";

  ASSERT_EQ(Run({"unlock", "alice@example.com", "--reason", "password changed"}), kExitOk);
  EXPECT_NE(out_.find("Released alice@example.com"), std::string::npos) << out_;

  ASSERT_EQ(Run({"dump", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("schema": "senderwatch-dump")"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("account": "alice@example.com",
      "locked": false)"),
            std::string::npos)
      << out_;
  EXPECT_NE(out_.find(R"("reason": "password changed")"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("count": 1)"), std::string::npos) << out_;
}

TEST_F(CliTest, MissingAccountIsExitCodeOne) {
  ASSERT_EQ(Run({"lock", "someone", "--reason", "x"}), kExitOk);  // creates the store
  EXPECT_EQ(Run({"show", "nobody"}), kExitNotFound);
  EXPECT_EQ(Run({"unlock", "nobody"}), kExitNotFound);
}

TEST_F(CliTest, UsageErrorsAreExitCodeTwo) {
  EXPECT_EQ(Run({"lock", "alice"}), kExitUsage);  // --reason is required
  EXPECT_EQ(Run({"show"}), kExitUsage);
  EXPECT_EQ(Run({"top", "--by", "nonsense"}), kExitUsage);
  EXPECT_EQ(Run({"frobnicate"}), kExitUsage);
  EXPECT_EQ(Run({"top", "--colour"}), kExitUsage);
}

TEST_F(CliTest, ReadOnlyCommandsOnAFreshDirectorySeeAnEmptyStore) {
  ASSERT_EQ(Run({"dump", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("records": [])"), std::string::npos) << out_;
  ASSERT_EQ(Run({"top"}), kExitOk);
  EXPECT_NE(out_.find("No accounts recorded yet"), std::string::npos) << out_;
}

TEST_F(CliTest, StoreThatCannotBeOpenedIsExitCodeThree) {
  const std::vector<std::string> args = {"--db", dir_.Join("missing/deeper/still"), "--config",
                                         policy_path_, "dump"};
  EXPECT_EQ(RunCli(args), kExitStore);
}

TEST_F(CliTest, CheckConfigReportsTheFaultyLine) {
  const std::string bad = dir_.Join("bad.toml");
  std::ofstream(bad) << "[[rule]]\nname = \"x\"\nmetric = \"bounces\"\nabov = 3\n";
  EXPECT_EQ(Run({"check-config", bad, "--json"}), kExitUsage);
  EXPECT_NE(out_.find(R"("valid": false)"), std::string::npos) << out_;
  EXPECT_NE(out_.find("bad.toml:4:"), std::string::npos) << out_;
  EXPECT_EQ(Run({"check-config", dir_.Join("absent.toml")}), kExitNotFound);
  ASSERT_EQ(Run({"check-config", policy_path_}), kExitOk);
  EXPECT_NE(out_.find("name = \"bounce-ratio\""), std::string::npos) << out_;
}

TEST_F(CliTest, HelpForEveryVerbHasUsageAndExitStatus) {
  for (const Command& command : AllCommands()) {
    ASSERT_EQ(Run({std::string(command.name), "--help"}), kExitOk) << command.name;
    EXPECT_EQ(out_.rfind("Usage: senderwatch " + std::string(command.name), 0), 0u) << out_;
    if (command.name != "replay" && command.name != "tune") {
      EXPECT_NE(out_.find("Exit status"), std::string::npos) << command.name;
      EXPECT_NE(out_.find("Example"), std::string::npos) << command.name;
    }
  }
}

}  // namespace
}  // namespace senderwatch::cli
