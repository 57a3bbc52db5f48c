// One line of an Exim main log, taken apart. Replay and tune read gigabytes of
// logs, so this is a hand-written scanner over std::string_view: no regex, no
// allocation, every field a view into the caller's line buffer.
//
// It understands the lines Exim 4.9x writes under any log_selector: the
// optional ".mmm" (+millisec), the "+hhmm" zone (log_timezone), "[pid]"
// (+pid), 16- and 23-character message ids, and the optional fields of +all.
// What it does not understand it says so (kMalformed); it never fails harder.
//
// Fields that a client controls (the sender, the HELO name, the subject, the
// Message-ID) are skipped by their syntax, not searched through, so a
// subject reading ` A=plain:bob` cannot pose as an authentication.
#ifndef SENDERWATCH_SRC_EXIMLOG_LOG_LINE_H_
#define SENDERWATCH_SRC_EXIMLOG_LOG_LINE_H_

#include <cstdint>
#include <string_view>

#include "eximlog/timestamp.h"
#include "senderwatch/clock.h"

namespace senderwatch::eximlog {

enum class LineKind : uint8_t {
  kMalformed,     // no timestamp, or a known marker with fields that do not parse
  kOther,         // a well-formed line replay has no use for (queue runs, connections...)
  kArrival,       // "<=" (and "(=" for fakereject)
  kDelivery,      // "=>", "->", ">>" (cutthrough), "*>" (suppressed)
  kFailure,       // "**": a hard failure, the source of a bounce
  kDeferral,      // "==": a temporary failure
  kCompleted,     // "Completed": the message left the queue
  kRejectedRcpt,  // "... F=<s> [A=a:id] [temporarily ]rejected RCPT <r>: ..."
  kAuthFailure,   // "NAME authenticator failed for HOST: 535 ... (set_id=USER)"
};

struct LogLine {
  LineKind kind = LineKind::kMalformed;
  UnixSeconds time = 0;
  std::string_view message_id;     // empty for lines without one

  // kArrival: the envelope sender ("<>" for bounces), "R=" of bounces (the
  // message that bounced), "A=" split into authenticator and id (id empty
  // when Exim logged none), "U=", "P=", the client address from "H=".
  std::string_view sender;
  std::string_view bounce_of;
  std::string_view authenticator;
  std::string_view auth_id;
  std::string_view ident;
  std::string_view protocol;
  std::string_view client_ip;      // also for kRejectedRcpt and kAuthFailure
  // The "for a b c" list (+received_recipients), space-separated.
  std::string_view recipients;
  bool has_recipient_list = false;
  uint32_t recipient_count = 0;

  // kDelivery, kFailure, kDeferral, kRejectedRcpt: the address as logged and
  // the original (top-level) recipient it came from: the last "<...>" after
  // the address when there is one (a redirect or alias), else the address.
  std::string_view address;
  std::string_view top_address;
  // kFailure, kDeferral, kRejectedRcpt: the error text after ": ".
  std::string_view reason;
  // kDeferral: Exim did not try at all ("retry time not reached"): no event
  // fires in a live Exim for these.
  bool retry_skipped = false;
  // kDelivery: ">>", a cutthrough delivery, logged before the message's "<=".
  bool cutthrough = false;
  // kRejectedRcpt: a 4xx rather than a 5xx.
  bool temporary = false;
  // kAuthFailure: the user name from "(set_id=...)"; empty when absent.
  std::string_view user;
};

// Parses one line (without its newline). Views in `out` point into `line`.
// `times` converts timestamps (and caches the conversion); the line's time is
// set whenever the timestamp parses, even for kOther.
void ParseLine(std::string_view line, TimestampParser& times, LogLine& out);

// ParseLine in two steps, so that a reader can skip the fields of lines it
// has no use for (deliveries of messages no account sent are most of a log).
// ParseHeader sets the time, message id, kind and `cutthrough` and returns
// where the rest of the line starts; ParseBody fills in the fields of that
// kind, turning the kind into kMalformed when they do not parse.
size_t ParseHeader(std::string_view line, TimestampParser& times, LogLine& out);
void ParseBody(std::string_view line, size_t body, LogLine& out);

// ParseBody for a reader that only follows accounts: an arrival without
// " A=" or " P=local " anywhere in the line gets only its sender and "R="
// (the fields of most arrivals of a server are of no use to it). Other
// kinds as ParseBody.
void ParseBodyForAccounts(std::string_view line, size_t body, LogLine& out);

// True when `token` has the shape of an Exim message id: 6-6-2 (4.96 and
// before, "1xWvaM-0003ey-1X") or 6-11-4 (4.97 and later), base-62.
bool IsMessageId(std::string_view token);

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_LOG_LINE_H_
