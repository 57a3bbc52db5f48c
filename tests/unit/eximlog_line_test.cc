// The main-log line parser on lines written by a real Exim 4.96 under three
// log_selector settings (eximlog_samples.h), plus the hostile and damaged
// lines a parser of client-influenced text must survive.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "eximlog/log_line.h"
#include "eximlog/timestamp.h"
#include "unit/eximlog_samples.h"

namespace senderwatch::eximlog {
namespace {

using senderwatch::testing::kAllSelectorLog;
using senderwatch::testing::kBerlinLog;
using senderwatch::testing::kDefaultSelectorLog;
using senderwatch::testing::kPidMillisecRecipientsLog;

// 2026-11-27 00:00:00 UTC
constexpr UnixSeconds kDay = 1795737600;

std::vector<std::string_view> Lines(std::string_view log) {
  std::vector<std::string_view> lines;
  while (!log.empty()) {
    const size_t nl = log.find('\n');
    lines.push_back(log.substr(0, nl));
    if (nl == std::string_view::npos) break;
    log.remove_prefix(nl + 1);
  }
  return lines;
}

// The first line of `log` containing every needle (the test fails if none).
std::string_view Find(std::string_view log, std::initializer_list<std::string_view> needles) {
  for (std::string_view line : Lines(log)) {
    bool all = true;
    for (std::string_view needle : needles) all = all && line.find(needle) != std::string_view::npos;
    if (all) return line;
  }
  ADD_FAILURE() << "no sample line with " << *needles.begin();
  return {};
}

LogLine Parse(std::string_view text) {
  TimestampParser times(TimestampParser::Zone::kUtc);
  LogLine line;
  ParseLine(text, times, line);
  return line;
}

struct Selector {
  const char* name;
  std::string_view log;
};

class RealExim : public ::testing::TestWithParam<Selector> {};

INSTANTIATE_TEST_SUITE_P(
    LogSelectors, RealExim,
    ::testing::Values(Selector{"default", kDefaultSelectorLog}, Selector{"all", kAllSelectorLog},
                      Selector{"pid_millisec_recipients", kPidMillisecRecipientsLog}),
    [](const ::testing::TestParamInfo<Selector>& param_info) { return std::string(param_info.param.name); });

TEST_P(RealExim, EveryLineHasATimestampAndNoneIsMalformed) {
  size_t lines = 0;
  for (std::string_view text : Lines(GetParam().log)) {
    if (text.empty()) continue;
    ++lines;
    const LogLine line = Parse(text);
    EXPECT_NE(line.kind, LineKind::kMalformed) << text;
    EXPECT_GE(line.time, kDay + 14 * 3600) << text;
    EXPECT_LT(line.time, kDay + 15 * 3600) << text;
  }
  EXPECT_GT(lines, 40u);
}

TEST_P(RealExim, AuthenticatedArrivalNamesAccountClientAndProtocol) {
  const LogLine line = Parse(Find(GetParam().log, {"<= alice@example.test", "A=plain:alice"}));
  ASSERT_EQ(line.kind, LineKind::kArrival);
  EXPECT_EQ(line.message_id.size(), 16u);
  EXPECT_TRUE(IsMessageId(line.message_id));
  EXPECT_EQ(line.sender, "alice@example.test");
  EXPECT_EQ(line.authenticator, "plain");
  EXPECT_EQ(line.auth_id, "alice");
  EXPECT_EQ(line.client_ip, "127.0.0.1");
  EXPECT_EQ(line.protocol, "esmtpa");
  EXPECT_TRUE(line.bounce_of.empty());
}

TEST_P(RealExim, LoginAuthenticatorArrival) {
  const LogLine line = Parse(Find(GetParam().log, {"<= bob@example.test", "A=login:bob"}));
  ASSERT_EQ(line.kind, LineKind::kArrival);
  EXPECT_EQ(line.authenticator, "login");
  EXPECT_EQ(line.auth_id, "bob");
}

TEST_P(RealExim, RecipientListOnlyWithReceivedRecipients) {
  const LogLine line = Parse(Find(GetParam().log, {"<= alice@example.test", "S=5"}));
  ASSERT_EQ(line.kind, LineKind::kArrival);
  if (GetParam().log == kDefaultSelectorLog) {
    EXPECT_FALSE(line.has_recipient_list);
    EXPECT_EQ(line.recipient_count, 0u);
  } else {
    EXPECT_TRUE(line.has_recipient_list);
    EXPECT_EQ(line.recipient_count, 7u);
    EXPECT_EQ(line.recipients.substr(0, 17), "bob@example.test ");
  }
}

TEST_P(RealExim, BounceArrivalRefersToTheBouncedMessage) {
  const LogLine line = Parse(Find(GetParam().log, {"<= <> R="}));
  ASSERT_EQ(line.kind, LineKind::kArrival);
  EXPECT_EQ(line.sender, "<>");
  EXPECT_TRUE(IsMessageId(line.bounce_of));
  EXPECT_EQ(line.ident, "Debian-exim");
  EXPECT_EQ(line.protocol, "local");
  EXPECT_TRUE(line.auth_id.empty());
  EXPECT_TRUE(line.client_ip.empty());
}

TEST_P(RealExim, UnauthenticatedAndLocalArrivalsHaveNoAccount) {
  const LogLine smtp = Parse(Find(GetParam().log, {"<= carol@remote.test"}));
  ASSERT_EQ(smtp.kind, LineKind::kArrival);
  EXPECT_TRUE(smtp.auth_id.empty());
  EXPECT_EQ(smtp.protocol, "esmtp");
  EXPECT_EQ(smtp.client_ip, "127.0.0.1");
  const LogLine local = Parse(Find(GetParam().log, {"<= root@example.test"}));
  ASSERT_EQ(local.kind, LineKind::kArrival);
  EXPECT_TRUE(local.auth_id.empty());
  EXPECT_EQ(local.ident, "root");
  EXPECT_EQ(local.protocol, "local");
}

TEST_P(RealExim, AliasDeliveryNamesTheOriginalRecipient) {
  const LogLine line = Parse(Find(GetParam().log, {"=> carol <list@example.test>"}));
  ASSERT_EQ(line.kind, LineKind::kDelivery);
  EXPECT_EQ(line.address, "carol");
  EXPECT_EQ(line.top_address, "list@example.test");
  EXPECT_FALSE(line.cutthrough);
}

TEST_P(RealExim, RemoteDeliveryAndSharedDelivery) {
  const LogLine first = Parse(Find(GetParam().log, {"=> good2@remote.test"}));
  ASSERT_EQ(first.kind, LineKind::kDelivery);
  EXPECT_EQ(first.address, "good2@remote.test");
  EXPECT_EQ(first.top_address, "good2@remote.test");
  const LogLine shared = Parse(Find(GetParam().log, {"-> good3@remote.test"}));
  ASSERT_EQ(shared.kind, LineKind::kDelivery);
  EXPECT_EQ(shared.top_address, "good3@remote.test");
}

TEST_P(RealExim, CutthroughDelivery) {
  const LogLine line = Parse(Find(GetParam().log, {">> ct1@remote.test"}));
  ASSERT_EQ(line.kind, LineKind::kDelivery);
  EXPECT_TRUE(line.cutthrough);
  EXPECT_EQ(line.top_address, "ct1@remote.test");
}

TEST_P(RealExim, RemoteHardFailure) {
  const LogLine line = Parse(Find(GetParam().log, {"** bad1@remote.test"}));
  ASSERT_EQ(line.kind, LineKind::kFailure);
  EXPECT_EQ(line.address, "bad1@remote.test");
  EXPECT_EQ(line.top_address, "bad1@remote.test");
  EXPECT_TRUE(line.reason.starts_with("SMTP error from remote mail server after RCPT TO:<bad1@remote.test>: 550 5.1.1"))
      << line.reason;
}

TEST_P(RealExim, RoutingFailures) {
  const LogLine unroutable = Parse(Find(GetParam().log, {"** someone@nowhere.test"}));
  ASSERT_EQ(unroutable.kind, LineKind::kFailure);
  EXPECT_EQ(unroutable.address, "someone@nowhere.test");
  EXPECT_TRUE(unroutable.reason.starts_with("Unrouteable address")) << unroutable.reason;
  const LogLine unknown = Parse(Find(GetParam().log, {"** nosuchuser@example.test"}));
  ASSERT_EQ(unknown.kind, LineKind::kFailure);
  EXPECT_EQ(unknown.address, "nosuchuser@example.test");
  EXPECT_TRUE(unknown.reason.starts_with("No such user here")) << unknown.reason;
}

TEST_P(RealExim, Deferrals) {
  const LogLine remote = Parse(Find(GetParam().log, {"== tmp1@remote.test", "451"}));
  ASSERT_EQ(remote.kind, LineKind::kDeferral);
  EXPECT_EQ(remote.address, "tmp1@remote.test");
  EXPECT_FALSE(remote.retry_skipped);
  EXPECT_TRUE(remote.reason.starts_with("SMTP error")) << remote.reason;
  const LogLine refused = Parse(Find(GetParam().log, {"== someone@down.test"}));
  ASSERT_EQ(refused.kind, LineKind::kDeferral);
  EXPECT_FALSE(refused.retry_skipped);
  EXPECT_TRUE(refused.reason.starts_with("Connection refused")) << refused.reason;
}

TEST_P(RealExim, CompletedAndOtherMessageLines) {
  EXPECT_EQ(Parse(Find(GetParam().log, {"Completed"})).kind, LineKind::kCompleted);
  EXPECT_EQ(Parse(Find(GetParam().log, {"Frozen (delivery error message)"})).kind, LineKind::kOther);
  EXPECT_EQ(Parse(Find(GetParam().log, {"Connection refused"})).kind, LineKind::kOther);
  EXPECT_EQ(Parse(Find(GetParam().log, {"Start queue run"})).kind, LineKind::kOther);
  EXPECT_EQ(Parse(Find(GetParam().log, {"daemon started"})).kind, LineKind::kOther);
}

TEST_P(RealExim, RejectedRcptOfAnAuthenticatedClient) {
  const LogLine hard = Parse(Find(GetParam().log, {" rejected RCPT <reject-me@remote.test>"}));
  ASSERT_EQ(hard.kind, LineKind::kRejectedRcpt);
  EXPECT_TRUE(hard.message_id.empty());
  EXPECT_FALSE(hard.temporary);
  EXPECT_EQ(hard.auth_id, "alice");
  EXPECT_EQ(hard.sender, "alice@example.test");
  EXPECT_EQ(hard.client_ip, "127.0.0.1");
  EXPECT_EQ(hard.address, "reject-me@remote.test");
  EXPECT_EQ(hard.reason, "550 5.7.1 refused by policy test");
  const LogLine soft = Parse(Find(GetParam().log, {"temporarily rejected RCPT <defer-me@remote.test>"}));
  ASSERT_EQ(soft.kind, LineKind::kRejectedRcpt);
  EXPECT_TRUE(soft.temporary);
  EXPECT_EQ(soft.auth_id, "alice");
}

TEST_P(RealExim, AuthenticatorFailures) {
  const LogLine plain = Parse(Find(GetParam().log, {"plain authenticator failed"}));
  ASSERT_EQ(plain.kind, LineKind::kAuthFailure);
  EXPECT_EQ(plain.authenticator, "plain");
  EXPECT_EQ(plain.user, "alice");
  EXPECT_EQ(plain.client_ip, "127.0.0.1");
  const LogLine login = Parse(Find(GetParam().log, {"login authenticator failed"}));
  ASSERT_EQ(login.kind, LineKind::kAuthFailure);
  EXPECT_EQ(login.user, "bob");
}

TEST(EximLogLine, AllSelectorFieldsDoNotConfuseTheParser) {
  const LogLine line = Parse(Find(kAllSelectorLog, {"<= alice@example.test", "T=\"test one\""}));
  ASSERT_EQ(line.kind, LineKind::kArrival);
  EXPECT_EQ(line.client_ip, "127.0.0.1");  // "[127.0.0.1]:35042 I=[127.0.0.1]:24627"
  EXPECT_EQ(line.auth_id, "alice");
  EXPECT_EQ(line.recipient_count, 7u);
  const LogLine failure = Parse(Find(kAllSelectorLog, {"** someone@nowhere.test F=<alice@example.test>:"}));
  ASSERT_EQ(failure.kind, LineKind::kFailure);
  EXPECT_EQ(failure.address, "someone@nowhere.test");
  EXPECT_TRUE(failure.reason.starts_with("Unrouteable address")) << failure.reason;
  const LogLine delivered = Parse(Find(kAllSelectorLog, {"=> bob <list@example.test> F=<alice@example.test> P=<alice"}));
  EXPECT_EQ(delivered.top_address, "list@example.test");
}

TEST(EximLogLine, RetryTimeNotReachedIsNotAnAttempt) {
  const LogLine routing = Parse(Find(kDefaultSelectorLog, {"routing defer (-52): retry time not reached"}));
  ASSERT_EQ(routing.kind, LineKind::kDeferral);
  EXPECT_TRUE(routing.retry_skipped);
  const LogLine host = Parse(Find(kBerlinLog, {"defer (-54): retry time not reached for any host"}));
  ASSERT_EQ(host.kind, LineKind::kDeferral);
  EXPECT_TRUE(host.retry_skipped);
  // A remote server cannot fake it in its error text.
  const LogLine faked = Parse(
      "2026-11-27 14:55:42 1xWxMU-0001Pl-1K == x@remote.test R=remote T=remote_smtp defer (-44) "
      "H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<x@remote.test>: "
      "451 retry time not reached");
  EXPECT_FALSE(faked.retry_skipped);
}

TEST(EximLogLine, TimeZoneOffsetsAreHonoured) {
  // "2026-11-27 15:56:11.578 +0100" is 14:56:11 UTC.
  const LogLine berlin = Parse(Find(kBerlinLog, {"<= alice@example.test"}));
  EXPECT_EQ(berlin.time, kDay + 14 * 3600 + 56 * 60 + 11);
  const LogLine utc = Parse(Find(kPidMillisecRecipientsLog, {"<= alice@example.test"}));
  EXPECT_EQ(utc.time, kDay + 14 * 3600 + 55 * 60 + 57);
}

TEST(EximLogLine, PidAndMillisecondsPrefix) {
  const LogLine line = Parse("2026-11-27 14:55:49.827 [5540] 1xWxMb-0001RM-2f Completed QT=0.011s");
  EXPECT_EQ(line.kind, LineKind::kCompleted);
  EXPECT_EQ(line.message_id, "1xWxMb-0001RM-2f");
  EXPECT_EQ(line.time, kDay + 14 * 3600 + 55 * 60 + 49);
}

TEST(EximLogLine, LongMessageIdsOfExim497) {
  const LogLine line = Parse(
      "2026-11-27 10:00:00 1rDdI7-00000000Sdw-1xyz <= a@example.test H=(h) [192.0.2.7]:587 "
      "P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:a@example.test S=900");
  ASSERT_EQ(line.kind, LineKind::kArrival);
  EXPECT_EQ(line.message_id, "1rDdI7-00000000Sdw-1xyz");
  EXPECT_EQ(line.authenticator, "dovecot_plain");
  EXPECT_EQ(line.auth_id, "a@example.test");
  EXPECT_EQ(line.client_ip, "192.0.2.7");
}

TEST(EximLogLine, Ipv6ClientsAndHostNames) {
  const LogLine line = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= a@example.test H=client.example.net (laptop) "
      "[2001:db8:1:2::7]:50123 P=esmtpa A=login:a S=1");
  ASSERT_EQ(line.kind, LineKind::kArrival);
  EXPECT_EQ(line.client_ip, "2001:db8:1:2::7");
  const LogLine bare = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= a@example.test H=[192.0.2.1] P=esmtpa A=login:a S=1");
  EXPECT_EQ(bare.client_ip, "192.0.2.1");
}

TEST(EximLogLine, MailauthSuffixIsNotPartOfTheId) {
  const LogLine line = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= a@example.test H=[192.0.2.1] P=esmtpa "
      "A=plain:alice:alice@example.test S=1");
  EXPECT_EQ(line.auth_id, "alice");
  const LogLine no_id = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= a@example.test H=[192.0.2.1] P=esmtpa A=cram S=1");
  EXPECT_EQ(no_id.authenticator, "cram");
  EXPECT_TRUE(no_id.auth_id.empty());
}

