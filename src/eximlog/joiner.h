// Joins main-log lines by message id into what the live plugin would have
// been told: which account sent to which recipient, from where and with
// which envelope sender (check_sender's rcpt= and sender=), and which of its
// recipients failed. A "**" line names only a message id and an
// address; the account is on that message's "<=" line, often many lines (or
// hours) earlier. The joiner remembers the account of every open
// authenticated message until its "Completed" line, so memory grows with
// accounts and messages in the queue, not with the length of the log.
//
// Mapping (docs/replay.md explains the approximations):
//   "<= S ... A=auth:id H=[ip]"         the message belongs to account id, sender
//                                        S; with "for r1 r2" (+received_recipients)
//                                        each recipient is reported here
//   first "=>", "->", ">>", "**", "=="   without a "for" list: the recipient
//     line of each top-level recipient   is reported when it first appears
//   "**"                                 a bounce caused by the account
//   "==" (not "retry time not reached") a deferral
//   "F=<S> A=auth:id rejected RCPT <r>"  a recipient (the plugin was asked)
//   "authenticator failed ... set_id=u"  an authentication failure of u
//   "<= S U=login P=local" (no A=)       a local submission (sendmail): the
//                                        message belongs to account login, as
//                                        $authenticated_id in acl_not_smtp,
//                                        with no client address
// Other arrivals without an authenticated id ("A=" missing or without
// ":id", bounces "<= <>", submissions by root or the Exim user, see
// JoinOptions) belong to no account.
#ifndef SENDERWATCH_SRC_EXIMLOG_JOINER_H_
#define SENDERWATCH_SRC_EXIMLOG_JOINER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eximlog/log_line.h"
#include "eximlog/string_table.h"
#include "senderwatch/clock.h"

namespace senderwatch::eximlog {

// An account as the joiner knows it: a dense index (0, 1, 2...) for tables
// and its normalised name (NormalizeAccount); `local` tells, per event,
// that it belongs to a local submission (judged as Origin::kLocal).
struct AccountRef {
  uint32_t index = 0;
  std::string_view name;
  bool local = false;
};

// Receives the joined events in log order. Views are valid during the call.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // One RCPT of `account` from `client_ip` (may be empty), with what the
  // ACL passes to check_sender as rcpt= and sender=: the recipient address
  // and the envelope sender (empty for "<>").
  virtual void OnRecipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                           std::string_view sender, std::string_view recipient) = 0;
  virtual void OnBounce(UnixSeconds time, AccountRef account,
                        std::string_view recipient, std::string_view reason) = 0;
  virtual void OnDefer(UnixSeconds time, AccountRef account,
                       std::string_view recipient, std::string_view reason) = 0;
  virtual void OnAuthfail(UnixSeconds time, AccountRef account,
                          std::string_view client_ip) = 0;
};

struct JoinOptions {
  // An open message with no line for this long is forgotten (Exim's default
  // retry rule gives up after 4 days; frozen bounces may linger longer).
  // Bounds memory when "Completed" lines are missing (a log cut mid-queue).
  int64_t max_message_idle_seconds = 10 * 86400;
  // Local submissions ("<= S U=login P=local", no A=) are the login's, as
  // the acl-not-smtp.conf stanza judges them live; false ignores them.
  bool local_submissions = true;
  // Callers never judged (SENDERWATCH_LOCAL_EXEMPT_UIDS): root and the
  // usual names of the Exim user.
  std::vector<std::string> local_exempt = {"root", "Debian-exim", "exim", "mailnull"};
};

struct JoinStats {
  uint64_t messages = 0;                // arrivals ("<=", "(=")
  uint64_t authenticated_messages = 0;  // arrivals with A=auth:id
  uint64_t local_messages = 0;          // local submissions counted for their login
  uint64_t listed_messages = 0;         // of those, with a "for" list
  uint64_t bounce_messages = 0;         // arrivals from "<>" with R=
  uint64_t recipients = 0;              // recipients counted for accounts
  uint64_t bounces = 0;
  uint64_t defers = 0;
  uint64_t retry_skips = 0;             // "==" lines where Exim did not try
  uint64_t rejected_rcpts = 0;          // rejected RCPTs of authenticated clients
  uint64_t authfails = 0;
  uint64_t invalid_accounts = 0;        // ids NormalizeAccount refused
  uint64_t unattributed_failures = 0;   // "**"/"==" of messages not known as an account's
  uint64_t open_messages = 0;           // now
  uint64_t peak_open_messages = 0;
  uint64_t evicted_messages = 0;        // forgotten after max_message_idle_seconds
};

class Joiner {
 public:
  explicit Joiner(EventSink& sink, JoinOptions options = {});

  // Feeds one parsed line. kMalformed and kOther lines are ignored.
  void Feed(const LogLine& line);

  // Whether Feed needs the fields of a line of which only the header is
  // parsed (ParseHeader): false for lines of messages no account sent and
  // for "Completed". Remembers the message it found for the next Feed.
  bool NeedsBody(const LogLine& header);

  size_t account_count() const { return names_.size(); }
  const std::string& account_name(uint32_t index) const { return names_[index]; }
  const JoinStats& stats() const { return stats_; }

  // The account of `raw` (an id as logged), interned; false when the name
  // is invalid (empty, too long, control characters).
  bool Intern(std::string_view raw, AccountRef& out);

 private:
  // Exim message ids are 16 or 23 characters; the key holds them verbatim.
  struct MessageKey {
    uint64_t words[3] = {0, 0, 0};
    friend bool operator==(const MessageKey&, const MessageKey&) = default;
  };
  struct MessageKeyHash {
    size_t operator()(const MessageKey& key) const noexcept;
  };
  static constexpr uint32_t kNoAccount = UINT32_MAX;
  struct OpenMessage {
    uint32_t account = kNoAccount;  // kNoAccount: seen before its "<="
    bool arrived = false;
    bool counted_at_arrival = false;  // the "for" list was counted
    bool local = false;               // a local submission (P=local, U=login)
    uint8_t ip_length = 0;
    char ip[46] = {};
    UnixSeconds last_seen = 0;
    std::string sender;  // envelope sender, "" for "<>"
    // Hashes of the top-level recipients already counted (no "for" list).
    std::vector<uint64_t> counted;
    // Recipients of cutthrough lines logged before the "<=" line.
    std::vector<std::string> pending;
    std::string_view client_ip() const { return {ip, ip_length}; }
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept;
  };

  static MessageKey KeyOf(std::string_view message_id);
  void Arrival(const LogLine& line);
  void AddressLine(const LogLine& line);
  void CountRecipient(OpenMessage& message, std::string_view top_address, UnixSeconds time);
  void Recipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                 std::string_view sender, std::string_view recipient);
  void Sweep(UnixSeconds now);
  AccountRef Ref(uint32_t index, bool local = false) const {
    return {index, names_[index], local};
  }
  // The id whose message an arrival is: the authenticated id, or the login
  // of a local submission (*local set); empty for nobody's.
  std::string_view ArrivalId(const LogLine& line, bool* local) const;

  EventSink& sink_;
  JoinOptions options_;
  JoinStats stats_;
  std::unordered_map<MessageKey, OpenMessage, MessageKeyHash> open_;
  // Raw id as logged -> index (kNoAccount: invalid); normalised name -> index.
  StringTable raw_ids_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> by_name_;
  std::vector<std::string> names_;
  UnixSeconds next_sweep_ = 0;
  // The message NeedsBody found, valid until the next Feed (which clears it).
  MessageKey cached_key_;
  OpenMessage* cached_message_ = nullptr;
};

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_JOINER_H_
