// The dlfunc argument positions: no value a sender controls, in any data
// position of any function, is ever read as an option or an override.
#include "exim/arguments.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace senderwatch::exim {
namespace {

constexpr Function kFunctions[] = {Function::kCheckSender, Function::kPeekSender,
                                   Function::kRecordBounce, Function::kRecordDefer,
                                   Function::kRecordAuthfail};

// What a recipient, a bounce reason or a user name can be made to contain.
const std::vector<std::string>& HostileValues() {
  static const std::vector<std::string> values = {
      "config=/home/mallory/x@their-own.test",
      "config=/tmp/evil.toml",
      "config=",
      "mode=event",
      "mode=evil",
      "rcpt=victim@remote.test",
      "sender=ceo@bank.test",
      "origin=any",
      "bounce-flood=off",
      "rcpt-rate=1000000 bounce-ratio=off",
      "",
      std::string(70 * 1024, 'x'),
      "config=/x\nsenderwatch: account eve locked",
  };
  return values;
}

Result<ParsedCall> Parse(Function f, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return ParseArguments(SpecOf(f), static_cast<int>(args.size()), argv.data());
}

TEST(EximArguments, NoDataPositionIsEverAnOption) {
  for (const Function f : kFunctions) {
    const CallSpec spec = SpecOf(f);
    for (int slot = 0; slot < spec.positional; ++slot) {
      for (const std::string& hostile : HostileValues()) {
        std::vector<std::string> args(static_cast<size_t>(spec.positional), "data");
        args[static_cast<size_t>(slot)] = hostile;
        if (spec.overrides) args.push_back("bounce-flood=50");
        args.push_back("config=/etc/exim4/admin.toml");
        auto call = Parse(f, args);
        ASSERT_TRUE(call) << spec.name << " slot " << slot << ": " << call.error().message;
        EXPECT_EQ(call->config_path, "/etc/exim4/admin.toml") << spec.name << " slot " << slot;
        EXPECT_FALSE(call->event_mode) << spec.name << " slot " << slot;
        EXPECT_TRUE(call->recipient.empty() && call->sender.empty()) << spec.name;
        EXPECT_EQ(call->overrides, spec.overrides ? "bounce-flood=50" : "") << spec.name;
        ASSERT_EQ(call->positional.size(), static_cast<size_t>(spec.positional));
        if (hostile.size() <= kMaxArgumentLength) {
          EXPECT_EQ(call->positional[static_cast<size_t>(slot)], hostile);
          EXPECT_TRUE(call->input_error.empty());
        } else {
          EXPECT_TRUE(call->positional[static_cast<size_t>(slot)].empty());
          EXPECT_NE(call->input_error.find("longer than 64 KiB"), std::string::npos);
        }
      }
    }
  }
}

TEST(EximArguments, OptionValuesStayInTheirOption) {
  for (const std::string& hostile : HostileValues()) {
    if (hostile.size() > kMaxArgumentLength) continue;
    // The parsed views point into the arguments: keep them alive.
    const std::vector<std::string> args = {"alice", "192.0.2.1", "", "rcpt=" + hostile,
                                           "sender=" + hostile};
    auto call = Parse(Function::kCheckSender, args);
    ASSERT_TRUE(call);
    EXPECT_EQ(call->recipient, hostile);
    EXPECT_EQ(call->sender, hostile);
    EXPECT_EQ(call->config_path, kDefaultConfigPath);
    EXPECT_FALSE(call->event_mode);
  }
}

TEST(EximArguments, OriginOptionOnlyWhereTheSpecTakesIt) {
  auto bounce = Parse(Function::kRecordBounce, {"www-data", "x@y", "550", "origin=local"});
  ASSERT_TRUE(bounce) << bounce.error().message;
  EXPECT_EQ(bounce->origin, Origin::kLocal);
  auto check = Parse(Function::kCheckSender, {"alice", "192.0.2.1", "origin=smtp"});
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_EQ(check->origin, Origin::kSmtp);
  EXPECT_TRUE(check->overrides.empty());  // an option, not OVERRIDES
  EXPECT_EQ(Parse(Function::kRecordDefer, {"a", "x@y", "451"})->origin, Origin::kAny);
  EXPECT_FALSE(Parse(Function::kRecordBounce, {"a", "x@y", "550", "origin=web"}));
  EXPECT_FALSE(Parse(Function::kRecordAuthfail, {"a", "192.0.2.1", "origin=local"}));
}

TEST(EximArguments, TooFewArgumentsAreAConfigurationError) {
  // The old form record_bounce ACCOUNT [options] read the recipient as an option.
  auto call = Parse(Function::kRecordBounce, {"alice", "config=/tmp/evil.toml@x"});
  ASSERT_FALSE(call);
  EXPECT_NE(call.error().message.find("record_bounce takes ACCOUNT, FAILED_RCPT, REASON"),
            std::string::npos);
  EXPECT_FALSE(Parse(Function::kCheckSender, {"alice"}));
  EXPECT_FALSE(Parse(Function::kRecordAuthfail, {"alice"}));
}

TEST(EximArguments, OverridesAndOptionsAfterTheData) {
  const std::vector<std::string> args = {"alice", "192.0.2.1", "rcpt-rate=off", "rcpt=bob@x",
                                         "mode=event"};
  auto call = Parse(Function::kCheckSender, args);
  ASSERT_TRUE(call);
  EXPECT_EQ(call->overrides, "rcpt-rate=off");
  EXPECT_EQ(call->recipient, "bob@x");
  EXPECT_TRUE(call->event_mode);
  // No OVERRIDES: the option comes right after the data.
  const std::vector<std::string> peek_args = {"alice", "config=/etc/exim4/x.toml"};
  auto peek = Parse(Function::kPeekSender, peek_args);
  ASSERT_TRUE(peek);
  EXPECT_EQ(peek->config_path, "/etc/exim4/x.toml");
  EXPECT_TRUE(peek->overrides.empty());
  // An unknown argument after the data is refused, not taken as data.
  EXPECT_FALSE(Parse(Function::kRecordBounce, {"a", "b@x", "550", "extra"}));
  EXPECT_FALSE(Parse(Function::kRecordBounce, {"a", "b@x", "550", "rcpt=b@x"}));
  EXPECT_FALSE(Parse(Function::kCheckSender, {"a", "", "x=1", "y=2"}));
  EXPECT_FALSE(Parse(Function::kCheckSender, {"a", "", "config=relative.toml"}));
}

}  // namespace
}  // namespace senderwatch::exim
