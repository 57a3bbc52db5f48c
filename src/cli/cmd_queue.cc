// `senderwatch queue ACCOUNT`: the mail a (compromised) account left in
// Exim's queue, frozen included, and thawing or removing it after review.
// Everything goes through exipick and exim4 -Mt/-Mrm: the CLI never touches
// spool files.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <limits>
#include <set>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/exim_tools.h"
#include "cli/format.h"
#include "cli/json.h"
#include "cli/messages.h"
#include "cli/verb_start.h"
#include "cli/verbs.h"
#include "senderwatch/account.h"

namespace senderwatch::cli {

const std::string_view kQueueHelp =
    R"(Usage: senderwatch queue ACCOUNT [ID...] [--thaw | --remove] [--yes] [--json]

Lists the messages in Exim's queue that ACCOUNT submitted (matched on the
$authenticated_id stored with each message, without regard to case),
frozen ones included: the ACL snippets freeze a locked account's mail so
that it can be reviewed here instead of being lost or sent.

After review, either release the mail (--thaw: 'exim4 -Mt', for frozen
messages that turn out to be legitimate) or delete it (--remove:
'exim4 -Mrm', for the spam). Give message IDs to act on some messages only;
without IDs the action applies to every listed message. Exim does the work
with its own locking; senderwatch never touches spool files. Look at a
message first with 'exim4 -Mvh ID' (headers) or 'exim4 -Mvb ID' (body).

The queue is read with exipick from Exim's spool_directory ('exim4 -bP
spool_directory', or the one of --exim-config FILE, which is passed to
exim4 as -C). Reading the queue needs root or the Exim user.

Options:
  --thaw         thaw the selected frozen messages
  --remove       remove the selected messages from the queue
  --yes          do not ask for confirmation (required when not on a terminal)
  --exim-config FILE
                 the Exim configuration to use (exim4 -C FILE)
  --json         machine-readable output (schema in docs/cli.md)

Examples:
  senderwatch queue alice@example.com
  exim4 -Mvh 1xWxLZ-0001G1-03
  senderwatch queue alice@example.com --remove
  senderwatch queue alice@example.com 1xWxLZ-0001G1-03 --thaw

Exit status: 0 ok (also when nothing is queued), 1 an ID is not queued for
ACCOUNT, 2 usage error or refused confirmation, 3 exipick or exim4 failed.
)";

namespace {

std::string Shorten(std::string_view text, size_t max) {
  if (DisplayWidth(text) <= max) return std::string(text);
  size_t width = 0;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {  // a new character
      if (width + 3 == max) break;
      ++width;
    }
  }
  return std::string(text.substr(0, i)) + "...";
}

bool Confirm(const std::string& question) {
  WriteStderr(question + " [y/N] ");
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES";
}

}  // namespace

namespace {
// ACCOUNT, then the message IDs to act on.
constexpr Operands kAccountAndIds{1, std::numeric_limits<size_t>::max(), "expects an ACCOUNT", ""};
}  // namespace

