// A string -> uint32_t map for the hot lookups of log replay (the account of
// every arrival): open addressing over one array of (hash, entry) slots, so
// a hit costs one cache miss for the slot and one for the key, where
// std::unordered_map walks a bucket array and a node list. Keys are never
// removed. Not thread-safe.
#ifndef SENDERWATCH_SRC_EXIMLOG_STRING_TABLE_H_
#define SENDERWATCH_SRC_EXIMLOG_STRING_TABLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

  // The value stored for `key`, or nullptr.
  const uint32_t* Find(std::string_view key) const {
    const uint64_t hash = HashBytes(key);
    for (size_t i = hash & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.entry == kEmpty) return nullptr;
      if (slot.hash == hash && entries_[slot.entry].first == key) return &entries_[slot.entry].second;
    }
  }

  // Stores `value` for a key not yet present.
  void Insert(std::string_view key, uint32_t value) {
    if ((entries_.size() + 1) * 4 > slots_.size() * 3) Grow();
    entries_.emplace_back(std::string(key), value);
    Place(HashBytes(key), static_cast<uint32_t>(entries_.size() - 1));
  }

  size_t size() const { return entries_.size(); }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t hash = 0;
    uint32_t entry = kEmpty;
  };
  void Place(uint64_t hash, uint32_t entry) {
    size_t i = hash & (slots_.size() - 1);
    while (slots_[i].entry != kEmpty) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = Slot{hash, entry};
  }
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& slot : old) {
      if (slot.entry != kEmpty) Place(slot.hash, slot.entry);
    }
  }

  std::vector<Slot> slots_;  // size a power of two, at most 3/4 full
  std::vector<std::pair<std::string, uint32_t>> entries_;
};

}  // namespace senderwatch::eximlog

#endif  // SENDERWATCH_SRC_EXIMLOG_STRING_TABLE_H_
