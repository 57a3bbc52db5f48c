// The argument positions of the dlfunc contract (docs/design.md, "The Exim
// contract"), in one place. Exim passes each ${dlfunc} argument as one
// string, already expanded: recipients, reasons, user names and client
// addresses are whatever a sender made them. So the first arguments of each
// function are data, taken as they are whatever they contain; only after
// them come the admin's OVERRIDES (check_sender, peek_sender) and the
// options, each recognised by a literal key the snippets write. No value in
// a data position can ever choose the policy file, the mode or an override.
#ifndef SENDERWATCH_SRC_EXIM_ARGUMENTS_H_
#define SENDERWATCH_SRC_EXIM_ARGUMENTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "exim/dispatch.h"
#include "senderwatch/error.h"
#include "senderwatch/locate.h"
#include "senderwatch/policy.h"

namespace senderwatch::exim {

// The fixed argument positions of one function.
struct CallSpec {
  std::string_view name;
  int positional;             // data arguments, all required (they may be empty)
  bool overrides;             // an optional OVERRIDES argument follows
  bool context_options;       // rcpt= and sender= are accepted
  bool origin_option;         // origin=smtp|local|any is accepted
  std::string_view counter;   // result key of record_* functions
  std::string_view usage;     // for the argument-count error
};

CallSpec SpecOf(Function f);

struct ParsedCall {
  std::vector<std::string_view> positional;  // exactly spec.positional values
  std::string_view overrides;
  std::string config_path{kDefaultConfigPath};
  bool event_mode = false;
  std::string_view recipient;  // check_sender rcpt=ADDR
  std::string_view sender;     // check_sender sender=ADDR
  // origin=smtp|local|any: the kind of submission judged (policy.h Origin).
  // check_sender: kAny means "from CLIENT_IP" (empty: local).
  Origin origin = Origin::kAny;
  // Bad data in a data argument (an over-long one, which becomes empty):
  // reported with the result, but the call still runs, so bad input cannot
  // hide a lock.
  std::string input_error;
};

// Adds `message` to a "; "-separated list of errors (nothing when empty).
void AppendError(std::string& to, std::string_view message);

// True when `arg` starts with an option key (config=, mode=, rcpt=,
// sender=, origin=). Only consulted after the data arguments.
bool IsOption(std::string_view arg);

// Splits Exim's argument vector (`argc` NUL-terminated strings). The views
// point into `argv`. An error means the call itself is wrong (too few
// arguments, an unknown option, a bad config=): a configuration mistake,
// never something a sender can cause.
Result<ParsedCall> ParseArguments(const CallSpec& spec, int argc, const char* const* argv);

}  // namespace senderwatch::exim

#endif  // SENDERWATCH_SRC_EXIM_ARGUMENTS_H_
