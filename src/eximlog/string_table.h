// A string -> uint32_t map for the hot lookups of log replay (the account of
// every arrival): open addressing over one array of slots holding the hash,
// the value and where the key lies in one arena, so a hit costs a cache miss
// for the slot and one for the key, where std::unordered_map walks a bucket
// array, a node and the string's own allocation. Keys are never removed.
// The arena holds up to 4 GiB of keys. Not thread-safe.
#ifndef SENDERWATCH_SRC_EXIMLOG_STRING_TABLE_H_
#define SENDERWATCH_SRC_EXIMLOG_STRING_TABLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/linear_probing.h"

namespace senderwatch::eximlog {

// 64-bit FNV-1a with a final mix: cheap for the short keys of a log.
inline uint64_t HashBytes(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ULL;
  h ^= h >> 32;
  return h;
}

class StringTable {
 public:
  StringTable() : slots_(64) {}

  // The value stored for `key`, or nullptr. The pointer is valid until the
  // next Insert.
  const uint32_t* Find(std::string_view key) const {
    const uint64_t hash = HashBytes(key);
    for (size_t i = hash & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.length == kEmpty) return nullptr;
      if (slot.hash == hash && slot.length == key.size() &&
          std::string_view(arena_).substr(slot.offset, slot.length) == key) {
        return &slot.value;
      }
    }
  }

  // Stores `value` for a key not yet present (keys longer than 64 KiB are
  // not stored; Find then keeps answering nullptr for them).
  void Insert(std::string_view key, uint32_t value) {
    if (key.size() >= kEmpty) return;
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    Slot slot{HashBytes(key), static_cast<uint32_t>(arena_.size()), value,
              static_cast<uint16_t>(key.size())};
    arena_.append(key);
    Place(slot);
    ++size_;
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint16_t kEmpty = UINT16_MAX;
  // The key's bytes are in arena_, so a hit reads the slot and the key:
  // two cache lines.
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t value = 0;
    uint16_t length = kEmpty;
  };
  static bool InUse(const Slot& slot) { return slot.length != kEmpty; }
  void Place(const Slot& slot) { probing::Place(slots_, slot, InUse); }
  void Grow() { probing::Grow(slots_, InUse); }

  std::vector<Slot> slots_;  // size a power of two, at most 3/4 full
  std::string arena_;        // all keys, back to back
  size_t size_ = 0;
};

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_STRING_TABLE_H_
