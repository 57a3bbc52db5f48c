// The verb registry and the top-level help: the one place that lists what
// `senderwatch` can do, in the order `senderwatch --help` shows it.
#include "cli/commands.h"

#include "cli/context.h"
#include "cli/verbs.h"

namespace senderwatch::cli {

const std::vector<Command>& AllCommands() {
  static const std::vector<Command> kCommands = {
      {"top", "the riskiest accounts now, values next to their limits", kTopHelp, RunTop},
      {"show", "one account: lock, why and since when, rules, networks, releases", kShowHelp,
       RunShow},
      {"unlock", "release a locked account (after its password was changed)", kUnlockHelp,
       RunUnlock},
      {"lock", "lock an account by hand", kLockHelp, RunLock},
      {"queue", "an account's mail in Exim's queue; thaw or remove it", kQueueHelp, RunQueue},
      {"dump", "every record (--json: stable schema for scripts)", kDumpHelp, RunDump},
      {"stats", "size and health of the store", kStatsHelp, RunStats},
      {"gc", "remove stale records", kGcHelp, RunGc},
      {"check-config", "validate a policy file and print the effective policy", kCheckConfigHelp,
       RunCheckConfig},
      {"replay", "what the policy would have done, from Exim main logs", kReplayHelp, RunReplay},
      {"tune", "measured distributions and suggested limits from main logs", kTuneHelp, RunTune},
      {"learn", "seed the store's per-account history from main logs (learned limits)",
       kLearnHelp, RunLearn},
      {"migrate", "copy the records between the local store and Redis (several hosts)",
       kMigrateHelp, RunMigrate},
  };
  return kCommands;
}

int Emit(std::string_view text) { return WriteOut(text) ? kExitOk : kExitStore; }

}  // namespace senderwatch::cli
