// What the CLI asks of Exim itself: where the spool is (`exim4 -bP
// spool_directory`, exactly as Exim reports it), which queued messages an
// account submitted (exipick), and thawing or removing them (`exim4 -Mt`,
// `exim4 -Mrm`). The CLI never reads or writes spool files itself: Exim's
// own tools do, with Exim's locking.
//
// Programs are run directly (no shell), so nothing from the queue or the
// command line is ever interpreted by a shell or by exipick's Perl criteria.
#ifndef SENDERWATCH_SRC_CLI_EXIM_TOOLS_H_
#define SENDERWATCH_SRC_CLI_EXIM_TOOLS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/error.h"

namespace senderwatch::cli {

// The binaries: SENDERWATCH_EXIM / SENDERWATCH_EXIPICK when set (tests),
// else /usr/sbin/exim4 and /usr/sbin/exipick when present, else the names
// looked up in PATH.
std::string EximBinary();
std::string ExipickBinary();

struct ProcessResult {
  int exit_code = 0;   // 128+N when killed by signal N
  std::string output;  // standard output (when captured)
};

// Runs argv[0] with argv (no shell). Standard error is inherited, so Exim's
// own messages reach the user. kInvalidArgument when it cannot be started.
Result<ProcessResult> RunProgram(const std::vector<std::string>& argv, bool capture_output);

// Parses the output of `exim4 -bP spool_directory` ("spool_directory =
// /var/spool/exim4") or of `exim4 -n -bP spool_directory` (the bare path).
// Empty when the output holds no absolute path.
std::string ParseSpoolDirectory(std::string_view output);

// Asks Exim for its spool directory (with -C exim_config when given). Falls
// back to /var/spool/exim4 when Exim cannot be run or says nothing usable;
// `*note` then explains why (empty on success).
std::string FindSpoolDirectory(const std::string& exim_config, std::string* note);

// One message in Exim's queue, as exipick reports it.
struct QueuedMessage {
  std::string id;
  bool frozen = false;
  int64_t age_seconds = 0;
  uint64_t size = 0;
  uint64_t undelivered = 0;      // recipients not yet delivered
  std::string recipients;        // undelivered recipients, ", "-separated
  std::string sender;            // envelope sender; empty for bounces
  std::string authenticated_id;  // as stored in the spool, not normalised
};

// The variables asked from exipick, one value per line in this order
// (`exipick --just-vars --show-vars ...`).
std::span<const std::string_view> ExipickVariables();

// Parses `exipick --just-vars --show-vars <ExipickVariables()>` output:
// blocks of one line per variable. kInvalidArgument when a block is cut
// short or does not start with a valid message id.
Result<std::vector<QueuedMessage>> ParseExipickOutput(std::string_view output);

// Exim message ids: old "1xWxLZ-0001G1-03" and 4.97+ "1xWxLZ-0001G1AB-0003".
bool IsMessageId(std::string_view text);

// Lists the whole queue (frozen messages included) through exipick, reading
// the spool at `spool_directory` (so exipick does not run Exim through a
// shell to find it).
Result<std::vector<QueuedMessage>> ListQueue(const std::string& spool_directory);

// `exim4 [-C exim_config] <action> ID...` in batches; action is "-Mt"
// (thaw) or "-Mrm" (remove). Returns how many batches failed (Exim prints
// the reason for each message itself).
Result<int> RunEximOnMessages(const std::string& exim_config, std::string_view action,
                              std::span<const std::string> ids);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_EXIM_TOOLS_H_