TEST(EximLogLine, ClientControlledTextCannotPoseAsAuthentication) {
  // Subject, Message-ID and a quoted sender local part are the client's.
  const LogLine subject = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= x@example.test H=[192.0.2.1] P=esmtp S=1 "
      "id=abc@x T=\"hi \\\" A=plain:bob for a b c\" from <x@example.test>");
  ASSERT_EQ(subject.kind, LineKind::kArrival);
  EXPECT_TRUE(subject.auth_id.empty());
  EXPECT_FALSE(subject.has_recipient_list);
  const LogLine sender = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= \"a A=plain:bob\"@example.test H=[192.0.2.1] "
      "P=esmtp S=1");
  ASSERT_EQ(sender.kind, LineKind::kArrival);
  EXPECT_EQ(sender.sender, "\"a A=plain:bob\"@example.test");
  EXPECT_TRUE(sender.auth_id.empty());
  const LogLine message_id = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= x@example.test H=[192.0.2.1] P=esmtp S=1 "
      "id=\"a A=plain:bob for q r\"@x");
  EXPECT_TRUE(message_id.auth_id.empty());
  EXPECT_FALSE(message_id.has_recipient_list);
  const LogLine helo = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= x@example.test H=(junk A=plain:bob) "
      "[192.0.2.1] P=esmtp S=1");
  EXPECT_TRUE(helo.auth_id.empty());
  EXPECT_EQ(helo.client_ip, "192.0.2.1");
}

