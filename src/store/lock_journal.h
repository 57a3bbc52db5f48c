// The lock journal: a small text file, "<store dir>/locks.journal", listing
// every account that is locked, with its lock, lock count and last release.
//
// Why it exists: counters are soft state, locks are not. With durability
// "periodic" or "none" LMDB runs with MDB_NOSYNC, and a store that turns out
// to be damaged is set aside and rebuilt empty. The journal, rewritten
// atomically (and fsynced) whenever a lock is taken, changed or released,
// lets the rebuild put every lock back. Its line format is documented in
// docs/format.md; the parser skips lines it cannot read instead of failing,
// so one damaged line costs one lock, not all of them.
//
// Concurrency: writers rewrite the journal inside their LMDB write
// transaction, so LMDB's writer lock serialises the read-modify-write.
#ifndef SENDERWATCH_SRC_STORE_LOCK_JOURNAL_H_
#define SENDERWATCH_SRC_STORE_LOCK_JOURNAL_H_

#include <cstdint>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/clock.h"
#include "senderwatch/error.h"
#include "senderwatch/record.h"
#include "store/store_files.h"

namespace senderwatch::store_internal {

inline constexpr std::string_view kJournalName = "locks.journal";
inline constexpr std::string_view kJournalHeader = "# senderwatch lock journal v1";
// A journal larger than this is refused as unreadable (a line is a few
// hundred bytes: some 50,000 locked accounts).
inline constexpr size_t kMaxJournalBytes = size_t{16} << 20;

// What the journal keeps of one locked account.
struct JournalEntry {
  std::string account;
  LockState lock;
  uint32_t lock_count = 0;
  ReleaseInfo last_release;
};

// The journal entry of a record: present only while lock.locked is set.
std::optional<JournalEntry> JournalEntryOf(const AccountRecord& record);

// A record holding only what the journal knows (counters empty);
// first_seen and last_seen are the lock's start.
AccountRecord RecordFromJournal(const JournalEntry& entry);

// One line, without the newline: "lock account=... since=... ...".
std::string FormatJournalLine(const JournalEntry& entry);
// nullopt for a line that is not a well-formed lock line.
std::optional<JournalEntry> ParseJournalLine(std::string_view line);

// True when the journal would say something different about the account
// (one of them absent, or their lines differ).
bool JournalDiffers(const std::optional<JournalEntry>& a,
                    const std::optional<JournalEntry>& b);

struct ParsedJournal {
  std::vector<JournalEntry> entries;  // in file order, one per account (last wins)
  uint64_t bad_lines = 0;             // lines skipped as unreadable
};

// The header line followed by one line per entry.
std::string FormatJournal(const std::vector<JournalEntry>& entries);
ParsedJournal ParseJournal(std::string_view text);

// Reads dir/locks.journal; a missing file is an empty journal. Like a policy
// file: without following a link, without blocking on a FIFO, regular files
// of at most kMaxJournalBytes only (anything else is an Error).
Result<ParsedJournal> ReadJournal(const std::string& dir);

// The accounts the journal holds as locked at `now` (timed locks that ended
// are not).
std::set<std::string, std::less<>> LockedAccounts(const ParsedJournal& journal, UnixSeconds now);

// The journal's lock of `account` if it still holds at `now`.
std::optional<JournalEntry> FindLock(const ParsedJournal& journal, std::string_view account,
                                     UnixSeconds now);

// Replaces the journal's entry for `account` with `entry` (nullopt: removes
// it), drops timed locks that ended at or before `now`, and rewrites the
// file atomically with mode 0660 and the ownership rule.
Result<void> UpdateJournal(const std::string& dir, const DirInfo& info,
                           std::string_view account,
                           const std::optional<JournalEntry>& entry, UnixSeconds now);

// Removes the entries of several accounts in one rewrite (when Prune or
// Erase drops records); a no-op when none of them is in the journal.
Result<void> RemoveFromJournal(const std::string& dir, const DirInfo& info,
                               const std::vector<std::string>& accounts,
                               UnixSeconds now);

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_LOCK_JOURNAL_H_
