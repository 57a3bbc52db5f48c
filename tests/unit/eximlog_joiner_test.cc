// The message-id join: failures attributed to the account that submitted
// the message, recipients counted once, with and without the "for" list,
// cutthrough lines before their arrival, and memory that does not grow with
// the log.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "eximlog/joiner.h"
#include "eximlog/log_line.h"
#include "eximlog/string_table.h"
#include "unit/eximlog_samples.h"

namespace senderwatch::eximlog {
namespace {

struct Totals {
  uint64_t recipients = 0;
  uint64_t bounces = 0;
  uint64_t defers = 0;
  uint64_t authfails = 0;
  std::vector<std::string> bounced;
  std::vector<std::string> ips;
  std::vector<std::string> senders;
  std::vector<std::string> rcpts;
  friend bool operator==(const Totals&, const Totals&) = default;
};

class RecordingSink final : public EventSink {
 public:
  void OnRecipient(UnixSeconds, AccountRef account, std::string_view ip, std::string_view sender,
                   std::string_view recipient) override {
    Totals& t = by_account[std::string(account.name)];
    ++t.recipients;
    t.ips.emplace_back(ip);
    t.senders.emplace_back(sender);
    t.rcpts.emplace_back(recipient);
  }
  void OnBounce(UnixSeconds, AccountRef account, std::string_view rcpt, std::string_view) override {
    Totals& t = by_account[std::string(account.name)];
    ++t.bounces;
    t.bounced.emplace_back(rcpt);
  }
  void OnDefer(UnixSeconds, AccountRef account, std::string_view, std::string_view) override {
    ++by_account[std::string(account.name)].defers;
  }
  void OnAuthfail(UnixSeconds, AccountRef account, std::string_view) override {
    ++by_account[std::string(account.name)].authfails;
  }
  std::map<std::string, Totals> by_account;
};

void FeedLog(Joiner& joiner, std::string_view log) {
  TimestampParser times(TimestampParser::Zone::kUtc);
  LogLine line;
  while (!log.empty()) {
    const size_t nl = log.find('\n');
    ParseLine(log.substr(0, nl), times, line);
    joiner.Feed(line);
    if (nl == std::string_view::npos) break;
    log.remove_prefix(nl + 1);
  }
}

// Local submissions (sendmail run by www-data, as a web script does) are the
// login's, like $authenticated_id in acl_not_smtp; Exim's bounces, root's
// mail and, with local_submissions off, every local submission are nobody's.
constexpr std::string_view kLocalLog =
    "2026-12-07 21:45:57 1xagWy-0007ky-34 <= www-data@mx.example.test U=www-data P=local S=552 "
    "T=\"spam run\" for bad1@remote.test ok1@remote.test\n"
    "2026-12-07 21:45:57 1xagWy-0007ky-34 ** bad1@remote.test R=smarthost T=smarthost_smtp "
    "H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad1@remote.test>: "
    "550 5.1.1 <bad1@remote.test>: sink says user unknown\n"
    "2026-12-07 21:45:57 1xagWy-0007ky-34 => ok1@remote.test R=smarthost T=smarthost_smtp "
    "H=127.0.0.1 [127.0.0.1]\n"
    "2026-12-07 21:45:57 1xagWz-0007l5-1J <= <> R=1xagWy-0007ky-34 U=Debian-exim P=local S=3929 "
    "T=\"Mail delivery failed: returning message to sender\" for www-data@mx.example.test\n"
    "2026-12-07 21:45:57 1xagWy-0007ky-34 Completed\n"
    "2026-12-07 21:45:58 1xagX0-0007lZ-2b <= root@mx.example.test U=root P=local S=331 "
    "T=\"root report\" for root-report@remote.test\n"
    "2026-12-07 21:45:58 1xagX0-0007lP-14 <= backup@mx.example.test U=backup P=local S=383 "
    "T=\"U=evil P=local\" for admin1@remote.test\n"
    "2026-12-07 21:45:58 1xagX0-0007lQ-15 <= alice@example.test H=(client.test) [127.0.0.1] "
    "P=esmtpa A=plain:alice S=383 for x@remote.test\n";

class LocalSink final : public EventSink {
 public:
  void OnRecipient(UnixSeconds, AccountRef account, std::string_view ip, std::string_view,
                   std::string_view recipient) override {
    events.push_back("rcpt " + std::string(account.name) + (account.local ? " local " : " smtp ") +
                     std::string(recipient) + " ip=" + std::string(ip));
  }
  void OnBounce(UnixSeconds, AccountRef account, std::string_view rcpt, std::string_view) override {
    events.push_back("bounce " + std::string(account.name) + (account.local ? " local " : " smtp ") +
                     std::string(rcpt));
  }
  void OnDefer(UnixSeconds, AccountRef, std::string_view, std::string_view) override {}
  void OnAuthfail(UnixSeconds, AccountRef, std::string_view) override {}
  std::vector<std::string> events;
};

TEST(EximLogJoiner, LocalSubmissionsBelongToTheCallingLogin) {
  LocalSink sink;
  Joiner joiner(sink);
  FeedLog(joiner, kLocalLog);
  EXPECT_EQ(sink.events, (std::vector<std::string>{
                             "rcpt www-data local bad1@remote.test ip=",
                             "rcpt www-data local ok1@remote.test ip=",
                             "bounce www-data local bad1@remote.test",
                             "rcpt backup local admin1@remote.test ip=",
                             "rcpt alice smtp x@remote.test ip=127.0.0.1"}));
  EXPECT_EQ(joiner.stats().local_messages, 2u);
  EXPECT_EQ(joiner.stats().authenticated_messages, 1u);

  LocalSink off_sink;
  JoinOptions off;
  off.local_submissions = false;
  Joiner off_joiner(off_sink, off);
  FeedLog(off_joiner, kLocalLog);
  EXPECT_EQ(off_sink.events, std::vector<std::string>{"rcpt alice smtp x@remote.test ip=127.0.0.1"});
}

TEST(EximLogLine, LocalArrivalIsParsedForAccounts) {
  const std::string line =
      "2026-12-07 21:45:57 1xagWy-0007ky-34 <= www-data@mx.example.test U=www-data P=local S=552 "
      "for a@b.test";
  TimestampParser times(TimestampParser::Zone::kUtc);
  LogLine out;
  const size_t body = ParseHeader(line, times, out);
  ParseBodyForAccounts(line, body, out);
  EXPECT_EQ(out.kind, LineKind::kArrival);
  EXPECT_EQ(out.ident, "www-data");
  EXPECT_EQ(out.protocol, "local");
  EXPECT_EQ(out.recipients, "a@b.test");
}

TEST(EximLogJoiner, DefaultSelectorAttributesFailuresToTheSubmittingAccount) {
  RecordingSink sink;
  Joiner joiner(sink);
  FeedLog(joiner, senderwatch::testing::kDefaultSelectorLog);
  ASSERT_EQ(sink.by_account.size(), 2u);
  const Totals& alice = sink.by_account.at("alice");
  // Without a "for" list each top-level recipient counts at its first line:
  // 6 of the 7 RCPTs of the first message (bob@ was also reached through
  // list@ and Exim logs the duplicate nowhere), 2 rejected RCPTs, good4,
  // ct1 (cutthrough), someone@down.test and bad3.
  EXPECT_EQ(alice.recipients, 12u);
  // Including bad3, sent by alice with a forged sender: the account counts,
  // not the envelope sender.
  EXPECT_EQ(alice.bounced, (std::vector<std::string>{"someone@nowhere.test", "nosuchuser@example.test",
                                                     "bad1@remote.test", "bad3@remote.test"}));
  // tmp1 and down.test twice each (first try and -qff); "retry time not
  // reached" is not a try.
  EXPECT_EQ(alice.defers, 4u);
  EXPECT_EQ(alice.authfails, 1u);
  const Totals& bob = sink.by_account.at("bob");
  EXPECT_EQ(bob.recipients, 3u);
  EXPECT_EQ(bob.bounced, std::vector<std::string>{"bad2@remote.test"});
  EXPECT_EQ(bob.authfails, 1u);
  for (const auto& ip : alice.ips) EXPECT_EQ(ip, "127.0.0.1");
  // What check_sender gets as rcpt= and sender=: the original recipients
  // (list@, not its members), the rejected RCPTs, and the envelope sender,
  // the forged one of the last message included.
  EXPECT_EQ(alice.rcpts, (std::vector<std::string>{
                             "someone@nowhere.test", "nosuchuser@example.test", "list@example.test",
                             "good@remote.test", "bad1@remote.test", "tmp1@remote.test",
                             "reject-me@remote.test", "defer-me@remote.test", "good4@remote.test",
                             "ct1@remote.test", "someone@down.test", "bad3@remote.test"}));
  EXPECT_EQ(alice.senders.front(), "alice@example.test");
  EXPECT_EQ(alice.senders.back(), "nosuch@example.test");

  const JoinStats& stats = joiner.stats();
  EXPECT_EQ(stats.messages, 11u);
  EXPECT_EQ(stats.authenticated_messages, 6u);
  EXPECT_EQ(stats.bounce_messages, 3u);
  EXPECT_EQ(stats.retry_skips, 2u);
  EXPECT_EQ(stats.rejected_rcpts, 2u);
  // The frozen bounce's own failures (twice) belong to no account.
  EXPECT_EQ(stats.unattributed_failures, 2u);
  // Still in the queue: the first message (tmp1) and the one to down.test.
  EXPECT_EQ(stats.open_messages, 2u);
}

TEST(EximLogJoiner, ReceivedRecipientsCountsAtArrivalAndGivesTheSameFailures) {
  RecordingSink with_list;
  Joiner joiner_all(with_list);
  FeedLog(joiner_all, senderwatch::testing::kAllSelectorLog);
  RecordingSink without_list;
  Joiner joiner_default(without_list);
  FeedLog(joiner_default, senderwatch::testing::kDefaultSelectorLog);
  // One more recipient: the duplicate bob@ is in the "for" list.
  EXPECT_EQ(with_list.by_account.at("alice").recipients, 13u);
  EXPECT_EQ(std::vector<std::string>(with_list.by_account.at("alice").rcpts.begin(),
                                     with_list.by_account.at("alice").rcpts.begin() + 7),
            (std::vector<std::string>{"bob@example.test", "nosuchuser@example.test",
                                      "someone@nowhere.test", "good@remote.test", "bad1@remote.test",
                                      "tmp1@remote.test", "list@example.test"}));
  EXPECT_EQ(with_list.by_account.at("bob").recipients, 3u);
  for (const char* account : {"alice", "bob"}) {
    const Totals& a = with_list.by_account.at(account);
    const Totals& b = without_list.by_account.at(account);
    EXPECT_EQ(a.bounced, b.bounced) << account;
    EXPECT_EQ(a.defers, b.defers) << account;
    EXPECT_EQ(a.authfails, b.authfails) << account;
  }
}

LogLine Line(std::string_view text) {
  static TimestampParser times(TimestampParser::Zone::kUtc);
  LogLine line;
  ParseLine(text, times, line);
  return line;
}

TEST(EximLogJoiner, AccountsAreNormalisedAndInvalidIdsSkipped) {
  RecordingSink sink;
  Joiner joiner(sink);
  joiner.Feed(Line("2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= a@x H=[192.0.2.1] P=esmtpa A=plain:Alice S=1 for r@x"));
  joiner.Feed(Line("2026-11-27 10:00:01 1xWxMU-0001Pl-1L <= a@x H=[192.0.2.1] P=esmtpa A=login:alice S=1 for r@x s@x"));
  joiner.Feed(Line(std::string("2026-11-27 10:00:02 1xWxMU-0001Pl-1M <= a@x H=[192.0.2.1] P=esmtpa A=plain:") +
                   std::string(300, 'z') + " S=1 for r@x"));
  ASSERT_EQ(sink.by_account.size(), 1u);
  EXPECT_EQ(sink.by_account.at("alice").recipients, 3u);
  EXPECT_EQ(joiner.account_count(), 1u);
  EXPECT_EQ(joiner.stats().invalid_accounts, 1u);
}

TEST(EximLogJoiner, EachRecipientCountsOnceAcrossRetries) {
  RecordingSink sink;
  Joiner joiner(sink);
  joiner.Feed(Line("2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= a@x H=[192.0.2.1] P=esmtpa A=plain:alice S=1"));
  joiner.Feed(Line("2026-11-27 10:00:01 1xWxMU-0001Pl-1K == t@remote.test R=r T=t defer (-44): 451 later"));
  joiner.Feed(Line("2026-11-27 10:15:01 1xWxMU-0001Pl-1K == T@Remote.Test R=r T=t defer (-44): 451 later"));
  joiner.Feed(Line("2026-11-27 10:30:01 1xWxMU-0001Pl-1K ** t@remote.test R=r T=t: 550 gone"));
  joiner.Feed(Line("2026-11-27 10:30:02 1xWxMU-0001Pl-1K Completed"));
  joiner.Feed(Line("2026-11-27 10:30:03 1xWxMU-0001Pl-1K ** late@remote.test R=r T=t: 550 gone"));
  const Totals& alice = sink.by_account.at("alice");
  EXPECT_EQ(alice.recipients, 1u);
  EXPECT_EQ(alice.defers, 2u);
  EXPECT_EQ(alice.bounces, 1u);
  EXPECT_EQ(joiner.stats().open_messages, 0u);
  EXPECT_EQ(joiner.stats().unattributed_failures, 1u);
}

TEST(EximLogJoiner, CutthroughBeforeArrivalOfAnUnauthenticatedMessageIsForgotten) {
  RecordingSink sink;
  Joiner joiner(sink);
  joiner.Feed(Line("2026-11-27 10:00:00 1xWxMU-0001Pl-1K >> r@remote.test R=r T=t H=h [192.0.2.9]"));
  EXPECT_EQ(joiner.stats().open_messages, 1u);
  joiner.Feed(Line("2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= a@x H=[192.0.2.1] P=esmtp S=1"));
  EXPECT_EQ(joiner.stats().open_messages, 0u);
  EXPECT_TRUE(sink.by_account.empty());
}

TEST(EximLogJoiner, MemoryIsBoundedByOpenMessagesNotLogLength) {
  RecordingSink sink;
  JoinOptions options;
  options.max_message_idle_seconds = 86400;
  Joiner joiner(sink, options);
  // 3000 authenticated messages over 3000 minutes; none ever completes.
  char id[] = "1xWxMU-0000000-AA";
  for (int i = 0; i < 3000; ++i) {
    std::snprintf(id, sizeof id, "1xWxMU-%06d-AA", i);
    const UnixSeconds t = 1795737600 + i * 60;
    LogLine line;
    line.kind = LineKind::kArrival;
    line.time = t;
    line.message_id = id;
    line.sender = "a@x";
    line.auth_id = "alice";
    line.client_ip = "192.0.2.1";
    joiner.Feed(line);
  }
  // Only the last day (plus at most an hour between sweeps) is held.
  EXPECT_LE(joiner.stats().open_messages, 24u * 60 + 60);
  EXPECT_GT(joiner.stats().evicted_messages, 1400u);
}

TEST(EximLogStringTable, FindsWhatWasInsertedAcrossGrowth) {
  StringTable table;
  for (uint32_t i = 0; i < 5000; ++i) table.Insert("user" + std::to_string(i) + "@example.net", i);
  table.Insert("", 99999);
  EXPECT_EQ(table.size(), 5001u);
  for (uint32_t i = 0; i < 5000; ++i) {
    const uint32_t* value = table.Find("user" + std::to_string(i) + "@example.net");
    ASSERT_NE(value, nullptr) << i;
    EXPECT_EQ(*value, i);
  }
  ASSERT_NE(table.Find(""), nullptr);
  EXPECT_EQ(*table.Find(""), 99999u);
  EXPECT_EQ(table.Find("user5000@example.net"), nullptr);
  EXPECT_EQ(table.Find("user1@example.ne"), nullptr);
}

}  // namespace
}  // namespace senderwatch::eximlog
