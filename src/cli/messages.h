// The one way the CLI writes messages: every line on stderr that is not the
// progress bar or a yes/no question goes through Say, so each reads
// "senderwatch[ VERB]: [error|warning|info|debug|hint: ]TEXT" and no value
// from a store, a log or the queue reaches the terminal unsanitized. Output
// on stdout (tables, JSON) is not a message: see WriteOut (context.h).
//
// Why not spdlog: its pattern gives every line one shape, and the CLI's
// messages have several that users and scripts read (usage errors end with
// "Try '... --help'.", log verbs name the verb). A logger with one sink and
// a pattern of "%v" would be a dependency that does nothing fmt does not.
#ifndef SENDERWATCH_SRC_CLI_MESSAGES_H_
#define SENDERWATCH_SRC_CLI_MESSAGES_H_

#include <fmt/format.h>

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "cli/format.h"

namespace senderwatch::cli {

// What kind of message a line is; the label after the prefix, coloured on a
// terminal. kPlain has no label ("senderwatch: /etc/x.toml is valid").
enum class Tone : uint8_t { kPlain, kError, kWarning, kInfo, kDebug, kHint };

// "senderwatch VERB: TONE: BODY\n" (no " VERB" when `verb` is empty, no
// "TONE: " for kPlain); the label is coloured when `color`. `body` is used
// as given: Message sanitizes what comes from outside.
std::string MessageLine(std::string_view verb, Tone tone, std::string_view body, bool color);

// Writes `text` to stderr in one call, unbuffered; errors are ignored (there
// is nowhere left to report them).
void WriteStderr(std::string_view text);

// Whether labels are coloured: stderr is a terminal, NO_COLOR is unset and
// TERM is not "dumb" (DecideColor's rule for stdout, applied to stderr).
bool StderrColor();

namespace detail {
// Arguments of a message are values from outside: text is made safe for a
// terminal (SanitizeForTerminal); numbers pass as they are.
template <typename T>
auto Safe(const T& value) {
  if constexpr (std::convertible_to<const T&, std::string_view>) {
    return SanitizeForTerminal(std::string_view(value));
  } else {
    return value;
  }
}
}  // namespace detail

// The body of a message: `format` (a literal, trusted: it may hold line
// breaks) with each argument sanitized.
template <typename... Args>
std::string Message(fmt::format_string<const Args&...> format, const Args&... args) {
  auto safe = std::make_tuple(detail::Safe(args)...);
  return std::apply(
      [&](auto&... value) { return fmt::vformat(fmt::string_view(format), fmt::make_format_args(value...)); },
      safe);
}

// Says one message on stderr: Say("tune", Tone::kError, "cannot write {}", path).
template <typename... Args>
void Say(std::string_view verb, Tone tone, fmt::format_string<const Args&...> format,
         const Args&... args) {
  WriteStderr(MessageLine(verb, tone, Message<Args...>(format, args...), StderrColor()));
}

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_MESSAGES_H_