TEST(EximLogLine, AllParentsFormat) {
  const LogLine line = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K => bob (alias2@example.test, alias1@example.test) "
      "<list@example.test> R=localuser T=local_file");
  ASSERT_EQ(line.kind, LineKind::kDelivery);
  EXPECT_EQ(line.address, "bob");
  EXPECT_EQ(line.top_address, "list@example.test");
  const LogLine failed = Parse(
      "2026-11-27 10:00:00 1xWxMU-0001Pl-1K ** gone@remote.test <list@example.test>: "
      "Unrouteable address");
  ASSERT_EQ(failed.kind, LineKind::kFailure);
  EXPECT_EQ(failed.address, "gone@remote.test");
  EXPECT_EQ(failed.top_address, "list@example.test");
  EXPECT_EQ(failed.reason, "Unrouteable address");
}

TEST(EximLogLine, DamagedLinesAreMalformedNotFatal) {
  for (std::string_view text :
       {std::string_view(""), std::string_view("garbage"), std::string_view("2026-11-27"),
        std::string_view("2026-11-27 10:00"), std::string_view("2026-13-27 10:00:00 x"),
        std::string_view("2026-11-27 10:61:00 x"), std::string_view("2026-11-27 10:00:00.x y"),
        std::string_view("2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= "),
        std::string_view("2026-11-27 10:00:00 1xWxMU-0001Pl-1K ** "),
        std::string_view("2026-11-27 10:00:00 H=nonsense rejected RCPT <x"),
        std::string_view("  continuation of a previous line"),
        std::string_view("\xff\xfe\x00\x01", 4)}) {
    EXPECT_EQ(Parse(text).kind, LineKind::kMalformed) << text;
  }
  // Well-formed lines of no interest are "other", not malformed.
  EXPECT_EQ(Parse("2026-11-27 10:00:00 1xWxMU-0001Pl-1K").kind, LineKind::kOther);
  EXPECT_EQ(Parse("2026-11-27 10:00:00 exim 4.96 daemon started").kind, LineKind::kOther);
  EXPECT_EQ(Parse("2026-11-27 10:00:00").kind, LineKind::kOther);
  // A carriage return (a log copied through Windows) is tolerated.
  EXPECT_EQ(Parse("2026-11-27 10:00:00 1xWxMU-0001Pl-1K Completed\r").kind, LineKind::kCompleted);
}

