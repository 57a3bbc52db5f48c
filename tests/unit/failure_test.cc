#include "senderwatch/failure.h"

#include <gtest/gtest.h>

namespace senderwatch {
namespace {

struct Sample {
  const char* text;
  FailureKind kind;
};

// Reply texts as Exim 4.96 puts them in $event_data, from real servers'
// wording (Postfix, Exchange, Gmail, Exim's own router failures).
constexpr Sample kSamples[] = {
    {"SMTP error from remote mail server after RCPT TO:<x@y.test>: 550 5.1.1 <x@y.test>: "
     "Recipient address rejected: User unknown in virtual mailbox table", FailureKind::kDeadAddress},
    {"SMTP error from remote mail server after RCPT TO:<x@gmail.com>: 550-5.1.1 The email account "
     "that you tried to reach does not exist.", FailureKind::kDeadAddress},
    {"SMTP error from remote mail server after RCPT TO:<x@corp.test>: 550 5.4.1 Recipient address "
     "rejected: Access denied. AS(201806281)", FailureKind::kNeutral},
    {"SMTP error from remote mail server after end of data: 550 5.7.1 Message rejected as spam by "
     "Content Filtering.", FailureKind::kSpamReject},
    {"SMTP error from remote mail server after RCPT TO:<x@y.test>: 554 5.7.1 Service unavailable; "
     "Client host [192.0.2.1] blocked using zen.spamhaus.org", FailureKind::kSpamReject},
    {"SMTP error from remote mail server after RCPT TO:<x@y.test>: 552 5.2.2 Mailbox full",
     FailureKind::kNeutral},
    {"SMTP error from remote mail server after RCPT TO:<x@y.test>: 550 5.2.1 The email account that "
     "you tried to reach is disabled.", FailureKind::kDeadAddress},
    {"SMTP error from remote mail server after RCPT TO:<x@y.test>: 450 4.2.0 <x@y.test>: Recipient "
     "address rejected: Greylisted, see http://postgrey.schweikert.ch/", FailureKind::kNeutral},
    {"Unrouteable address", FailureKind::kDeadAddress},
    {"No such user here", FailureKind::kDeadAddress},
    {"SMTP error from remote mail server after RCPT TO:<x@y.test>: 550 Requested action not taken: "
     "mailbox unavailable", FailureKind::kDeadAddress},
    {"SMTP error from remote mail server after MAIL FROM:<a@b.test>: 550 Your message was rejected "
     "because it appears to be spam", FailureKind::kSpamReject},
    {"SMTP error from remote mail server after RCPT TO:<x@y.test>: 552 Quota exceeded",
     FailureKind::kNeutral},
    {"retry timeout exceeded", FailureKind::kNeutral},
    {"SMTP error from remote mail server after RCPT TO:<x@10.5.1.2>: 550 relay not permitted",
     FailureKind::kDeadAddress},
    // Exim's own msg:fail:internal texts that say nothing about the
    // recipient (deliver.c, queue.c): never a bounce.
    {"message removed by root", FailureKind::kNeutral},
    {"message removed by Debian-exim", FailureKind::kNeutral},
    {"delivery cancelled by administrator", FailureKind::kNeutral},
    {"delivery cancelled; message timed out", FailureKind::kNeutral},
    {"delivery cancelled", FailureKind::kNeutral},
    {"Too many \"Received\" headers - suspected mail loop", FailureKind::kNeutral},
    {"", FailureKind::kNeutral},
    // Routing failures are: a :fail: redirect's text, an unknown user.
    {"Unknown user", FailureKind::kDeadAddress},
    {"user has moved; message removed by policy", FailureKind::kSpamReject},
};

TEST(ClassifyFailure, TellsDeadAddressesSpamAndNoiseApart) {
  for (const Sample& s : kSamples) {
    EXPECT_EQ(FailureKindName(ClassifyFailure(s.text)), FailureKindName(s.kind)) << s.text;
  }
}

TEST(ClassifyFailure, IgnoresDotted) {
  // An IP address or version number is not an enhanced status code.
  EXPECT_EQ(ClassifyFailure("550 unknown user at host 5.7.1.2"), FailureKind::kDeadAddress);
}

}  // namespace
}  // namespace senderwatch
