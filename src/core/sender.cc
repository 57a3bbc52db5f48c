// Envelope-sender ownership: does this account own this MAIL FROM? A hijacked
// account is often used to send as someone else; the sender_mismatch metric
// counts the senders an account does not own under the policy's rule.
#include <algorithm>
#include <string>
#include <string_view>

#include "senderwatch/ascii.h"
#include "senderwatch/policy.h"

namespace senderwatch {
namespace {

// `v` in lower case: `v` itself when it has no upper-case letter (the
// usual case: replay asks once per recipient, and a copy of each address
// was a malloc and a free), else its AsciiLowercase in `storage`.
std::string_view LowerView(std::string_view v, std::string& storage) {
  if (std::all_of(v.begin(), v.end(), [](char c) { return AsciiLower(c) == c; })) return v;
  storage = AsciiLowercase(v);
  return storage;
}

std::string_view LocalPart(std::string_view address) {
  const size_t at = address.rfind('@');
  return at == std::string_view::npos ? address : address.substr(0, at);
}

std::string_view Domain(std::string_view address) {
  const size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

bool OwnsByAddress(std::string_view account, std::string_view sender) {
  if (sender == account) return true;
  // A bare login ("alice") owns its local part in any of the server's domains.
  return account.find('@') == std::string_view::npos && LocalPart(sender) == account;
}

}  // namespace

bool OwnsSender(const SenderSettings& settings, std::string_view account_raw,
                std::string_view sender_raw) {
  if (sender_raw.empty()) return true;  // null sender: bounces, not a claim of identity
  std::string account_storage;
  std::string sender_storage;
  const std::string_view account = LowerView(account_raw, account_storage);
  const std::string_view sender = LowerView(sender_raw, sender_storage);
  switch (settings.ownership) {
    case SenderOwnership::kAddress:
      return OwnsByAddress(account, sender);
    case SenderOwnership::kDomain:
      if (account.find('@') == std::string::npos) return OwnsByAddress(account, sender);
      return Domain(sender) == Domain(account);
    case SenderOwnership::kLookup: {
      const auto it = settings.owners.find(account);
      if (it == settings.owners.end()) return OwnsByAddress(account, sender);
      for (const std::string& item : it->second) {
        if (item == "*" || item == sender) return true;
        if (item.starts_with('@') && std::string_view(item).substr(1) == Domain(sender)) return true;
      }
      return false;
    }
  }
  return true;
}

}  // namespace senderwatch