TEST(EximLogLine, AccountReaderSkipsFieldsOfUnauthenticatedArrivals) {
  TimestampParser times(TimestampParser::Zone::kUtc);
  for (std::string_view log : {kDefaultSelectorLog, kAllSelectorLog}) {
    for (std::string_view text : Lines(log)) {
      LogLine full;
      ParseLine(text, times, full);
      LogLine lite;
      const size_t body = ParseHeader(text, times, lite);
      ParseBodyForAccounts(text, body, lite);
      EXPECT_EQ(lite.kind, full.kind) << text;
      EXPECT_EQ(lite.sender, full.sender) << text;
      EXPECT_EQ(lite.bounce_of, full.bounce_of) << text;
      EXPECT_EQ(lite.auth_id, full.auth_id) << text;
      if (!full.auth_id.empty()) {
        EXPECT_EQ(lite.recipients, full.recipients) << text;
      }
    }
  }
}

TEST(EximLogLine, MessageIdShapes) {
  EXPECT_TRUE(IsMessageId("1xWvaM-0003ey-1X"));
  EXPECT_TRUE(IsMessageId("1rDdI7-00000000Sdw-1xyz"));
  EXPECT_FALSE(IsMessageId("1xWvaM-0003ey-1"));
  EXPECT_FALSE(IsMessageId("1xWvaM_0003ey-1X"));
  EXPECT_FALSE(IsMessageId("1xWv.M-0003ey-1X"));
  EXPECT_FALSE(IsMessageId(""));
}

