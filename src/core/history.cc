// The long history: absorbing completed hours, the recipient filter, and the
// history codec (version 1, docs/format.md "History layout").
#include "senderwatch/history.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/coding.h"

namespace senderwatch {
namespace {

constexpr char kMagic[3] = {'S', 'W', 'H'};
constexpr size_t kHistorySize = 4 + 4 + 2 * kHistoryHours + 4 + 2 * kRecipientFilterBytes;

uint64_t Fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

uint8_t QuantizeCount(uint64_t count) {
  if (count < 32) return static_cast<uint8_t>(count);
  const double steps = 16.0 * std::log2(static_cast<double>(count) / 32.0);
  const double code = 32.0 + std::floor(steps + 1e-9);
  return static_cast<uint8_t>(std::min(code, 255.0));
}

uint64_t DequantizeCount(uint8_t code) {
  // A table: learned limits decode every hour of the span on each check.
  static const std::array<uint64_t, 256> kValues = [] {
    std::array<uint64_t, 256> values{};
    for (int c = 0; c < 256; ++c) {
      values[static_cast<size_t>(c)] =
          c < 32 ? static_cast<uint64_t>(c)
                 : static_cast<uint64_t>(32.0 * std::exp2((c - 32) / 16.0));
    }
    return values;
  }();
  return kValues[code];
}

void AccountHistory::Absorb(const SlotRing<24, uint16_t>& hours, uint32_t now_hour) {
  if (now_hour == 0 || hours.head() == 0) return;
  const uint32_t last_complete = now_hour - 1;
  if (head_hour != 0 && last_complete <= head_hour) return;
  uint32_t first = head_hour == 0 ? hours.head() - std::min<uint32_t>(hours.head(), 23) : head_hour + 1;
  if (last_complete >= first + kHistoryHours) first = last_complete - kHistoryHours + 1;
  for (uint32_t h = first; h <= last_complete; ++h) {
    const size_t slot = h % kHistoryHours;
    recipients[slot] = QuantizeCount(hours.Sum(Counter::kRecipients, h, h));
    bounces[slot] = QuantizeCount(hours.Sum(Counter::kBounces, h, h));
  }
  head_hour = last_complete;
}

bool AccountHistory::NoteRecipient(std::string_view recipient, uint32_t now_hour,
                                   uint32_t generation_hours) {
  const uint32_t generation = now_hour / std::max<uint32_t>(generation_hours, 1);
  if (generation != filter_generation) {
    if (generation == filter_generation + 1) {
      previous = current;
    } else {
      previous.fill(0);
    }
    current.fill(0);
    filter_generation = generation;
  }
  constexpr uint32_t kBits = kRecipientFilterBytes * 8;
  bool known_now = true;
  bool known_before = true;
  const uint64_t h1 = Fnv1a(recipient, 0);
  const uint64_t h2 = Fnv1a(recipient, 0x9E3779B97F4A7C15ULL) | 1;
  for (uint64_t k = 0; k < 3; ++k) {
    const uint32_t bit = static_cast<uint32_t>((h1 + k * h2) % kBits);
    const uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
    known_now &= (current[bit / 8] & mask) != 0;
    known_before &= (previous[bit / 8] & mask) != 0;
    current[bit / 8] |= mask;
  }
  return !(known_now || known_before);
}

std::optional<uint64_t> AccountHistory::HourCount(Counter counter, uint32_t hour) const {
  if (head_hour == 0 || hour > head_hour || hour + kHistoryHours <= head_hour) return std::nullopt;
  const size_t slot = hour % kHistoryHours;
  if (counter == Counter::kRecipients) return DequantizeCount(recipients[slot]);
  if (counter == Counter::kBounces) return DequantizeCount(bounces[slot]);
  return std::nullopt;
}

std::string EncodeHistory(const AccountHistory& h) {
  std::string out;
  out.reserve(kHistorySize);
  out.append(kMagic, 3);
  out.push_back(static_cast<char>(kHistoryVersion));
  coding::PutFixed32(out, h.head_hour);
  out.append(reinterpret_cast<const char*>(h.recipients.data()), h.recipients.size());
  out.append(reinterpret_cast<const char*>(h.bounces.data()), h.bounces.size());
  coding::PutFixed32(out, h.filter_generation);
  out.append(reinterpret_cast<const char*>(h.current.data()), h.current.size());
  out.append(reinterpret_cast<const char*>(h.previous.data()), h.previous.size());
  return out;
}

Result<AccountHistory> DecodeHistory(std::string_view bytes) {
  if (bytes.size() < 4 || std::memcmp(bytes.data(), kMagic, 3) != 0) {
    return MakeError(ErrorKind::kStoreCorrupt, "undecodable history: bad magic");
  }
  if (static_cast<uint8_t>(bytes[3]) > kHistoryVersion) {
    return MakeError(ErrorKind::kUnsupported, "history version " +
                                                  std::to_string(static_cast<uint8_t>(bytes[3])) +
                                                  " is newer than this senderwatch understands");
  }
  if (static_cast<uint8_t>(bytes[3]) != kHistoryVersion || bytes.size() != kHistorySize) {
    return MakeError(ErrorKind::kStoreCorrupt, "undecodable history: bad version or size");
  }
  AccountHistory h;
  // The size was checked above: every read below fits.
  coding::ByteReader in(bytes);
  in.Skip(4);
  h.head_hour = in.Fixed32();
  auto copy = [&in](auto& array) {
    const std::string_view raw = in.Bytes(array.size());
    if (raw.size() == array.size()) std::memcpy(array.data(), raw.data(), raw.size());
  };
  copy(h.recipients);
  copy(h.bounces);
  h.filter_generation = in.Fixed32();
  copy(h.current);
  copy(h.previous);
  return h;
}

}  // namespace senderwatch
