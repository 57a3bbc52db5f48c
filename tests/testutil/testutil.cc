#include "testutil/testutil.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace senderwatch::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/senderwatch-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void CapturingLogger::Log(LogLevel level, std::string_view message) noexcept {
  try {
    lines_.push_back({level, std::string(message)});
  } catch (...) {
  }
}

bool CapturingLogger::Contains(std::string_view needle) const {
  for (const auto& line : lines_) {
    if (line.text.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace senderwatch::testing
