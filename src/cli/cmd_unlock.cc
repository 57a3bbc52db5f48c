// `senderwatch unlock ACCOUNT`: releases a lock after the password has been
// changed (Engine::Unlock). Lock rules then count only new evidence.

#include "cli/args.h"
#include "cli/context.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "cli/views.h"
#include "senderwatch/account.h"
#include "senderwatch/engine.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

const std::string_view kUnlockHelp =
    R"(Usage: senderwatch unlock ACCOUNT [--reason TEXT] [--reset] [--json]

Releases the lock of ACCOUNT: the plugin answers verdict=ok for it again.
Do this after the account's password has been changed, or the spammer is
back at once.

A release starts the account afresh for the lock rules: evidence from before
the release (the bounces and networks that got it locked) no longer counts
towards a lock. Rate limits (defer rules) keep counting what really happened
unless --reset clears every counter and the client networks as well.
The release is stored durably with who released it ($SUDO_USER, else the
login name) and the reason; 'senderwatch show' displays it.

Unlocking an account that is not locked is harmless: only the evidence
before now is set aside.

Options:
  --reason TEXT  why, e.g. "password changed" (recommended)
  --reset        also clear all counters and client networks
  --json         machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch unlock alice@example.com --reason "password changed, ticket 4711"
  senderwatch unlock alice@example.com --reset

Mail the spammer left in the queue is not released or removed by this:
see 'senderwatch queue ACCOUNT'.

Exit status: 0 released (or was not locked), 1 no such account, 2 usage error,
3 store error.
)";

int RunUnlock(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("unlock", kUnlockHelp, base, args,
                        {{"reason", 0, true}, {"reset", 0, false}}, kOneAccount);
  if (!call) return call.error();
  auto account = NormalizeAccount(call->operands().front());
  if (!account) return call->Usage(account.error().message);
  const std::string reason = call->parsed.Value("reason").value_or("");
  const bool reset = call->parsed.Has("reset");

  auto context = OpenVerbContext(call->options, OpenMode::kReadWrite);
  if (!context) return context.error();
  Context& ctx = **context;
  const UnixSeconds now = ctx.clock.Now();
  const std::string by = AdminName();

  auto before = ctx.store->Get(*account);
  if (!before) return ReportError(before.error());
  if (!before->has_value()) {
    return ReportNoRecord(*account, ctx.store_path);
  }
  const LockState previous = (*before)->lock;
  const bool was_locked = (*before)->IsLocked(now);

  QuietLogger quiet(*ctx.logger);
  Engine engine(ctx.policy, *ctx.store, ctx.clock, quiet);
  auto released = engine.Unlock(*account, reason, by, reset);
  if (!released) return ReportError(released.error());
  if (!released->has_value()) {  // erased in between (gc)
    return ReportNoRecord(*account, ctx.store_path);
  }
  const AccountRecord& record = **released;

  if (ctx.options.json) {
    return Emit(
        AdminActionJson("unlock", record, {{"was_locked", was_locked}, {"reset", reset}}, by, now));
  }
  const std::string name = SanitizeForTerminal(record.account);
  std::string out;
  if (was_locked) {
    out = "Released " + Paint(name, Style::kBold, ctx.options.color) + " (locked " +
          FormatAgo(previous.since, now) + ", " + SanitizeForTerminal(LockExplanation(previous)) +
          ").\n";
  } else {
    out = name + " was not locked.\n";
  }
  out += reset ? "All counters and client networks were cleared.\n"
               : "Lock rules count only evidence from now on.\n";
  if (was_locked) {
    out += "Mail it left in the queue: senderwatch queue " + ShellQuote(name) + "\n";
  }
  return Emit(out);
}

}  // namespace senderwatch::cli
