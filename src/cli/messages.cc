// The CLI's messages on stderr; see messages.h.
#include "cli/messages.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace senderwatch::cli {
namespace {

std::string_view Label(Tone tone) {
  switch (tone) {
    case Tone::kPlain: return "";
    case Tone::kError: return "error";
    case Tone::kWarning: return "warning";
    case Tone::kInfo: return "info";
    case Tone::kDebug: return "debug";
    case Tone::kHint: return "hint";
  }
  return "";
}

Style LabelStyle(Tone tone) {
  switch (tone) {
    case Tone::kError: return Style::kBoldRed;
    case Tone::kWarning: return Style::kYellow;
    case Tone::kInfo: return Style::kGreen;
    default: return Style::kPlain;
  }
}

}  // namespace

std::string MessageLine(std::string_view verb, Tone tone, std::string_view body, bool color) {
  std::string line = "senderwatch";
  if (!verb.empty()) line += fmt::format(" {}", verb);
  line += ": ";
  if (tone != Tone::kPlain) line += Paint(Label(tone), LabelStyle(tone), color) + ": ";
  line += body;
  line += '\n';
  return line;
}

void WriteStderr(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

bool StderrColor() {
  return DecideColor("auto", isatty(STDERR_FILENO) == 1, std::getenv("NO_COLOR"),
                     std::getenv("TERM"));
}

}  // namespace senderwatch::cli
