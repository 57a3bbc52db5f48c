// A one-line progress bar for long log scans, drawn on a terminal:
//   " 45% [#########           ] 1.2 GB of 2.6 GB  2.1M lines/s  ETA 0:03"
// Drawn at most ten times a second and erased when done, so it never ends
// up in a redirected file: callers enable it only when stderr is a tty.
// Terminal output, so it lives with the CLI; src/eximlog only reports
// ScanProgress.
#ifndef SENDERWATCH_SRC_CLI_PROGRESS_BAR_H_
#define SENDERWATCH_SRC_CLI_PROGRESS_BAR_H_

#include <chrono>
#include <cstdio>
#include <string>

#include "eximlog/scan.h"

namespace senderwatch::cli {

class ProgressBar {
 public:
  // Draws on `out` only when `enabled`; `width` is the bar's columns.
  ProgressBar(std::FILE* out, bool enabled, int width = 24);
  ~ProgressBar() { Clear(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Feeds a ScanOptions::progress callback.
  void Update(const eximlog::ScanProgress& progress);
  // Erases the line (also done by the destructor and on `finished`).
  void Clear();

  // The text of the line for `progress` after `elapsed_seconds`, without
  // carriage return: exposed for tests.
  static std::string Render(const eximlog::ScanProgress& progress, double elapsed_seconds, int width);

 private:
  std::FILE* out_;
  bool enabled_;
  int width_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_PROGRESS_BAR_H_
