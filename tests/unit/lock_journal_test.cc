// The lock journal keeps locks alive through a store rebuild, so its text
// format must round-trip any account name and reason, and one damaged line
// must cost one entry, not the whole journal.
#include "store/lock_journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "testutil/testutil.h"

namespace senderwatch {
namespace {

using store_internal::DirInfo;
using store_internal::FormatJournal;
using store_internal::FormatJournalLine;
using store_internal::JournalDiffers;
using store_internal::JournalEntry;
using store_internal::ParseJournal;
using store_internal::ParseJournalLine;

JournalEntry SampleEntry(std::string account) {
  JournalEntry entry;
  entry.account = std::move(account);
  entry.lock.locked = true;
  entry.lock.since = 1764237731;
  entry.lock.until = 0;
  entry.lock.rule = "bounce-ratio";
  entry.lock.metric = Metric::kBounceRatio;
  entry.lock.value = 0.45;
  entry.lock.limit = 0.3;
  entry.lock.window_seconds = 3600;
  entry.lock.reason = "45% of 120 recipients bounced";
  entry.lock.by = "senderwatch";
  entry.lock_count = 3;
  entry.last_release = {1764000000, "admin", "password reset"};
  return entry;
}

void ExpectSameEntry(const JournalEntry& a, const JournalEntry& b) {
  EXPECT_EQ(a.account, b.account);
  EXPECT_EQ(a.lock.locked, b.lock.locked);
  EXPECT_EQ(a.lock.since, b.lock.since);
  EXPECT_EQ(a.lock.until, b.lock.until);
  EXPECT_EQ(a.lock.rule, b.lock.rule);
  EXPECT_EQ(a.lock.metric, b.lock.metric);
  EXPECT_EQ(a.lock.value, b.lock.value);
  EXPECT_EQ(a.lock.limit, b.lock.limit);
  EXPECT_EQ(a.lock.window_seconds, b.lock.window_seconds);
  EXPECT_EQ(a.lock.reason, b.lock.reason);
  EXPECT_EQ(a.lock.by, b.lock.by);
  EXPECT_EQ(a.lock_count, b.lock_count);
  EXPECT_EQ(a.last_release.at, b.last_release.at);
  EXPECT_EQ(a.last_release.by, b.last_release.by);
  EXPECT_EQ(a.last_release.reason, b.last_release.reason);
}

DirInfo InfoOf(const std::string& dir) {
  struct stat st {};
  EXPECT_EQ(::stat(dir.c_str(), &st), 0);
  return DirInfo{st.st_uid, st.st_gid, st.st_dev, st.st_ino};
}


TEST(LockJournal, RoundTripsHostileStrings) {
  JournalEntry entry = SampleEntry("ali ce=%x\n\t\x01@b\xc3\xa4r.example");
  entry.lock.reason = "a=b c%d\r\nnext line \"quoted\" \\ back";
  entry.lock.by = "";
  entry.lock.value = 1.0 / 3.0;
  entry.lock.until = -5;
  entry.last_release.reason = "=";
  const std::string line = FormatJournalLine(entry);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\t'), std::string::npos);
  const auto parsed = ParseJournalLine(line);
  ASSERT_TRUE(parsed.has_value()) << line;
  ExpectSameEntry(*parsed, entry);
}

TEST(LockJournal, WritesReadableLines) {
  const std::string line = FormatJournalLine(SampleEntry("alice@example.org"));
  EXPECT_TRUE(line.starts_with("lock account=alice@example.org since=1764237731 until=0 "
                               "rule=bounce-ratio metric=bounce_ratio value=0.45 limit=0.3"))
      << line;
  EXPECT_NE(line.find("reason=45%25%20of%20120"), std::string::npos) << line;
}

TEST(LockJournal, SkipsBadLinesAndKeepsTheRest) {
  std::string text = FormatJournal({SampleEntry("a"), SampleEntry("b")});
  text += "lock account=c since=notanumber\n";
  text += "lock since=5\n";                      // no account
  text += "lock account=d\n";                    // no since
  text += "lock account=e since=1 reason=%zz\n"; // bad escape
  text += "garbage without prefix\n";
  text += "lock account=f since=1 value=1.5.5\n";
  text += "\n# a comment\r\n";
  text += "lock account=g since=7 future_key=whatever metric=not_a_metric\r\n";
  text += "lock account=h since=9";  // no final newline
  const auto parsed = ParseJournal(text);
  ASSERT_EQ(parsed.entries.size(), 4u);
  EXPECT_EQ(parsed.entries[0].account, "a");
  EXPECT_EQ(parsed.entries[1].account, "b");
  EXPECT_EQ(parsed.entries[2].account, "g");
  EXPECT_EQ(parsed.entries[2].lock.since, 7);
  EXPECT_EQ(parsed.entries[3].account, "h");
  EXPECT_EQ(parsed.bad_lines, 6u);
}

TEST(LockJournal, LastLineOfAnAccountWins) {
  JournalEntry first = SampleEntry("a");
  JournalEntry second = SampleEntry("a");
  second.lock.rule = "manual";
  const auto parsed = ParseJournal(FormatJournal({first, SampleEntry("b"), second}));
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_EQ(parsed.entries[0].lock.rule, "manual");
}

TEST(LockJournal, DiffersOnlyWhenTheLineWouldChange) {
  const auto a = std::optional<JournalEntry>(SampleEntry("a"));
  auto b = a;
  EXPECT_FALSE(JournalDiffers(a, b));
  EXPECT_FALSE(JournalDiffers(std::nullopt, std::nullopt));
  EXPECT_TRUE(JournalDiffers(a, std::nullopt));
  EXPECT_TRUE(JournalDiffers(std::nullopt, a));
  b->lock_count++;
  EXPECT_TRUE(JournalDiffers(a, b));
}

TEST(LockJournal, EntryExistsOnlyForLockedRecords) {
  AccountRecord record;
  record.account = "a";
  EXPECT_FALSE(store_internal::JournalEntryOf(record).has_value());
  record.lock.locked = true;
  record.lock.since = 10;
  record.lock_count = 2;
  const auto entry = store_internal::JournalEntryOf(record);
  ASSERT_TRUE(entry.has_value());
  const AccountRecord restored = store_internal::RecordFromJournal(*entry);
  EXPECT_EQ(restored.account, "a");
  EXPECT_TRUE(restored.lock.locked);
  EXPECT_EQ(restored.lock_count, 2u);
  EXPECT_EQ(restored.last_seen, 10);
}

TEST(LockJournal, UpdateRewritesAtomicallyAndDropsEndedLocks) {
  testing::TempDir dir;
  const DirInfo info = InfoOf(dir.path());
  const std::string path = dir.Join("locks.journal");

  ASSERT_TRUE(store_internal::UpdateJournal(dir.path(), info, "a", SampleEntry("a"), 100));
  JournalEntry timed = SampleEntry("t");
  timed.lock.until = 200;
  ASSERT_TRUE(store_internal::UpdateJournal(dir.path(), info, "t", timed, 100));
  auto journal = store_internal::ReadJournal(dir.path());
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->entries.size(), 2u);

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);

