// The verbs of the registry (commands.cc): each lives in cmd_<verb>.cc with its --help text, which is
// written to man-page standard (synopsis, description, options, examples,
// exit status) because `senderwatch VERB --help` is often all a user reads.
#ifndef SENDERWATCH_SRC_CLI_VERBS_H_
#define SENDERWATCH_SRC_CLI_VERBS_H_

#include <span>
#include <string>
#include <string_view>

#include "cli/commands.h"

namespace senderwatch::cli {

#define SENDERWATCH_DECLARE_VERB(Name)                                            \
  int Run##Name(const GlobalOptions& options, std::span<const std::string> args); \
  extern const std::string_view k##Name##Help

SENDERWATCH_DECLARE_VERB(Top);
SENDERWATCH_DECLARE_VERB(Show);
SENDERWATCH_DECLARE_VERB(Dump);
SENDERWATCH_DECLARE_VERB(Lock);
SENDERWATCH_DECLARE_VERB(Unlock);
SENDERWATCH_DECLARE_VERB(Queue);
SENDERWATCH_DECLARE_VERB(Gc);
SENDERWATCH_DECLARE_VERB(Stats);
SENDERWATCH_DECLARE_VERB(CheckConfig);
SENDERWATCH_DECLARE_VERB(Learn);
SENDERWATCH_DECLARE_VERB(Migrate);
SENDERWATCH_DECLARE_VERB(Replay);
SENDERWATCH_DECLARE_VERB(Tune);

#undef SENDERWATCH_DECLARE_VERB

// Writes `text` to stdout: kExitOk, or kExitStore when it cannot be written
// (a full disk, a closed pipe).
int Emit(std::string_view text);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_VERBS_H_
