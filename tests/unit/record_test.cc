#include "senderwatch/record.h"

#include <gtest/gtest.h>

#include <random>

#include "senderwatch/account.h"

namespace senderwatch {
namespace {

constexpr UnixSeconds kT0 = 1'790'000'000;  // 2026-09

AccountRecord SampleRecord() {
  AccountRecord r;
  r.account = "alice@example.test";
  r.Count(Counter::kRecipients, kT0, 40);
  r.Count(Counter::kBounces, kT0 + 120, 13);
  r.SeeNetwork(*ParseClientNetwork("192.0.2.7"), kT0);
  r.SeeNetwork(*ParseClientNetwork("2001:db8:1:2::9"), kT0 + 60);
  r.lock.locked = true;
  r.lock.since = kT0 + 130;
  r.lock.rule = "bounce-ratio";
  r.lock.metric = Metric::kBounceRatio;
  r.lock.value = 0.325;
  r.lock.limit = 0.3;
  r.lock.window_seconds = 3600;
  r.lock.reason = "bounce_ratio 0.325 above 0.3 in 1h";
  r.lock.by = "senderwatch";
  r.lock_count = 2;
  r.last_release = {kT0 - 10, "root", "password changed"};
  r.evidence_after = kT0 - 10;
  return r;
}

TEST(RecordCodec, RoundTripsEveryField) {
  const AccountRecord r = SampleRecord();
  auto decoded = DecodeRecord(EncodeRecord(r), r.account);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(EncodeRecord(*decoded), EncodeRecord(r));
  EXPECT_EQ(decoded->account, "alice@example.test");
  EXPECT_EQ(decoded->lock.reason, r.lock.reason);
  EXPECT_EQ(decoded->network_count, 2);
  EXPECT_EQ(CounterInWindow(*decoded, Counter::kBounces, 3600, kT0 + 130), 13u);
  EXPECT_EQ(decoded->last_release.by, "root");
}

TEST(RecordCodec, StaysWithinOneLmdbPageForTypicalAccounts) {
  // LMDB keeps a node inline when 8 + key + value <= 2038 bytes (4 KiB
  // pages); larger ones cost an overflow page. A 64-byte account with an
  // automatic lock and a released lock fits; only pathological strings spill.
  AccountRecord r = SampleRecord();
  r.account = std::string(64, 'a');
  r.last_release.reason = "password changed after phishing report";
  EXPECT_LE(8 + r.account.size() + EncodeRecord(r).size(), 2038u);
  r.lock.reason = std::string(5000, 'r');
  r.last_release.reason = std::string(5000, 'r');
  r.lock.rule = std::string(500, 'x');
  EXPECT_LE(EncodeRecord(r).size(), 2000u);  // strings are bounded
}

TEST(RecordCodec, RejectsNewerVersionAsUnsupported) {
  std::string bytes = EncodeRecord(SampleRecord());
  bytes[3] = 9;
  auto decoded = DecodeRecord(bytes, "a");
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().kind, ErrorKind::kUnsupported);
}

TEST(RecordCodec, RejectsEveryTruncation) {
  const std::string bytes = EncodeRecord(SampleRecord());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeRecord(std::string_view(bytes).substr(0, n), "a")) << n;
  }
}

TEST(RecordCodec, SurvivesRandomCorruption) {
  std::mt19937 rng(42);
  const std::string good = EncodeRecord(SampleRecord());
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = good;
    bytes[rng() % bytes.size()] = static_cast<char>(rng());
    (void)DecodeRecord(bytes, "a");  // must not crash; ASan/UBSan check the rest
  }
}

TEST(AccountRecord, ForgetsOldestNetworkWhenFull) {
  AccountRecord r;
  for (int i = 0; i < kMaxNetworks + 3; ++i) {
    r.SeeNetwork(*ParseClientNetwork("10." + std::to_string(i) + ".0.1"), kT0 + i * 60);
  }
  EXPECT_EQ(r.network_count, kMaxNetworks);
  EXPECT_EQ(NetworksInWindow(r, 3600, kT0 + 30 * 60), static_cast<uint64_t>(kMaxNetworks));
  EXPECT_EQ(NetworksInWindow(r, 600, kT0 + 18 * 60), 10u);
}

TEST(AccountRecord, HourWindowsUseHourSlots) {
  AccountRecord r;
  r.Count(Counter::kRecipients, kT0, 5);
  r.Count(Counter::kRecipients, kT0 + 5 * 3600, 7);
  EXPECT_EQ(CounterInWindow(r, Counter::kRecipients, 24 * 3600, kT0 + 5 * 3600), 12u);
  EXPECT_EQ(CounterInWindow(r, Counter::kRecipients, 3600, kT0 + 5 * 3600), 7u);
  EXPECT_EQ(CounterInWindow(r, Counter::kRecipients, 2 * 3600, kT0 + 5 * 3600), 7u);
}

TEST(AccountRecord, EvidenceFloorHidesEventsBeforeRelease) {
  AccountRecord r;
  r.Count(Counter::kBounces, kT0, 30);
  r.Count(Counter::kBounces, kT0 + 300, 2);
  EXPECT_EQ(CounterInWindow(r, Counter::kBounces, 3600, kT0 + 300, kT0 + 60), 2u);
}

}  // namespace
}  // namespace senderwatch