  // At t=300 the timed lock has ended: any rewrite drops it.
  ASSERT_TRUE(store_internal::UpdateJournal(dir.path(), info, "b", SampleEntry("b"), 300));
  journal = store_internal::ReadJournal(dir.path());
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->entries.size(), 2u);
  EXPECT_EQ(journal->entries[0].account, "a");
  EXPECT_EQ(journal->entries[1].account, "b");

  // Removing an entry.
  ASSERT_TRUE(store_internal::UpdateJournal(dir.path(), info, "a", std::nullopt, 300));
  journal = store_internal::ReadJournal(dir.path());
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->entries.size(), 1u);
  EXPECT_EQ(journal->entries[0].account, "b");

  // No temporary file is left behind.
  for (const auto& file : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(file.path().filename(), "locks.journal");
  }
  EXPECT_TRUE(testing::ReadText(path).starts_with("# senderwatch lock journal v1\n"));
}

TEST(LockJournal, UnchangedJournalIsNotRewritten) {
  testing::TempDir dir;
  const DirInfo info = InfoOf(dir.path());
  ASSERT_TRUE(store_internal::UpdateJournal(dir.path(), info, "a", SampleEntry("a"), 100));
  struct stat before {};
  ASSERT_EQ(::stat(dir.Join("locks.journal").c_str(), &before), 0);
  ASSERT_TRUE(store_internal::UpdateJournal(dir.path(), info, "a", SampleEntry("a"), 100));
  ASSERT_TRUE(store_internal::RemoveFromJournal(dir.path(), info, {"x", "y"}, 100));
  struct stat after {};
  ASSERT_EQ(::stat(dir.Join("locks.journal").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // a rewrite would rename a new inode in
}

TEST(LockJournal, MissingJournalIsEmpty) {
  testing::TempDir dir;
  const auto journal = store_internal::ReadJournal(dir.path());
  ASSERT_TRUE(journal);
  EXPECT_TRUE(journal->entries.empty());
  EXPECT_EQ(journal->bad_lines, 0u);
}

}  // namespace
}  // namespace senderwatch
