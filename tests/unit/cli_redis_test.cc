// The CLI on a cluster: the same verbs against a shared Redis from two
// "hosts" (two local store directories), `stats` saying whether Redis
// answers, and `migrate` carrying a host's locks into Redis.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/commands.h"
#include "senderwatch/policy.h"
#include "testutil/redis_server.h"
#include "testutil/testutil.h"

namespace senderwatch::cli {
namespace {

class CliRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.ok()) << redis_.error();
    const std::string secret = dir_.Join("redis.pw");
    std::ofstream(secret) << redis_.password() << "\n";
    ::chmod(secret.c_str(), 0600);
    Policy policy = DefaultPolicy();
    std::ofstream(lmdb_policy_) << FormatPolicy(policy);
    policy.store.backend = StoreBackend::kRedis;
    policy.store.redis = redis_.UnixAddress();
    policy.store.redis_password_file = secret;
    policy.store.redis_timeout_ms = testing::RedisServer::kPatientTimeoutMs;
    std::ofstream(redis_policy_) << FormatPolicy(policy);
    setenv("SUDO_USER", "jane", 1);
    setenv("NO_COLOR", "1", 1);
  }
  void TearDown() override { unsetenv("SUDO_USER"); }

  // `senderwatch --db HOST --config POLICY args...` on host "a" or "b".
  int Run(const std::string& host, const std::string& policy, std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", dir_.Join(host), "--config", policy});
    ::testing::internal::CaptureStdout();
    const int code = RunCli(args);
    out_ = ::testing::internal::GetCapturedStdout();
    return code;
  }
  int OnRedis(const std::string& host, std::vector<std::string> args) {
    return Run(host, redis_policy_, std::move(args));
  }

  senderwatch::testing::RedisServer redis_;
  senderwatch::testing::TempDir dir_;
  std::string lmdb_policy_ = dir_.Join("lmdb.toml");
  std::string redis_policy_ = dir_.Join("redis.toml");
  std::string out_;
};

TEST_F(CliRedisTest, LockOnOneHostUnlockOnTheOther) {
  ASSERT_EQ(OnRedis("a", {"lock", "alice@example.com", "--reason", "phished"}), kExitOk) << out_;
  ASSERT_EQ(OnRedis("b", {"show", "alice@example.com", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("locked": true)"), std::string::npos) << out_;
  ASSERT_EQ(OnRedis("b", {"unlock", "alice@example.com", "--reason", "password changed"}), kExitOk);
  ASSERT_EQ(OnRedis("a", {"show", "alice@example.com", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("locked": false)"), std::string::npos) << out_;
  ASSERT_EQ(OnRedis("a", {"top", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("records": 1)"), std::string::npos) << out_;  // read from Redis
}

TEST_F(CliRedisTest, StatsSaysWhetherRedisAnswers) {
  ASSERT_EQ(OnRedis("a", {"lock", "alice@example.com", "--reason", "x"}), kExitOk);
  ASSERT_EQ(OnRedis("a", {"stats", "--json"}), kExitOk) << out_;
  EXPECT_NE(out_.find(R"("backend": "redis")"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("reachable": true)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("locked": 1)"), std::string::npos) << out_;
  redis_.Stop();
  ASSERT_EQ(OnRedis("a", {"stats"}), kExitOk) << out_;
  EXPECT_NE(out_.find("UNREACHABLE"), std::string::npos) << out_;
  EXPECT_NE(out_.find(redis_.UnixAddress()), std::string::npos) << out_;
  // The lock the local store kept still shows.
  ASSERT_EQ(OnRedis("a", {"show", "alice@example.com", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("locked": true)"), std::string::npos) << out_;
}

TEST_F(CliRedisTest, MigrateCarriesAHostsLocksIntoRedis) {
  ASSERT_EQ(Run("a", lmdb_policy_, {"lock", "bob@example.com", "--reason", "spam run"}), kExitOk);
  ASSERT_EQ(Run("a", redis_policy_, {"migrate", "--to", "redis", "--json"}), kExitOk) << out_;
  EXPECT_NE(out_.find(R"("records": 1)"), std::string::npos) << out_;
  EXPECT_NE(out_.find(R"("locked": 1)"), std::string::npos) << out_;
  ASSERT_EQ(OnRedis("b", {"show", "bob@example.com", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("locked": true)"), std::string::npos) << out_;
  EXPECT_NE(out_.find("spam run"), std::string::npos) << out_;
  // And back onto a host that never had it.
  ASSERT_EQ(Run("c", redis_policy_, {"migrate", "--to", "lmdb"}), kExitOk) << out_;
  ASSERT_EQ(Run("c", lmdb_policy_, {"show", "bob@example.com", "--json"}), kExitOk);
  EXPECT_NE(out_.find(R"("locked": true)"), std::string::npos) << out_;
}

}  // namespace
}  // namespace senderwatch::cli
