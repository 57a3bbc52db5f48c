// The terminal progress bar of the log verbs (src/cli/progress_bar.h): the
// line it draws, and that it draws nothing when not on a terminal.
#include "cli/progress_bar.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace senderwatch::cli {
namespace {

TEST(ProgressBar, RendersPercentBytesRateAndEta) {
  eximlog::ScanProgress p;
  p.bytes_total = uint64_t{2} << 30;
  p.bytes_done = uint64_t{1} << 30;
  p.lines = 4000000;
  p.file_index = 1;
  p.file_count = 3;
  EXPECT_EQ(ProgressBar::Render(p, 2.0, 10),
            " 50% [#####     ] 1.0 GB of 2.0 GB  file 2/3  2.0M lines/s  ETA 0:02");
  eximlog::ScanProgress pipe;  // standard input: no size
  pipe.bytes_done = 5u << 20;
  pipe.lines = 1000;
  EXPECT_EQ(ProgressBar::Render(pipe, 0.0, 10), "5 MB");
  // Not a terminal: nothing is drawn.
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  {
    ProgressBar bar(sink, false);
    bar.Update(p);
  }
  EXPECT_EQ(std::ftell(sink), 0);
  {
    ProgressBar bar(sink, true);
    bar.Update(p);
  }
  EXPECT_GT(std::ftell(sink), 0);
  std::fclose(sink);
}

}  // namespace
}  // namespace senderwatch::cli