int RunQueue(const GlobalOptions& base, std::span<const std::string> args) {
  auto call =
      StartVerb("queue", kQueueHelp, base, args,
                {{"thaw", 0, false}, {"remove", 0, false}, {"yes", 'y', false}}, kAccountAndIds);
  if (!call) return call.error();
  auto account = NormalizeAccount(call->operands().front());
  if (!account) return call->Usage(account.error().message);
  const bool thaw = call->parsed.Has("thaw");
  const bool remove = call->parsed.Has("remove");
  if (thaw && remove) return call->Usage("--thaw and --remove exclude each other");
  std::set<std::string> wanted;
  for (size_t i = 1; i < call->operands().size(); ++i) {
    const std::string& id = call->operands()[i];
    if (!IsMessageId(id)) return call->Usage("'" + id + "' is not an Exim message id");
    wanted.insert(id);
  }
  if (!wanted.empty() && !thaw && !remove) {
    return call->Usage("message IDs select what --thaw or --remove acts on");
  }

  auto logger = NewStderrLogger(call->options.verbose);
  std::string note;
  const std::string spool = FindSpoolDirectory(call->options.exim_config, &note);
  if (!note.empty()) logger->Log(LogLevel::kWarning, note);
  auto queue = ListQueue(spool);
  if (!queue) {
    Say("", Tone::kError, "{}", queue.error().message);
    return kExitStore;
  }
  std::vector<QueuedMessage> mine;
  for (QueuedMessage& m : *queue) {
    auto owner = NormalizeAccount(m.authenticated_id);
    if (owner && *owner == *account) mine.push_back(std::move(m));
  }
  std::sort(mine.begin(), mine.end(), [](const QueuedMessage& a, const QueuedMessage& b) {
    return a.age_seconds > b.age_seconds;  // oldest first, as exim -bp
  });
  for (const std::string& id : wanted) {
    if (std::none_of(mine.begin(), mine.end(),
                     [&](const QueuedMessage& m) { return m.id == id; })) {
      Say("", Tone::kPlain, "message {} is not in the queue for '{}'", id, *account);
      return kExitNotFound;
    }
  }
  std::vector<std::string> targets;
  for (const QueuedMessage& m : mine) {
    if (!wanted.empty() && !wanted.contains(m.id)) continue;
    if (thaw && !m.frozen) continue;
    if (thaw || remove) targets.push_back(m.id);
  }

  const bool color = call->options.color;
  const uint64_t frozen = static_cast<uint64_t>(
      std::count_if(mine.begin(), mine.end(), [](const QueuedMessage& m) { return m.frozen; }));
  if (!call->options.json) {
    std::string out;
    if (mine.empty()) {
      out = "No messages of " + SanitizeForTerminal(*account) + " in the queue (" +
            SanitizeForTerminal(spool) + ").\n";
    } else {
      Table table(
          {"ID", "AGE", "SIZE", "STATE", "RCPTS", "SENDER", "RECIPIENTS"},
          {Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight, Table::Align::kLeft,
           Table::Align::kRight, Table::Align::kLeft, Table::Align::kLeft});
      for (const QueuedMessage& m : mine) {
        table.AddRow({{m.id},
                      {HumanDuration(m.age_seconds)},
                      {FormatBytes(m.size)},
                      {m.frozen ? "frozen" : "queued", m.frozen ? Style::kYellow : Style::kPlain},
                      {std::to_string(m.undelivered)},
                      {m.sender.empty() ? "<>" : Shorten(SanitizeForTerminal(m.sender), 40)},
                      {Shorten(SanitizeForTerminal(m.recipients), 60)}});
      }
      out = table.Render(color);
      out += "\n" + Plural(mine.size(), "message") + " of " + SanitizeForTerminal(*account) + ", " +
             std::to_string(frozen) + " frozen.\n";
      if (!thaw && !remove) {
        const std::string exim_c =
            call->options.exim_config.empty() ? "" : " -C " + ShellQuote(call->options.exim_config);
        const std::string again = "senderwatch queue " + ShellQuote(SanitizeForTerminal(*account));
        out += "Review:  exim4" + exim_c + " -Mvh ID   (headers; -Mvb for the body)\n";
        out += "Then:    " + again + " --remove      (delete the spam)\n";
        if (frozen > 0) out += "    or:  " + again + " ID... --thaw  (release good mail)\n";
      }
    }
    if (!WriteOut(out)) return kExitStore;
  }

  int failed_batches = 0;
  const char* verb = thaw ? "Thaw" : "Remove";
  if ((thaw || remove) && !targets.empty()) {
    if (!call->parsed.Has("yes")) {
      if (isatty(STDIN_FILENO) != 1 || call->options.json) {
        Say("queue", Tone::kPlain, "refusing to {} {} without --yes", thaw ? "thaw" : "remove",
            Plural(targets.size(), "message"));
        return kExitUsage;
      }
      if (!Confirm(std::string(verb) + " " + Plural(targets.size(), "message") + " of " +
                   SanitizeForTerminal(*account) + "?")) {
        WriteStderr("Nothing done.\n");
        return kExitUsage;
      }
    }
    auto result = RunEximOnMessages(call->options.exim_config, thaw ? "-Mt" : "-Mrm", targets);
    if (!result) {
      Say("", Tone::kError, "{}", result.error().message);
      return kExitStore;
    }
    failed_batches = *result;
  } else if ((thaw || remove) && !call->options.json) {
    WriteOut(thaw ? "No frozen messages to thaw.\n" : "No messages to remove.\n");
  }

  if (call->options.json) {
    JsonWriter json;
    json.BeginObject();
    json.Field("account", *account);
    json.Field("spool_directory", spool);
    json.Key("messages").BeginArray();
    for (const QueuedMessage& m : mine) {
      json.BeginObject();
      json.Field("id", m.id);
      json.Field("frozen", m.frozen);
      json.Field("age_seconds", m.age_seconds);
      json.Field("size", m.size);
      json.Field("undelivered", m.undelivered);
      json.Field("recipients", m.recipients);
      json.Field("sender", m.sender);
      json.Field("authenticated_id", m.authenticated_id);
      json.EndObject();
    }
    json.EndArray();
    json.Key("action");
    if (thaw || remove) {
      json.String(thaw ? "thaw" : "remove");
    } else {
      json.Null();
    }
    json.Key("acted_on").BeginArray();
    for (const std::string& id : targets) json.String(id);
    json.EndArray();
    json.Field("ok", failed_batches == 0);
    json.EndObject();
    if (!WriteOut(json.Take())) return kExitStore;
  } else if (!targets.empty()) {
    const std::string done = thaw ? "thawed" : "removed";
    WriteOut(failed_batches == 0
                 ? Plural(targets.size(), "message") + " " + done + ".\n"
                 : "Exim reported errors for some messages (see above); the rest were " + done +
                       ".\n");
  }
  return failed_batches == 0 ? kExitOk : kExitStore;
}

}  // namespace senderwatch::cli
