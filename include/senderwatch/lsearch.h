// Files in the format of Exim's lsearch lookup: the [sender] owners file the
// policy names and the per-account limits file the snippets look up. Exim
// reads the limits file itself, so senderwatch must read both exactly as
// lsearch does, or replay and the plugin would see other entries than Exim:
//
//   - a line is "KEY: VALUE" or "KEY VALUE"; the colon is optional;
//   - a KEY in double quotes may hold spaces and colons, with backslash
//     escapes (\n, \t, \\, \" ... as in Exim strings);
//   - a line starting with white space continues the previous value (its
//     leading white space becomes one space); an empty line or a '#' line
//     ends the continuation;
//   - lines starting with '#' and empty lines are ignored;
//   - keys match without regard to ASCII case, and the first line of a key
//     wins.
//
// Thread-safe; no state.
#ifndef SENDERWATCH_LSEARCH_H_
#define SENDERWATCH_LSEARCH_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace senderwatch {

struct LsearchEntry {
  std::string key;    // lower case (lsearch matches caselessly)
  std::string value;  // continuation lines joined with one space
  size_t line = 0;    // 1-based line of the key, for messages
};

// The entries of `text` in file order, each key once (its first entry).
std::vector<LsearchEntry> ParseLsearch(std::string_view text);

}  // namespace senderwatch

#endif  // SENDERWATCH_LSEARCH_H_
