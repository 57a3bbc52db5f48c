#include "senderwatch/window.h"

#include <gtest/gtest.h>

namespace senderwatch {
namespace {

using Ring = SlotRing<60, uint16_t>;

TEST(SlotRing, SumsExactlyWithinWindow) {
  Ring ring;
  ring.Add(Counter::kBounces, 1000, 3);
  ring.Add(Counter::kBounces, 1010, 4);
  ring.Add(Counter::kRecipients, 1010, 9);
  EXPECT_EQ(ring.Sum(Counter::kBounces, 1000, 1010), 7u);
  EXPECT_EQ(ring.Sum(Counter::kBounces, 1001, 1010), 4u);
  EXPECT_EQ(ring.Sum(Counter::kRecipients, 951, 1010), 9u);
}

TEST(SlotRing, ForgetsEventsOlderThanRing) {
  Ring ring;
  ring.Add(Counter::kBounces, 1000, 5);
  ring.Add(Counter::kBounces, 1059, 1);
  EXPECT_EQ(ring.Sum(Counter::kBounces, 1000, 1059), 6u);
  ring.Add(Counter::kBounces, 1060, 1);  // slot 1000 is reused for 1060
  EXPECT_EQ(ring.Sum(Counter::kBounces, 0, 1060), 2u);
}

TEST(SlotRing, ClockJumpForwardClearsEverything) {
  Ring ring;
  ring.Add(Counter::kDefers, 1000, 5);
  ring.Add(Counter::kDefers, 5000, 1);
  EXPECT_EQ(ring.Sum(Counter::kDefers, 0, 5000), 1u);
}

TEST(SlotRing, ClockJumpBackDoesNotRewriteHistory) {
  Ring ring;
  ring.Add(Counter::kBounces, 5000, 1);
  ring.Add(Counter::kBounces, 1000, 1);  // far in the past: counted at the head
  EXPECT_EQ(ring.head(), 5000u);
  EXPECT_EQ(ring.Sum(Counter::kBounces, 4941, 5000), 2u);
  ring.Add(Counter::kBounces, 4990, 1);  // still held: counted where it belongs
  EXPECT_EQ(ring.Sum(Counter::kBounces, 4990, 4990), 1u);
}

TEST(SlotRing, SaturatesInsteadOfWrapping) {
  Ring ring;
  ring.Add(Counter::kRecipients, 100, 70000);
  EXPECT_EQ(ring.Sum(Counter::kRecipients, 100, 100), 65535u);
}

}  // namespace
}  // namespace senderwatch
