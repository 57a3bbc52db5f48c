// Message-id join of main-log lines; see joiner.h for the mapping.
#include "eximlog/joiner.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "senderwatch/account.h"
#include "senderwatch/ascii.h"

namespace senderwatch::eximlog {
namespace {

uint64_t Mix(uint64_t x) {
  // splitmix64 finaliser: cheap and good enough for ids and addresses.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Case-insensitive hash of an address (Exim compares domains caselessly;
// the same recipient may be logged in two spellings).
uint64_t AddressHash(std::string_view address) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : address) {
    h = (h ^ static_cast<uint8_t>(AsciiLower(c))) * 1099511628211ULL;
  }
  return Mix(h);
}

}  // namespace

size_t Joiner::MessageKeyHash::operator()(const MessageKey& key) const noexcept {
  return static_cast<size_t>(Mix(key.words[0] ^ Mix(key.words[1] ^ Mix(key.words[2]))));
}

size_t Joiner::StringHash::operator()(std::string_view s) const noexcept {
  return std::hash<std::string_view>{}(s);
}

Joiner::Joiner(EventSink& sink, JoinOptions options) : sink_(sink), options_(options) {}

Joiner::MessageKey Joiner::KeyOf(std::string_view message_id) {
  MessageKey key;
  if (!message_id.empty()) {
    std::memcpy(key.words, message_id.data(), std::min(message_id.size(), sizeof(key.words)));
  }
  return key;
}

bool Joiner::Intern(std::string_view raw, AccountRef& out) {
  const uint32_t* found = raw_ids_.Find(raw);
  uint32_t index = found != nullptr ? *found : kNoAccount;
  if (found == nullptr) {
    auto normalized = NormalizeAccount(raw);
    if (normalized) {
      auto [named, inserted] = by_name_.try_emplace(*normalized, static_cast<uint32_t>(names_.size()));
      if (inserted) names_.push_back(*normalized);
      index = named->second;
    }
    raw_ids_.Insert(raw, index);
  }
  if (index == kNoAccount) {
    ++stats_.invalid_accounts;
    return false;
  }
  out = Ref(index);
  return true;
}

bool Joiner::NeedsBody(const LogLine& header) {
  switch (header.kind) {
    case LineKind::kDelivery:
    case LineKind::kFailure:
    case LineKind::kDeferral: {
      if (header.cutthrough) return true;
      cached_key_ = KeyOf(header.message_id);
      auto it = open_.find(cached_key_);
      cached_message_ = it == open_.end() ? nullptr : &it->second;
      if (cached_message_ == nullptr && header.kind != LineKind::kDelivery) {
        ++stats_.unattributed_failures;
      }
      return cached_message_ != nullptr;
    }
    case LineKind::kArrival:
    case LineKind::kRejectedRcpt:
    case LineKind::kAuthFailure:
      return true;
    case LineKind::kCompleted:
    case LineKind::kMalformed:
    case LineKind::kOther:
      return false;
  }
  return true;
}

void Joiner::Feed(const LogLine& line) {
  if (line.time >= next_sweep_) {
    if (next_sweep_ != 0) Sweep(line.time);
    next_sweep_ = line.time + 3600;
  }
  switch (line.kind) {
    case LineKind::kArrival:
      Arrival(line);
      break;
    case LineKind::kDelivery:
    case LineKind::kFailure:
    case LineKind::kDeferral:
      AddressLine(line);
      break;
    case LineKind::kCompleted:
      cached_message_ = nullptr;
      if (open_.erase(KeyOf(line.message_id)) > 0) stats_.open_messages = open_.size();
      break;
    case LineKind::kRejectedRcpt: {
      AccountRef account;
      if (line.auth_id.empty() || !Intern(line.auth_id, account)) break;
      ++stats_.rejected_rcpts;
      Recipient(line.time, account, line.client_ip, line.sender == "<>" ? "" : line.sender,
                line.address);
      break;
    }
    case LineKind::kAuthFailure: {
      AccountRef account;
      if (line.user.empty() || !Intern(line.user, account)) break;
      ++stats_.authfails;
      sink_.OnAuthfail(line.time, account, line.client_ip);
      break;
    }
    case LineKind::kMalformed:
    case LineKind::kOther:
      break;
  }
}

std::string_view Joiner::ArrivalId(const LogLine& line, bool* local) const {
  *local = false;
  if (!line.auth_id.empty()) return line.auth_id;
  // Exim's own messages come from "<>" and the Exim user; a trusted caller
  // (root) is exempt like in the stanza.
  if (!options_.local_submissions || line.protocol != "local" || line.ident.empty() ||
      line.sender == "<>") {
    return {};
  }
  for (const std::string& exempt : options_.local_exempt) {
    if (line.ident == exempt) return {};
  }
  *local = true;
  return line.ident;
}

