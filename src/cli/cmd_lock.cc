// `senderwatch lock ACCOUNT --reason TEXT`: an administrator locks an
// account by hand (Engine::Lock), recorded with who did it and why.

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

const std::string_view kLockHelp = R"(Usage: senderwatch lock ACCOUNT --reason TEXT [--json]

Locks ACCOUNT by hand, as if a lock rule had fired: from now on the plugin
answers verdict=lock for it and the Exim ACL refuses or freezes its mail
(as the exim-snippets configure). The lock is stored durably with the rule
"manual", the reason, and who locked it ($SUDO_USER, else the login name),
and stays until 'senderwatch unlock'. Locking an account that is already
locked changes nothing (its original evidence is kept).

Options:
  --reason TEXT  why (required); shown by 'senderwatch show'
  --json         machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch lock bob@example.com --reason "phished, ticket 4711"

Exit status: 0 locked (or already locked), 2 usage error, 3 store error.
)";

int RunLock(const GlobalOptions& base, std::span<const std::string> args) {
  auto call = StartVerb("lock", kLockHelp, base, args, {{"reason", 0, true}}, kOneAccount);
  if (!call) return call.error();
  auto account = NormalizeAccount(call->operands().front());
  if (!account) return call->Usage(account.error().message);
  const std::string reason = call->parsed.Value("reason").value_or("");
  if (reason.empty()) return call->Usage("--reason TEXT is required (it is shown by 'show')");

  auto context = OpenVerbContext(call->options, OpenMode::kReadWrite);
  if (!context) return context.error();
  Context& ctx = **context;
  const UnixSeconds now = ctx.clock.Now();
  const std::string by = AdminName();

  auto existing = ctx.store->Get(*account);
  if (!existing) return ReportError(existing.error());
  const bool already = existing->has_value() && (*existing)->IsLocked(now);
  AccountRecord record;
  if (already) {
    record = **existing;
  } else {
    QuietLogger quiet(*ctx.logger);
    Engine engine(ctx.policy, *ctx.store, ctx.clock, quiet);
    auto locked = engine.Lock(*account, reason, by);
    if (!locked) return ReportError(locked.error());
    record = std::move(*locked);
  }

  if (ctx.options.json) {
    return Emit(AdminActionJson("lock", record, {{"changed", !already}}, by, now));
  }
  const std::string name = SanitizeForTerminal(record.account);
  std::string out;
  if (already) {
    out = name + " is already locked since " + FormatTimeAndAgo(record.lock.since, now) + " (" +
          SanitizeForTerminal(LockExplanation(record.lock)) + "); nothing changed.\n";
  } else {
    out = "Locked " + Paint(name, Style::kBold, ctx.options.color) + " (by " +
          SanitizeForTerminal(by) + "): " + SanitizeForTerminal(reason) + "\n" +
          "It stays locked until: senderwatch unlock " + ShellQuote(name) + "\n";
  }
  return Emit(out);
}

}  // namespace senderwatch::cli
