// Placing and growing for open-addressing tables with linear probing, shared
// by the replay's string table (eximlog/string_table.h) and the memory
// store's record index (store/memory_store.cc). Each table keeps its own
// slot type and says which slots are in use; the probing is written once.
//
// A table is a power-of-two vector of slots, kept at most 3/4 full by its
// owner, and each slot carries the full 64-bit hash of its key.
#ifndef SENDERWATCH_SRC_CORE_LINEAR_PROBING_H_
#define SENDERWATCH_SRC_CORE_LINEAR_PROBING_H_

#include <cstddef>
#include <vector>

namespace senderwatch::probing {

// Puts `slot` in the first free slot at or after its hash.
template <typename Slot, typename InUse>
void Place(std::vector<Slot>& slots, const Slot& slot, InUse in_use) {
  const size_t mask = slots.size() - 1;
  size_t i = slot.hash & mask;
  while (in_use(slots[i])) i = (i + 1) & mask;
  slots[i] = slot;
}

// Doubles the table and places every slot in use again.
template <typename Slot, typename InUse>
void Grow(std::vector<Slot>& slots, InUse in_use) {
  std::vector<Slot> old(slots.size() * 2);
  old.swap(slots);
  for (const Slot& slot : old) {
    if (in_use(slot)) Place(slots, slot, in_use);
  }
}

}  // namespace senderwatch::probing

#endif  // SENDERWATCH_SRC_CORE_LINEAR_PROBING_H_