void Joiner::Arrival(const LogLine& line) {
  cached_message_ = nullptr;
  ++stats_.messages;
  if (line.sender == "<>" && !line.bounce_of.empty()) ++stats_.bounce_messages;
  const MessageKey key = KeyOf(line.message_id);
  AccountRef account;
  bool local = false;
  const std::string_view id = ArrivalId(line, &local);
  if (id.empty() || !Intern(id, account)) {
    // Not an account's message; drop what a cutthrough line may have opened.
    if (open_.erase(key) > 0) stats_.open_messages = open_.size();
    return;
  }
  account.local = local;
  ++(local ? stats_.local_messages : stats_.authenticated_messages);
  OpenMessage& message = open_[key];
  stats_.open_messages = open_.size();
  stats_.peak_open_messages = std::max(stats_.peak_open_messages, stats_.open_messages);
  message.account = account.index;
  message.local = local;
  message.arrived = true;
  message.last_seen = line.time;
  const size_t ip_length = std::min(line.client_ip.size(), sizeof(message.ip));
  if (ip_length > 0) std::memcpy(message.ip, line.client_ip.data(), ip_length);
  message.ip_length = static_cast<uint8_t>(ip_length);
  message.sender.assign(line.sender == "<>" ? std::string_view() : line.sender);
  if (line.has_recipient_list) {
    ++stats_.listed_messages;
    message.counted_at_arrival = true;
    message.counted.clear();
    message.pending.clear();
    // The "for" list: the RCPTs Exim accepted, in order.
    const std::string_view list = line.recipients;
    size_t start = 0;
    bool quoted = false;  // a quoted local part may hold spaces
    for (size_t i = 0; i <= list.size(); ++i) {
      if (i < list.size() && list[i] == '"') quoted = !quoted;
      if (i < list.size() && (list[i] != ' ' || quoted)) continue;
      if (i > start) {
        Recipient(line.time, account, line.client_ip, message.sender, list.substr(start, i - start));
      }
      start = i + 1;
    }
  } else if (!message.pending.empty()) {
    // Cutthrough deliveries logged before this line.
    for (const std::string& recipient : message.pending) {
      Recipient(line.time, account, line.client_ip, message.sender, recipient);
    }
    message.pending.clear();
  }
}

void Joiner::Recipient(UnixSeconds time, AccountRef account, std::string_view client_ip,
                       std::string_view sender, std::string_view recipient) {
  ++stats_.recipients;
  sink_.OnRecipient(time, account, client_ip, sender, recipient);
}

void Joiner::CountRecipient(OpenMessage& message, std::string_view top_address,
                            UnixSeconds time) {
  if (message.counted_at_arrival) return;
  const uint64_t hash = AddressHash(top_address);
  if (std::find(message.counted.begin(), message.counted.end(), hash) != message.counted.end()) {
    return;
  }
  message.counted.push_back(hash);
  if (!message.arrived) {
    message.pending.emplace_back(top_address);  // counted when the "<=" line comes
    return;
  }
  Recipient(time, Ref(message.account, message.local), message.client_ip(), message.sender,
            top_address);
}

void Joiner::AddressLine(const LogLine& line) {
  if (line.kind == LineKind::kDeferral && line.retry_skipped) {
    ++stats_.retry_skips;
    return;
  }
  const MessageKey key = KeyOf(line.message_id);
  OpenMessage* found = nullptr;
  if (cached_message_ != nullptr && cached_key_ == key) {
    found = cached_message_;
  } else if (auto it = open_.find(key); it != open_.end()) {
    found = &it->second;
  }
  cached_message_ = nullptr;
  if (found == nullptr) {
    if (line.kind == LineKind::kDelivery && line.cutthrough) {
      // ">>" comes before the message's "<=": remember the recipient.
      OpenMessage& message = open_[key];
      message.last_seen = line.time;
      message.counted.push_back(AddressHash(line.top_address));
      message.pending.emplace_back(line.top_address);
      stats_.open_messages = open_.size();
      stats_.peak_open_messages = std::max(stats_.peak_open_messages, stats_.open_messages);
    } else if (line.kind != LineKind::kDelivery) {
      ++stats_.unattributed_failures;
    }
    return;
  }
  OpenMessage& message = *found;
  message.last_seen = line.time;
  CountRecipient(message, line.top_address, line.time);
  if (!message.arrived) return;
  if (line.kind == LineKind::kFailure) {
    ++stats_.bounces;
    sink_.OnBounce(line.time, Ref(message.account, message.local), line.address, line.reason);
  } else if (line.kind == LineKind::kDeferral) {
    ++stats_.defers;
    sink_.OnDefer(line.time, Ref(message.account, message.local), line.address, line.reason);
  }
}

void Joiner::Sweep(UnixSeconds now) {
  cached_message_ = nullptr;
  const UnixSeconds horizon = now - options_.max_message_idle_seconds;
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.last_seen < horizon) {
      it = open_.erase(it);
      ++stats_.evicted_messages;
    } else {
      ++it;
    }
  }
  stats_.open_messages = open_.size();
}

}  // namespace senderwatch::eximlog
