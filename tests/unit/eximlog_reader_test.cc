// Reading log files: plain and gzip (by content, not name), lines across
// block boundaries, lines longer than a block, rotated sets in time order,
// and damaged files that end reading of that file only.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "eximlog/joiner.h"
#include "eximlog/log_reader.h"
#include "eximlog/scan.h"
#include "testutil/testutil.h"
#include "unit/eximlog_samples.h"

namespace senderwatch::eximlog {
namespace {

using senderwatch::testing::TempDir;

void WritePlain(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

void WriteGzip(const std::string& path, std::string_view text, const char* mode = "wb") {
  gzFile gz = gzopen(path.c_str(), mode);
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

std::vector<std::string> ReadAll(const std::string& path, std::string* error = nullptr) {
  auto file = LogFile::Open(path);
  EXPECT_TRUE(file.has_value()) << (file ? "" : file.error().message);
  std::vector<std::string> lines;
  if (!file) return lines;
  std::string_view line;
  while ((*file)->NextLine(line)) lines.emplace_back(line);
  if (error != nullptr) *error = (*file)->error();
  return lines;
}

TEST(EximLogReader, PlainFileLinesWithAndWithoutFinalNewline) {
  TempDir dir;
  WritePlain(dir.Join("a"), "one\ntwo\n\nfour");
  EXPECT_EQ(ReadAll(dir.Join("a")), (std::vector<std::string>{"one", "two", "", "four"}));
  WritePlain(dir.Join("b"), "one\n");
  EXPECT_EQ(ReadAll(dir.Join("b")), (std::vector<std::string>{"one"}));
  WritePlain(dir.Join("empty"), "");
  EXPECT_TRUE(ReadAll(dir.Join("empty")).empty());
}

TEST(EximLogReader, GzipIsRecognisedByContentAndMembersAreJoined) {
  TempDir dir;
  const std::string path = dir.Join("mainlog.2");  // no .gz: the magic decides
  WriteGzip(path, "first\nsecond\n");
  WriteGzip(path, "third\n", "ab");  // a second gzip member
  auto file = LogFile::Open(path);
  ASSERT_TRUE(file.has_value());
  EXPECT_TRUE((*file)->compressed());
  EXPECT_EQ(ReadAll(path), (std::vector<std::string>{"first", "second", "third"}));
}

TEST(EximLogReader, LinesAcrossBlocksAndLongerThanABlock) {
  TempDir dir;
  std::string text;
  std::vector<std::string> expected;
  // Lines of varying length spanning several blocks, one longer than a block.
  for (int i = 0; text.size() < 3 * LogFile::kBlockSize; ++i) {
    std::string line(static_cast<size_t>(50 + (i * 37) % 300), static_cast<char>('a' + i % 26));
    if (i == 1000) line.assign(LogFile::kBlockSize + 123, 'L');
    expected.push_back(line);
    text += line;
    text += '\n';
  }
  WritePlain(dir.Join("plain"), text);
  WriteGzip(dir.Join("gz"), text);
  EXPECT_EQ(ReadAll(dir.Join("plain")), expected);
  EXPECT_EQ(ReadAll(dir.Join("gz")), expected);
}

TEST(EximLogReader, TruncatedGzipKeepsWhatWasReadAndSaysSo) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "2026-11-27 10:00:00 line " + std::to_string(i) + "\n";
  WriteGzip(dir.Join("full.gz"), text);
  std::ifstream in(dir.Join("full.gz"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  WritePlain(dir.Join("cut.gz"), bytes.substr(0, bytes.size() / 2));
  std::string error;
  const auto lines = ReadAll(dir.Join("cut.gz"), &error);
  EXPECT_GT(lines.size(), 1000u);
  EXPECT_LT(lines.size(), 20000u);
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
}

TEST(EximLogReader, MissingFileIsAnErrorNamingIt) {
  auto file = LogFile::Open("/nonexistent/mainlog");
  ASSERT_FALSE(file.has_value());
  EXPECT_NE(file.error().message.find("/nonexistent/mainlog"), std::string::npos);
}

TEST(EximLogReader, RotatedFilesAreOrderedByTheirFirstTimestamp) {
  TempDir dir;
  WritePlain(dir.Join("mainlog"), "2026-11-27 10:00:00 newest\n");
  WritePlain(dir.Join("mainlog.1"), "not a log line\n2026-11-26 10:00:00 middle\n");
  WriteGzip(dir.Join("mainlog.2.gz"), "2026-11-25 10:00:00 oldest\n");
  WritePlain(dir.Join("notes"), "no timestamps here\n");
  auto ordered = OrderLogFiles({dir.Join("notes"), dir.Join("mainlog"), dir.Join("mainlog.1"),
                                dir.Join("mainlog.2.gz")});
  ASSERT_TRUE(ordered.has_value()) << ordered.error().message;
  EXPECT_EQ(*ordered, (std::vector<std::string>{dir.Join("mainlog.2.gz"), dir.Join("mainlog.1"),
                                                dir.Join("mainlog"), dir.Join("notes")}));
}

class NullSink final : public EventSink {
 public:
  void OnRecipient(UnixSeconds, AccountRef, std::string_view, std::string_view,
                   std::string_view) override {
    ++recipients;
  }
  void OnBounce(UnixSeconds, AccountRef, std::string_view, std::string_view) override {}
  void OnDefer(UnixSeconds, AccountRef, std::string_view, std::string_view) override {}
  void OnAuthfail(UnixSeconds, AccountRef, std::string_view) override {}
  uint64_t recipients = 0;
};

TEST(EximLogScan, CountsLinesNotUnderstoodAndReportsProgress) {
  TempDir dir;
  std::string text(senderwatch::testing::kAllSelectorLog);
  text += "garbage\n\n2026-11-27 10:00:00 1xWxMU-0001Pl-1K <= \n";
  WriteGzip(dir.Join("mainlog.1.gz"), text);
  NullSink sink;
  Joiner joiner(sink);
  std::vector<ScanProgress> reports;
  ScanOptions options;
  options.zone = TimestampParser::Zone::kUtc;
  options.progress_interval_lines = 10;
  options.progress = [&](const ScanProgress& p) { reports.push_back(p); };
  auto stats = ScanLogs({dir.Join("mainlog.1.gz")}, joiner, options);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->lines, 76u);
  EXPECT_EQ(stats->lines_not_understood, 3u);
  EXPECT_EQ(stats->bytes, text.size());
  EXPECT_EQ(sink.recipients, 16u);
  ASSERT_GE(reports.size(), 7u);
  EXPECT_TRUE(reports.back().finished);
  EXPECT_EQ(reports.back().bytes_done, reports.back().bytes_total);
  for (size_t i = 1; i < reports.size(); ++i) {
    EXPECT_GE(reports[i].bytes_done, reports[i - 1].bytes_done);
    EXPECT_GT(reports[i].lines, reports[i - 1].lines);
  }
}

}  // namespace
}  // namespace senderwatch::eximlog
