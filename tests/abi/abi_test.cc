// Calls the exported functions of the built senderwatch.so the way Exim
// 4.96's expand.c does: argv is the expanded argument list after the file
// and function names, NULL-terminated, argc counts the arguments, and *yield
// starts as NULL.
#include <dlfcn.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "exim_stubs.h"
#include "testutil/testutil.h"

namespace {

using DlFunc = int (*)(unsigned char** yield, int argc, unsigned char* argv[]);
constexpr int kEximOk = 0;

class PluginAbi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    handle_ = dlopen(SENDERWATCH_PLUGIN_PATH, RTLD_LAZY);
    ASSERT_NE(handle_, nullptr) << dlerror();
  }

  void SetUp() override {
    abi_test::SpoolDirectory() = spool_.path();
    abi_test::MainLog().clear();
    config_ = spool_.Join("policy.toml");
    FILE* f = std::fopen(config_.c_str(), "w");
    std::fprintf(f, "[store]\npath = \"%s/db\"\ndurability = \"none\"\n", spool_.path().c_str());
    std::fclose(f);
  }

  // Calls NAME with the given arguments; returns the yield; checks rc == OK.
  std::string Call(const char* name, std::vector<std::string> args) {
    auto fn = reinterpret_cast<DlFunc>(dlsym(handle_, name));
    EXPECT_NE(fn, nullptr) << name;
    if (fn == nullptr) return {};
    std::vector<unsigned char*> argv;
    for (auto& a : args) argv.push_back(reinterpret_cast<unsigned char*>(a.data()));
    argv.push_back(nullptr);
    unsigned char* yield = nullptr;
    const int rc = fn(&yield, static_cast<int>(args.size()), argv.data());
    EXPECT_EQ(rc, kEximOk) << name;
    return yield ? reinterpret_cast<char*>(yield) : "";
  }

  std::string Config() const { return "config=" + config_; }
  bool LogContains(const std::string& needle) const {
    for (const auto& line : abi_test::MainLog()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  static void* handle_;
  senderwatch::testing::TempDir spool_;
  std::string config_;
};

void* PluginAbi::handle_ = nullptr;

TEST_F(PluginAbi, ExportsEveryContractFunction) {
  for (const char* name : {"check_sender", "peek_sender", "record_bounce", "record_defer",
                           "record_authfail"}) {
    EXPECT_NE(dlsym(handle_, name), nullptr) << name;
  }
  // Internal symbols stay hidden (-fvisibility=hidden).
  EXPECT_EQ(dlsym(handle_, "_ZN11senderwatch13DefaultPolicyEv"), nullptr);
}

TEST_F(PluginAbi, CheckSenderCountsAndAnswersOk) {
  EXPECT_EQ(Call("check_sender", {"alice", "192.0.2.1", Config()}), "verdict=ok");
  EXPECT_EQ(Call("record_bounce", {"alice", "bad@x", "550 5.1.1", Config()}), "bounces=1");
  EXPECT_EQ(Call("record_defer", {"alice", "tmp@x", "451", Config()}), "defers=1");
  EXPECT_EQ(Call("record_authfail", {"alice", "192.0.2.9", Config()}), "authfails=1");
  EXPECT_EQ(Call("peek_sender", {"ALICE", Config()}), "verdict=ok");
}

TEST_F(PluginAbi, LocksAfterBounceRatioAndSaysWhy) {
  for (int i = 0; i < 25; ++i) Call("check_sender", {"mallory", "192.0.2.1", Config()});
  for (int i = 0; i < 10; ++i) Call("record_bounce", {"mallory", "dead@x", "550", Config()});
  const std::string v = Call("check_sender", {"mallory", "192.0.2.1", Config()});
  EXPECT_EQ(v.rfind("verdict=lock rule=bounce-ratio metric=bounce_ratio", 0), 0u) << v;
  EXPECT_TRUE(LogContains("account mallory locked by rule bounce-ratio"));
}

TEST_F(PluginAbi, LockRunsTheNotifyCommandDetached) {
  const std::string out = spool_.Join("notified");
  const std::string path = spool_.Join("notify.toml");
  FILE* f = std::fopen(path.c_str(), "w");
  std::fprintf(f, "notify = \"env > %s.tmp && mv %s.tmp %s\"\n[store]\npath = \"%s/db\"\ndurability = \"none\"\n",
               out.c_str(), out.c_str(), out.c_str(), spool_.path().c_str());
  std::fclose(f);
  const std::string cfg = "config=" + path;
  for (int i = 0; i < 11; ++i) {
    Call("check_sender", {"trudy", "10." + std::to_string(i) + ".0.1", cfg});
  }
  std::string env;
  for (int i = 0; i < 100 && env.empty(); ++i) {  // detached: poll for up to 5 s
    if (FILE* in = std::fopen(out.c_str(), "r")) {
      char buffer[4096];
      const size_t n = std::fread(buffer, 1, sizeof buffer, in);
      env.assign(buffer, n);
      std::fclose(in);
    } else {
      usleep(50'000);
    }
  }
  EXPECT_NE(env.find("SENDERWATCH_ACCOUNT=trudy"), std::string::npos) << env;
  EXPECT_NE(env.find("SENDERWATCH_RULE=client-networks"), std::string::npos) << env;
  EXPECT_NE(env.find("SENDERWATCH_METRIC=client_ips"), std::string::npos) << env;
}

TEST_F(PluginAbi, OverridesComeFromAnArgument) {
  for (int i = 0; i < 60; ++i) Call("record_bounce", {"newsletter", "x@y", "550", Config()});
  EXPECT_EQ(Call("peek_sender", {"newsletter", Config()}).rfind("verdict=defer rule=bounce-flood", 0), 0u);
  EXPECT_EQ(Call("peek_sender", {"newsletter", "bounce-flood=500", Config()}), "verdict=ok");
  EXPECT_EQ(Call("check_sender", {"newsletter", "192.0.2.1", "", Config()}).rfind("verdict=defer", 0), 0u);
}

TEST_F(PluginAbi, WrongArgumentCountFailsOpenWithError) {
  const std::string v = Call("check_sender", {"alice"});
  EXPECT_EQ(v.rfind("verdict=ok error=", 0), 0u) << v;
  EXPECT_TRUE(LogContains("check_sender takes 2 to 3 arguments (plus optional"));
  EXPECT_EQ(Call("record_bounce", {}).rfind("bounces=0 error=", 0), 0u);
}

TEST_F(PluginAbi, HostileAccountsGetAClearErrorAndNoForgedLogLines) {
  const std::string v = Call("check_sender", {"bob\nsenderwatch: account eve locked", "192.0.2.1", Config()});
  EXPECT_NE(v.find("error=\"account name contains a control character"), std::string::npos) << v;
  for (const auto& line : abi_test::MainLog()) EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(Call("check_sender", {std::string(100 * 1024, 'a'), "", Config()}).find("error="), std::string::npos);
  EXPECT_NE(Call("check_sender", {"\xff\xfe", "", Config()}).find("not valid UTF-8"), std::string::npos);
}

TEST_F(PluginAbi, CountsForeignSendersAndNewRecipientsFromOptions) {
  // sender_mismatch is a warn rule by default: the verdict stays ok, the count shows in the store.
  for (int i = 0; i < 12; ++i) {
    Call("check_sender", {"alice@example.test", "192.0.2.1", "", "rcpt=r" + std::to_string(i) + "@x.test",
                          "sender=ceo@bank.test", Config()});
  }
  const std::string v = Call("peek_sender", {"alice@example.test", Config()});
  EXPECT_EQ(v.rfind("verdict=warn rule=sender-mismatch metric=sender_mismatch value=12 limit=10", 0), 0u) << v;
  EXPECT_EQ(Call("check_sender", {"bob", "192.0.2.1", "sender=bob@example.test", Config()}), "verdict=ok");
}

TEST_F(PluginAbi, EventModeReturnsEmptyString) {
  EXPECT_EQ(Call("record_bounce", {"alice", "bad@x", "550", "mode=event", Config()}), "");
}

TEST_F(PluginAbi, UnusableStoreFailsOpenAndLogsPathOnce) {
  FILE* f = std::fopen(config_.c_str(), "w");
  std::fprintf(f, "[store]\npath = \"/proc/senderwatch-cannot-exist\"\n");
  std::fclose(f);
  const std::string cfg = "config=" + config_;
  // A new policy path per test keeps the plugin's cached policy honest.
  const std::string v1 = Call("check_sender", {"alice", "192.0.2.1", cfg});
  const std::string v2 = Call("check_sender", {"alice", "192.0.2.1", cfg});
  EXPECT_EQ(v1.rfind("verdict=ok error=", 0), 0u) << v1;
  EXPECT_NE(v1.find("/proc/senderwatch-cannot-exist"), std::string::npos) << v1;
  int lines = 0;
  for (const auto& line : abi_test::MainLog()) lines += line.find("cannot-exist") != std::string::npos;
  EXPECT_EQ(lines, 1);
}

TEST_F(PluginAbi, OnErrorDeferIsHonoured) {
  const std::string path = spool_.Join("defer.toml");
  FILE* f = std::fopen(path.c_str(), "w");
  std::fprintf(f, "on_error = \"defer\"\n[store]\npath = \"/proc/nope/senderwatch\"\n");
  std::fclose(f);
  EXPECT_EQ(Call("check_sender", {"alice", "", "config=" + path}).rfind("verdict=defer error=", 0), 0u);
}

TEST_F(PluginAbi, BadPolicyFileFailsOpenNamingTheLine) {
  const std::string path = spool_.Join("bad.toml");
  FILE* f = std::fopen(path.c_str(), "w");
  std::fprintf(f, "[[rule]]\nname = \"x\"\nmetrc = \"bounces\"\n");
  std::fclose(f);
  const std::string v = Call("check_sender", {"alice", "", "config=" + path});
  EXPECT_EQ(v.rfind("verdict=ok error=", 0), 0u);
  EXPECT_NE(v.find("bad.toml:3:"), std::string::npos) << v;
}

}  // namespace
