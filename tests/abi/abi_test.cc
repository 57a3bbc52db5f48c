// Calls the exported functions of the built senderwatch.so the way Exim
// 4.96's expand.c does: argv is the expanded argument list after the file
// and function names, NULL-terminated, argc counts the arguments, and *yield
// starts as NULL.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <filesystem>
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
                           "record_authfail", "preload"}) {
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

// Polls `path` (written by a detached process) for up to 10 s until it
// contains `needle`; returns its content.
std::string WaitForFile(const std::string& path, const std::string& needle = {}) {
  std::string content;
  for (int i = 0; i < 200; ++i) {
    if (FILE* in = std::fopen(path.c_str(), "r")) {
      char buffer[8192];
      const size_t n = std::fread(buffer, 1, sizeof buffer, in);
      content.assign(buffer, n);
      std::fclose(in);
      if (!content.empty() && content.find(needle) != std::string::npos) return content;
    }
    usleep(50'000);
  }
  return content;
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode = 0644) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  std::fputs(text.c_str(), f);
  std::fclose(f);
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

// A directory anyone may write, for what the unprivileged notify command writes.
class OpenDir {
 public:
  OpenDir() {
    char name[] = "/tmp/senderwatch-abi-XXXXXX";
    path_ = mkdtemp(name);
    chmod(path_.c_str(), 0777);
  }
  ~OpenDir() { std::filesystem::remove_all(path_); }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The uid the notify command is expected to run as: nobody when the test
// runs as root (the Exim user stand-in), else the test's own uid.
uid_t NotifyUid() { return geteuid() == 0 ? 65534 : geteuid(); }

class PluginNotify : public PluginAbi {
 protected:
  void SetUp() override {
    PluginAbi::SetUp();
    abi_test::EximUid() = std::to_string(NotifyUid());
    abi_test::EximGid() = std::to_string(geteuid() == 0 ? 65534 : getegid());
    abi_test::MainLogFile() = spool_.Join("mainlog");
  }
  void TearDown() override {
    abi_test::EximUid().clear();
    abi_test::EximGid().clear();
    abi_test::MainLogFile().clear();
  }
  // Writes a policy whose notify command is `notify` (plus `extra` lines)
  // and locks an account through check_sender; returns the config= option.
  std::string LockWithNotify(const std::string& name, const std::string& notify,
                             const std::string& extra = {}) {
    const std::string path = spool_.Join(name + ".toml");
    WriteFile(path, "notify = \"" + notify + "\"\n" + extra + "[store]\npath = \"" + spool_.path() +
                        "/db\"\ndurability = \"none\"\n");
    const std::string cfg = "config=" + path;
    for (int i = 0; i < 11; ++i) {
      Call("check_sender", {name, "10." + std::to_string(i) + ".0.1", cfg});
    }
    return cfg;
  }
  OpenDir out_;
};

TEST_F(PluginNotify, LockRunsTheNotifyCommandWithTheEvidence) {
  const std::string out = out_.Join("env");
  LockWithNotify("trudy", "env > " + out + ".tmp && mv " + out + ".tmp " + out);
  const std::string env = WaitForFile(out);
  EXPECT_NE(env.find("SENDERWATCH_ACCOUNT=trudy"), std::string::npos) << env;
  EXPECT_NE(env.find("SENDERWATCH_RULE=client-networks"), std::string::npos) << env;
  EXPECT_NE(env.find("SENDERWATCH_METRIC=client_ips"), std::string::npos) << env;
  EXPECT_NE(WaitForFile(spool_.Join("mainlog"), "exited with status 0")
                .find("notify command for account trudy exited with status 0"),
            std::string::npos);
}

// The attack: a lock found in a root delivery process ran the command as
// root with umask 0, every Exim descriptor open.
TEST_F(PluginNotify, CommandRunsUnprivilegedWithNoInheritedDescriptors) {
  const std::string out = out_.Join("who");
  const int leaked = open("/dev/null", O_RDONLY);  // as Exim's own descriptors are: not close-on-exec
  ASSERT_GE(leaked, 0);
  LockWithNotify("ursula", "{ id -u; id -G; umask; ls /proc/self/fd; } > " + out + ".tmp && mv " +
                               out + ".tmp " + out);
  const std::string who = WaitForFile(out);
  close(leaked);
  ASSERT_FALSE(who.empty()) << "the notify command did not run";
  std::vector<std::string> lines;
  for (size_t start = 0; start < who.size();) {
    const size_t end = who.find('\n', start);
    lines.push_back(who.substr(start, end - start));
    start = end == std::string::npos ? who.size() : end + 1;
  }
  ASSERT_GE(lines.size(), 3u) << who;
  EXPECT_EQ(lines[0], std::to_string(NotifyUid())) << who;
  if (geteuid() == 0) EXPECT_EQ(lines[1], "65534") << "supplementary groups left: " << who;
  EXPECT_EQ(lines[2], "0022") << who;
  // ls's own directory descriptor may show as 3; nothing above it.
  for (size_t i = 3; i < lines.size(); ++i) {
    EXPECT_TRUE(lines[i] == "0" || lines[i] == "1" || lines[i] == "2" || lines[i] == "3")
        << "inherited descriptor " << lines[i] << " in " << who;
  }
}

TEST_F(PluginNotify, HangingCommandIsKilledAndLogged) {
  LockWithNotify("victor", "sleep 300", "notify_timeout = \"1s\"\n");
  const std::string log = WaitForFile(spool_.Join("mainlog"), "killed after");
  EXPECT_NE(log.find("notify command for account victor killed after 1s (notify_timeout)"),
            std::string::npos)
      << log;
}

TEST_F(PluginNotify, NeverRunsAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  abi_test::EximUid() = "0";
  abi_test::EximGid() = "0";
  const std::string out = out_.Join("ran");
  LockWithNotify("wendy", "touch " + out);
  usleep(500'000);
  EXPECT_NE(access(out.c_str(), F_OK), 0) << "the notify command ran as root";
  EXPECT_TRUE(LogContains("notify command not run: the notify command never runs as root"));
}

// The attack of the security review: record_bounce's recipient (here
// "config=/home/USER/x@their-own.domain") chose the policy file, and the
// policy's notify ran as root.
TEST_F(PluginAbi, DataArgumentsAreNeverOptions) {
  OpenDir evil_dir;
  const std::string marker = evil_dir.Join("pwned");
  const std::string evil = evil_dir.Join("x");
  WriteFile(evil, "notify = \"touch " + marker + "\"\n[[rule]]\nname = \"any\"\nmetric = \"bounces\"\n"
                  "window = \"1h\"\nabove = 0\naction = \"lock\"\n[store]\npath = \"" +
                  evil_dir.Join("db") + "\"\n");
  const std::string hostile = "config=" + evil + "@their-own.test";
  EXPECT_EQ(Call("record_bounce", {"alice", hostile, "550 5.1.1 unknown user", Config()}), "bounces=1");
  EXPECT_EQ(Call("record_defer", {"alice", hostile, "451 try later", Config()}), "defers=1");
  EXPECT_EQ(Call("record_bounce", {"alice", "bad@x", hostile, Config()}).rfind("bounces=", 0), 0u);
  EXPECT_EQ(Call("record_authfail", {hostile, "192.0.2.1", Config()}), "authfails=1");
  EXPECT_EQ(Call("check_sender", {"alice", "192.0.2.1", "", "rcpt=" + hostile, Config()}), "verdict=ok");
  // Without the default config file the policy is the built-in one; an
  // option-looking ACCOUNT or CLIENT_IP stays data too.
  EXPECT_NE(Call("check_sender", {hostile, hostile}).find("error="), std::string::npos);
  EXPECT_NE(Call("record_bounce", {"alice", hostile, "mode=event"}).find("bounces="), std::string::npos);
  // The old two-argument form no longer exists: an error, never an option.
  EXPECT_EQ(Call("record_bounce", {"alice", hostile}).rfind("bounces=0 error=", 0), 0u);
  usleep(300'000);
  EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the hostile policy's notify ran";
  EXPECT_NE(access(evil_dir.Join("db").c_str(), F_OK), 0) << "the hostile policy's store was opened";
  EXPECT_EQ(Call("peek_sender", {"alice", Config()}), "verdict=ok");
}

// A policy file that someone other than root or the Exim user could have
// written is refused, as Exim refuses such a configure file.
TEST_F(PluginAbi, UntrustedPolicyFilesAreRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give files away";
  const std::string user_owned = spool_.Join("user.toml");
  WriteFile(user_owned, "[store]\npath = \"" + spool_.path() + "/db\"\n");
  ASSERT_EQ(chown(user_owned.c_str(), 65534, 65534), 0);
  const std::string v = Call("check_sender", {"alice", "192.0.2.1", "config=" + user_owned});
  EXPECT_EQ(v.rfind("verdict=ok error=", 0), 0u) << v;
  EXPECT_NE(v.find("owned by uid 65534"), std::string::npos) << v;

  const std::string group_writable = spool_.Join("group.toml");
  WriteFile(group_writable, "[store]\npath = \"" + spool_.path() + "/db\"\n", 0664);
  const std::string g = Call("check_sender", {"alice", "192.0.2.1", "config=" + group_writable});
  EXPECT_NE(g.find("writable by its group or by others"), std::string::npos) << g;

  // The files a policy names are held to the same rule.
  const std::string owners = spool_.Join("owners");
  WriteFile(owners, "alice: alice@example.test\n");
  ASSERT_EQ(chown(owners.c_str(), 65534, 65534), 0);
  const std::string names = spool_.Join("names.toml");
  WriteFile(names, "[sender]\nownership = \"lookup\"\nfile = \"" + owners + "\"\n[store]\npath = \"" +
                       spool_.path() + "/db\"\n");
  const std::string n = Call("check_sender", {"alice", "192.0.2.1", "config=" + names});
  EXPECT_NE(n.find("sender file " + owners + " is owned by uid 65534"), std::string::npos) << n;

  // The Exim user's own file is trusted.
  abi_test::EximUid() = "65534";
  const std::string exim_owned = spool_.Join("exim.toml");
  WriteFile(exim_owned, "[store]\npath = \"" + spool_.path() + "/db\"\n");
  ASSERT_EQ(chown(exim_owned.c_str(), 65534, 65534), 0);
  EXPECT_EQ(Call("check_sender", {"alice", "192.0.2.1", "config=" + exim_owned}), "verdict=ok");
  abi_test::EximUid().clear();
}

// A locked account got 451 for victim@remote.test and 250 for
// victim\xff@remote.test: the invalid recipient turned the lock into ok.
TEST_F(PluginAbi, BadInputNeverTurnsALockIntoOk) {
  for (int i = 0; i < 11; ++i) {
    Call("check_sender", {"xavier", "10." + std::to_string(i) + ".0.1", Config()});
  }
  ASSERT_EQ(Call("check_sender", {"xavier", "192.0.2.1", "", "rcpt=victim@remote.test", Config()})
                .rfind("verdict=lock", 0), 0u);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"xavier", "192.0.2.1", "", "rcpt=victim\xff@remote.test", Config()},
           {"xavier", "not-an-address", "", "rcpt=victim@remote.test", Config()},
           {"xavier", "192.0.2.1", "", "rcpt=" + std::string(70 * 1024, 'v'), Config()},
           {"xavier", std::string(70 * 1024, '1'), Config()},
           {"xavier", "192.0.2.1", "bounce-flood=garbage", Config()},
           {"xavier", "192.0.2.1", "", "sender=\x01\xff", Config()},
       }) {
    const std::string v = Call("check_sender", args);
    EXPECT_EQ(v.rfind("verdict=lock", 0), 0u) << v;
  }
  const std::string peek = Call("peek_sender", {"xavier", "bounce-flood=garbage", Config()});
  EXPECT_EQ(peek.rfind("verdict=lock", 0), 0u) << peek;
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
  EXPECT_TRUE(LogContains("check_sender takes ACCOUNT, CLIENT_IP [, OVERRIDES], then options"));
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
