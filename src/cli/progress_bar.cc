// The terminal progress bar; see progress_bar.h.
#include "cli/progress_bar.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace senderwatch::cli {
namespace {

std::string Size(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= (uint64_t{1} << 30)) return fmt::format("{:.1f} GB", b / (1u << 30));
  if (bytes >= (uint64_t{1} << 20)) return fmt::format("{:.0f} MB", b / (1u << 20));
  return fmt::format("{:.0f} kB", b / 1024);
}

std::string Rate(double lines_per_second) {
  if (lines_per_second >= 1e6) return fmt::format("{:.1f}M lines/s", lines_per_second / 1e6);
  return fmt::format("{:.0f}k lines/s", lines_per_second / 1e3);
}

}  // namespace

ProgressBar::ProgressBar(std::FILE* out, bool enabled, int width)
    : out_(out), enabled_(enabled && out != nullptr), width_(width),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::Render(const eximlog::ScanProgress& p, double elapsed, int width) {
  std::string line;
  const double fraction =
      p.bytes_total > 0 ? std::min(1.0, static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total))
                        : 0.0;
  if (p.bytes_total > 0) {
    line += fmt::format("{:3d}% [", static_cast<int>(fraction * 100));
    const int filled = static_cast<int>(fraction * width);
    line.append(static_cast<size_t>(filled), '#');
    line.append(static_cast<size_t>(width - filled), ' ');
    line += "] " + Size(p.bytes_done) + " of " + Size(p.bytes_total);
  } else {
    line += Size(p.bytes_done);
  }
  if (p.file_count > 1) {
    line += "  file " + std::to_string(p.file_index + 1) + "/" + std::to_string(p.file_count);
  }
  if (elapsed > 0.05) {
    line += "  " + Rate(static_cast<double>(p.lines) / elapsed);
    if (fraction > 0.01 && fraction < 1) {
      const auto eta = static_cast<int64_t>(elapsed / fraction - elapsed);
      line += fmt::format("  ETA {}:{:02d}", eta / 60, eta % 60);
    }
  }
  return line;
}

void ProgressBar::Update(const eximlog::ScanProgress& progress) {
  if (!enabled_) return;
  if (progress.finished) {
    Clear();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string line = Render(progress, elapsed, width_);
  fmt::print(out_, "\r{}\033[K", line);
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::Clear() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace senderwatch::cli
