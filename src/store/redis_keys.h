// The names of senderwatch's keys in Redis (docs/format.md, "Redis").
// Account names come from SMTP clients: they are hex-encoded after the
// prefix, so no name, whatever bytes it holds, can reach a key outside the
// prefix, or collide with the keys that are not per account. Lowercase hex
// sorts like the bytes it encodes, so key order is the LMDB store's order.
#ifndef SENDERWATCH_SRC_STORE_REDIS_KEYS_H_
#define SENDERWATCH_SRC_STORE_REDIS_KEYS_H_

#include <optional>
#include <string>
#include <string_view>

namespace senderwatch::store_internal {

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);

class RedisKeys {
 public:
  explicit RedisKeys(std::string prefix) : prefix_(std::move(prefix)) {}

  // A hash per account: field "r" its record (EncodeRecord), "h" its history.
  std::string Record(std::string_view account) const { return prefix_ + "a:" + HexEncode(account); }
  // A provisional record (Store::ModifyProvisional): a string.
  std::string Provisional(std::string_view account) const {
    return prefix_ + "p:" + HexEncode(account);
  }
  // The set of hex names with a provisional record (its size is the cap's measure).
  std::string ProvisionalSet() const { return prefix_ + "provisional"; }
  // The lock journal: a hash from hex name to a journal line (lock_journal.h).
  std::string Locks() const { return prefix_ + "locks"; }
  // A SCAN pattern for every record key (glob characters of the prefix escaped).
  std::string RecordPattern() const;
  // The account of a record key; nullopt for any other key.
  std::optional<std::string> AccountOfRecordKey(std::string_view key) const;

 private:
  std::string prefix_;
};

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_REDIS_KEYS_H_