TEST(EximLogTimestamp, UtcArithmetic) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(2026, 11, 27) * 86400, kDay);
  TimestampParser times(TimestampParser::Zone::kUtc);
  UnixSeconds t = 0;
  EXPECT_EQ(times.Parse("2026-11-27 23:59:59 x", t), 20u);
  EXPECT_EQ(t, kDay + 86399);
  EXPECT_EQ(times.Parse("2026-11-28 00:00:00.123 x", t), 24u);
  EXPECT_EQ(t, kDay + 86400);
  EXPECT_EQ(times.Parse("2026-11-28 00:00:00 -0130 x", t), 26u);
  EXPECT_EQ(t, kDay + 86400 + 5400);
  EXPECT_EQ(times.Parse("2026-11-28 00:00:00 +0130", t), 25u);
  EXPECT_EQ(t, kDay + 86400 - 5400);
}

TEST(EximLogTimestamp, LocalTimeFollowsTheZoneOfTheProcess) {
  if (std::FILE* zone = std::fopen("/usr/share/zoneinfo/Europe/Berlin", "rb")) {
    std::fclose(zone);
  } else {
    GTEST_SKIP() << "no tzdata (/usr/share/zoneinfo/Europe/Berlin)";
  }
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  TimestampParser times(TimestampParser::Zone::kLocal);
  UnixSeconds winter = 0;
  UnixSeconds summer = 0;
  EXPECT_GT(times.Parse("2026-11-27 15:00:00 x", winter), 0u);
  EXPECT_GT(times.Parse("2026-07-01 12:00:00 x", summer), 0u);
  if (old) setenv("TZ", saved.c_str(), 1); else unsetenv("TZ");
  tzset();
  EXPECT_EQ(winter, kDay + 14 * 3600);                           // CET, +0100
  EXPECT_EQ(summer, DaysFromCivil(2026, 7, 1) * 86400 + 10 * 3600);  // CEST, +0200
}

}  // namespace
}  // namespace senderwatch::eximlog
