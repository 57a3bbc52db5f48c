#include "senderwatch/account.h"

#include <gtest/gtest.h>

#include "senderwatch/network.h"

namespace senderwatch {
namespace {

TEST(NormalizeAccount, LowercasesAndTrims) {
  EXPECT_EQ(*NormalizeAccount("  Alice@Example.TEST "), "alice@example.test");
  EXPECT_EQ(*NormalizeAccount("J\xC3\xBCrgen"), "j\xC3\xBCrgen");
}

TEST(NormalizeAccount, RefusesHostileInput) {
  EXPECT_FALSE(NormalizeAccount(""));
  EXPECT_FALSE(NormalizeAccount("   "));
  EXPECT_FALSE(NormalizeAccount(std::string("a\0b", 3)));
  EXPECT_FALSE(NormalizeAccount("alice\nsenderwatch: account bob locked"));
  EXPECT_FALSE(NormalizeAccount("\xff\xfe"));
  EXPECT_FALSE(NormalizeAccount("\xC0\xAF"));  // overlong '/'
  EXPECT_FALSE(NormalizeAccount(std::string(100 * 1024, 'a')));
  EXPECT_TRUE(NormalizeAccount(std::string(kMaxAccountLength, 'a')));
}

TEST(EscapeForLog, NeverEmitsControlCharactersOrQuotes) {
  const std::string escaped = EscapeForLog("a\nb\"c\\\xff");
  EXPECT_EQ(escaped, "a\\x0ab\\x22c\\x5c\\xff");
  EXPECT_EQ(EscapeForLog(std::string(1000, 'x'), 10), "xxxxxxxxxx...");
}

TEST(ClientNetwork, GroupsIpv4By24AndIpv6By64) {
  EXPECT_EQ(*ParseClientNetwork("192.0.2.7"), *ParseClientNetwork("192.0.2.200"));
  EXPECT_NE(*ParseClientNetwork("192.0.2.7"), *ParseClientNetwork("192.0.3.7"));
  EXPECT_EQ(*ParseClientNetwork("2001:db8:1:2::1"), *ParseClientNetwork("2001:db8:1:2:ffff::1"));
  EXPECT_EQ(*ParseClientNetwork("::ffff:192.0.2.9"), *ParseClientNetwork("192.0.2.1"));
  EXPECT_EQ(FormatClientNetwork(*ParseClientNetwork("[192.0.2.7]")), "192.0.2.0/24");
  EXPECT_EQ(FormatClientNetwork(*ParseClientNetwork("2001:db8:1:2::1")), "2001:db8:1:2::/64");
  EXPECT_FALSE(ParseClientNetwork("not-an-ip"));
  EXPECT_FALSE(ParseClientNetwork(""));
}

}  // namespace
}  // namespace senderwatch
