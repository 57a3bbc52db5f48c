// Telling failures apart by their reason. A delivery failure says different
// things about the sender depending on why it failed: a dead address (5.1.x)
// is the classic sign of a bought or harvested spam list; a rejection as spam
// or by policy (5.7.x) says the recipients' servers already see spam; a full
// mailbox (5.2.2), a size limit or a temporary problem says nothing about the
// sender at all. record_bounce classifies Exim's $event_data with this.
#ifndef SENDERWATCH_FAILURE_H_
#define SENDERWATCH_FAILURE_H_

#include <string_view>

namespace senderwatch {

enum class FailureKind {
  kDeadAddress,  // counted as a bounce
  kSpamReject,   // counted as spam_rejects
  kNeutral,      // not counted
};

// Classifies a failure text as Exim gives it in $event_data, e.g.
// "SMTP error from remote mail server after RCPT TO:<x@y>: 550 5.1.1 <x@y>:
// Recipient address rejected: User unknown", "Unrouteable address", or the
// text of a :fail: redirect. The enhanced status code decides when present;
// otherwise well-known phrases do; an unexplained permanent failure (and an
// empty reason) counts as a dead address.
FailureKind ClassifyFailure(std::string_view reason);

std::string_view FailureKindName(FailureKind kind);  // "dead", "spam", "neutral"

}  // namespace senderwatch

#endif  // SENDERWATCH_FAILURE_H_
