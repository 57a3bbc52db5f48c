// The on-disk record format (docs/format.md is the reference and must change
// with this file). A fixed little-endian header, the ring slots and networks
// in use, the lock, then length-prefixed strings. Version 2 is written; version 1 is still read (migration happens
// on the next write). The decoder treats its input as hostile: it is fuzzed
// with arbitrary bytes and must return an Error, never crash.
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "core/coding.h"
#include "senderwatch/record.h"

namespace senderwatch {
namespace {

constexpr char kMagic[3] = {'S', 'W', 'R'};

// What differs between the versions this decoder reads.
struct Layout {
  int counters;          // counters per ring slot (fixed rings: v1 only)
  int hour_count_bytes;  // v1: 4
  size_t reason_max;
  size_t who_max;
  constexpr size_t FixedSize() const {
    return 48 + static_cast<size_t>(MinuteRing::kSlots * counters * 2) +
           static_cast<size_t>(HourRing::kSlots * counters * hour_count_bytes) +
           static_cast<size_t>(kMaxNetworks) * 20 + 48 + 8;
  }
};
constexpr Layout kV1{4, 4, 160, 32};
constexpr Layout kV2{kCounterCount, 2, 128, 32};
static_assert(kV1.FixedSize() == 1288);
static_assert(kV1.hour_count_bytes == 4);
constexpr size_t kMaxRule = 64;

using coding::PutDouble;
using coding::PutFixed16;
using coding::PutFixed32;
using coding::PutFixed8;
using coding::PutInt64;
using coding::PutZeros;

// A string cut to `max` bytes (the record's limits are far below 65535).
void PutStr(std::string& out, std::string_view s, size_t max) {
  coding::PutLengthPrefixed16(out, s.substr(0, max));
}

// Reads a string of at most `max` bytes and keeps at most `keep` of them (a
// v1 reason longer than v2 allows is cut when migrated).
std::string ReadStr(coding::ByteReader& in, size_t max, size_t keep) {
  return std::string(in.LengthPrefixed16(max).substr(0, keep));
}

std::unexpected<Error> Corrupt(const std::string& why) {
  return MakeError(ErrorKind::kStoreCorrupt, "undecodable record: " + why);
}

// Version 2 stores only the ring slots and networks in use: an account
// active in a few minutes takes a few hundred bytes, so several records
// share an LMDB page (a fixed 1.6 KB layout filled one page per account).
template <typename Ring>
void WriteRing(std::string& out, const Ring& ring) {
  // One pass over the ring finds the slots in use (every check_sender
  // encodes the record: docs/performance.md), the second writes them.
  std::array<uint8_t, Ring::kSlots> masks;
  uint8_t used = 0;
  for (int slot = 0; slot < Ring::kSlots; ++slot) {
    const auto* counts = ring.data() + slot * kCounterCount;
    unsigned mask = 0;
    for (int c = 0; c < kCounterCount; ++c) mask |= (counts[c] != 0 ? 1u : 0u) << c;
    masks[static_cast<size_t>(slot)] = static_cast<uint8_t>(mask);
    used = static_cast<uint8_t>(used + (mask != 0));
  }
  PutFixed8(out, used);
  for (int slot = 0; slot < Ring::kSlots; ++slot) {
    const uint8_t mask = masks[static_cast<size_t>(slot)];
    if (mask == 0) continue;
    PutFixed8(out, static_cast<uint8_t>(slot));
    PutFixed8(out, mask);
    for (int c = 0; c < kCounterCount; ++c) {
      if (mask & (1u << c)) PutFixed16(out, ring.data()[slot * kCounterCount + c]);
    }
  }
}

template <typename Ring>
bool ReadSparseRing(coding::ByteReader& in, Ring& ring) {
  const uint8_t used = in.Fixed8();
  if (used > Ring::kSlots) return false;
  int previous = -1;
  for (int i = 0; i < used; ++i) {
    const uint8_t slot = in.Fixed8();
    const uint8_t mask = in.Fixed8();
    // Slots in increasing order, each once; only known counters; none empty.
    if (slot >= Ring::kSlots || slot <= previous || mask == 0 || mask >= (1u << kCounterCount)) {
      return false;
    }
    previous = slot;
    for (int c = 0; c < kCounterCount; ++c) {
      if (mask & (1u << c)) ring.data()[slot * kCounterCount + c] = in.Fixed16();
    }
  }
  return in.ok();
}

}  // namespace

std::string EncodeRecord(const AccountRecord& r) {
  std::string out;
  out.reserve(256);
  for (char c : kMagic) PutFixed8(out, static_cast<uint8_t>(c));
  PutFixed8(out, kRecordVersion);
  PutFixed8(out, r.lock.locked ? 1 : 0);
  PutFixed8(out, r.network_count);
  PutFixed16(out, 0);
  PutInt64(out, r.first_seen);
  PutInt64(out, r.last_seen);
  PutInt64(out, r.evidence_after);
  PutFixed32(out, r.lock_count);
  PutFixed32(out, r.minutes.head());
  PutFixed32(out, r.hours.head());
  PutFixed32(out, 0);
  WriteRing(out, r.minutes);
  WriteRing(out, r.hours);
  for (int i = 0; i < r.network_count; ++i) {
    const NetworkSighting& n = r.networks[static_cast<size_t>(i)];
    PutFixed8(out, n.network.family);
    PutZeros(out, 3);
    for (uint8_t b : n.network.prefix) PutFixed8(out, b);
    PutFixed32(out, n.first_minute);
    PutFixed32(out, n.last_minute);
  }
  PutInt64(out, r.lock.since);
  PutInt64(out, r.lock.until);
  PutFixed8(out, static_cast<uint8_t>(r.lock.metric));
  PutZeros(out, 7);
  PutDouble(out, r.lock.value);
  PutDouble(out, r.lock.limit);
  PutInt64(out, r.lock.window_seconds);
  PutInt64(out, r.last_release.at);
  PutStr(out, r.lock.rule, kMaxRule);
  PutStr(out, r.lock.reason, kV2.reason_max);
  PutStr(out, r.lock.by, kV2.who_max);
  PutStr(out, r.last_release.by, kV2.who_max);
  PutStr(out, r.last_release.reason, kV2.reason_max);
  return out;
}

Result<AccountRecord> DecodeRecord(std::string_view bytes, std::string_view account) {
  if (bytes.size() < 4 || std::memcmp(bytes.data(), kMagic, 3) != 0) {
    return Corrupt("bad magic");
  }
  const auto version = static_cast<uint8_t>(bytes[3]);
  if (version > kRecordVersion) {
    return MakeError(ErrorKind::kUnsupported,
                     "record version " + std::to_string(version) +
                         " is newer than this senderwatch understands (" +
                         std::to_string(kRecordVersion) + ")");
  }
  if (version != 1 && version != 2) return Corrupt("bad version " + std::to_string(version));
  const Layout& layout = version == 1 ? kV1 : kV2;
  if (version == 1 && bytes.size() < kV1.FixedSize()) return Corrupt("truncated");

  AccountRecord r;
  r.account = std::string(account);
  coding::ByteReader in(bytes);
  in.Skip(4);
  const uint8_t flags = in.Fixed8();
  const uint8_t network_count = in.Fixed8();
  in.Skip(2);
  if (flags > 1) return Corrupt("bad flags");
  if (network_count > kMaxNetworks) return Corrupt("bad network count");
  r.lock.locked = flags == 1;
  r.network_count = network_count;
  r.first_seen = in.Int64();
  r.last_seen = in.Int64();
  r.evidence_after = in.Int64();
  r.lock_count = in.Fixed32();
  r.minutes.set_head(in.Fixed32());
  r.hours.set_head(in.Fixed32());
  in.Skip(4);
  if (version == 1) {
    // Fixed rings of 4 counters; the counters v1 lacks stay zero.
    for (int slot = 0; slot < MinuteRing::kSlots; ++slot) {
      for (int c = 0; c < layout.counters; ++c) r.minutes.data()[slot * kCounterCount + c] = in.Fixed16();
    }
    for (int slot = 0; slot < HourRing::kSlots; ++slot) {
      for (int c = 0; c < layout.counters; ++c) {
        const uint64_t v = in.Fixed32();  // v1 hour counts are u32
        r.hours.data()[slot * kCounterCount + c] =
            static_cast<uint16_t>(std::min<uint64_t>(v, std::numeric_limits<uint16_t>::max()));
      }
    }
  } else if (!ReadSparseRing(in, r.minutes) || !ReadSparseRing(in, r.hours)) {
    return Corrupt("bad ring");
  }
  // v1 stores all 16 network entries; v2 only those in use.
  const int stored_networks = version == 1 ? kMaxNetworks : network_count;
  for (int i = 0; i < stored_networks; ++i) {
    NetworkSighting& n = r.networks[static_cast<size_t>(i)];
    n.network.family = in.Fixed8();
    in.Skip(3);
    for (uint8_t& b : n.network.prefix) b = in.Fixed8();
    n.first_minute = in.Fixed32();
    n.last_minute = in.Fixed32();
    const bool used = i < network_count;
    if (used && n.network.family != 4 && n.network.family != 6) return Corrupt("bad network family");
    if (!used) n = NetworkSighting{};
  }
  r.lock.since = in.Int64();
  r.lock.until = in.Int64();
  const uint8_t metric = in.Fixed8();
  if (metric >= kAllMetrics.size()) return Corrupt("bad lock metric");
  r.lock.metric = static_cast<Metric>(metric);
  in.Skip(7);
  r.lock.value = in.Double();
  r.lock.limit = in.Double();
  r.lock.window_seconds = in.Int64();
  r.last_release.at = in.Int64();
  r.lock.rule = ReadStr(in, kMaxRule, kMaxRule);
  r.lock.reason = ReadStr(in, layout.reason_max, kV2.reason_max);
  r.lock.by = ReadStr(in, layout.who_max, kV2.who_max);
  r.last_release.by = ReadStr(in, layout.who_max, kV2.who_max);
  r.last_release.reason = ReadStr(in, layout.reason_max, kV2.reason_max);
  if (!in.ok()) return Corrupt("truncated");
  if (in.remaining() != 0) return Corrupt("trailing bytes");
  return r;
}

}  // namespace senderwatch
