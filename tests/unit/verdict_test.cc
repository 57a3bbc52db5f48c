#include "senderwatch/verdict.h"

#include <gtest/gtest.h>

namespace senderwatch {
namespace {

TEST(FormatVerdict, MatchesTheEximContract) {
  Verdict ok;
  EXPECT_EQ(FormatVerdict(ok), "verdict=ok");
  Verdict defer;
  defer.action = Action::kDefer;
  defer.rule = "bounce-flood";
  defer.metric = Metric::kBounces;
  defer.value = 63;
  defer.limit = 50;
  defer.window_seconds = 3600;
  EXPECT_EQ(FormatVerdict(defer),
            "verdict=defer rule=bounce-flood metric=bounces value=63 limit=50 window=1h");
  Verdict lock = defer;
  lock.action = Action::kLock;
  lock.rule = "bounce-ratio";
  lock.metric = Metric::kBounceRatio;
  lock.value = 0.45;
  lock.limit = 0.3;
  lock.since = 1795773731;
  lock.reason = "said \"hi\"\nthere";
  EXPECT_EQ(FormatVerdict(lock),
            "verdict=lock rule=bounce-ratio metric=bounce_ratio value=0.45 limit=0.3 window=1h "
            "since=2026-11-27T10:02:11Z reason=\"said 'hi' there\"");
}

TEST(FormatVerdict, ErrorIsQuotedAndSingleLine) {
  Verdict v;
  v.error = "mdb_env_open /x: Permission denied\n";
  EXPECT_EQ(FormatVerdict(v), "verdict=ok error=\"mdb_env_open /x: Permission denied \"");
}

}  // namespace
}  // namespace senderwatch
