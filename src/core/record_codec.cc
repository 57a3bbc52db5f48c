// The on-disk record format (docs/format.md is the reference and must change
// with this file). A fixed little-endian header, the ring slots and networks
// in use, the lock, then length-prefixed strings. Version 2 is written; version 1 is still read (migration happens
// on the next write). The decoder treats its input as hostile: it is fuzzed
// with arbitrary bytes and must return an Error, never crash.
#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

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
constexpr size_t kMaxRule = 64;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void I64(int64_t v) { Le(static_cast<uint64_t>(v), 8); }
  void F64(double v) { Le(std::bit_cast<uint64_t>(v), 8); }
  void Zero(size_t n) { out_.append(n, '\0'); }
  void Str(std::string_view s, size_t max) {
    s = s.substr(0, max);
    U16(static_cast<uint16_t>(s.size()));
    out_.append(s);
  }

 private:
  void Le(uint64_t v, int bytes) {
    char le[8];
    for (int i = 0; i < bytes; ++i) le[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    out_.append(le, static_cast<size_t>(bytes));
  }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }
  uint8_t U8() { return static_cast<uint8_t>(Le(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Le(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Le(4)); }
  uint64_t Uint(int bytes) { return Le(bytes); }
  int64_t I64() { return static_cast<int64_t>(Le(8)); }
  double F64() { return std::bit_cast<double>(Le(8)); }
  void Skip(size_t n) {
    if (remaining() < n) { ok_ = false; pos_ = in_.size(); return; }
    pos_ += n;
  }
  // Reads a string of at most `max` bytes and keeps at most `keep` of them
  // (a v1 reason longer than v2 allows is cut when migrated).
  std::string Str(size_t max, size_t keep) {
    const uint16_t n = U16();
    if (!ok_ || n > max || remaining() < n) { ok_ = false; return {}; }
    std::string s(in_.substr(pos_, std::min<size_t>(n, keep)));
    pos_ += n;
    return s;
  }

 private:
  uint64_t Le(int bytes) {
    if (remaining() < static_cast<size_t>(bytes)) { ok_ = false; pos_ = in_.size(); return 0; }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::unexpected<Error> Corrupt(const std::string& why) {
  return MakeError(ErrorKind::kStoreCorrupt, "undecodable record: " + why);
}

// Version 2 stores only the ring slots and networks in use: an account
// active in a few minutes takes a few hundred bytes, so several records
// share an LMDB page (a fixed 1.6 KB layout filled one page per account).
template <typename Ring>
void WriteRing(Writer& w, const Ring& ring) {
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
  w.U8(used);
  for (int slot = 0; slot < Ring::kSlots; ++slot) {
    const uint8_t mask = masks[static_cast<size_t>(slot)];
    if (mask == 0) continue;
    w.U8(static_cast<uint8_t>(slot));
    w.U8(mask);
    for (int c = 0; c < kCounterCount; ++c) {
      if (mask & (1u << c)) w.U16(ring.data()[slot * kCounterCount + c]);
    }
  }
}

template <typename Ring>
bool ReadSparseRing(Reader& in, Ring& ring) {
  const uint8_t used = in.U8();
  if (used > Ring::kSlots) return false;
  int previous = -1;
  for (int i = 0; i < used; ++i) {
    const uint8_t slot = in.U8();
    const uint8_t mask = in.U8();
    // Slots in increasing order, each once; only known counters; none empty.
    if (slot >= Ring::kSlots || slot <= previous || mask == 0 || mask >= (1u << kCounterCount)) {
      return false;
    }
    previous = slot;
    for (int c = 0; c < kCounterCount; ++c) {
      if (mask & (1u << c)) ring.data()[slot * kCounterCount + c] = in.U16();
    }
  }
  return in.ok();
}

}  // namespace

std::string EncodeRecord(const AccountRecord& r) {
  std::string out;
  out.reserve(256);
  Writer w(out);
  for (char c : kMagic) w.U8(static_cast<uint8_t>(c));
  w.U8(kRecordVersion);
  w.U8(r.lock.locked ? 1 : 0);
  w.U8(r.network_count);
  w.U16(0);
  w.I64(r.first_seen);
  w.I64(r.last_seen);
  w.I64(r.evidence_after);
  w.U32(r.lock_count);
  w.U32(r.minutes.head());
  w.U32(r.hours.head());
  w.U32(0);
  WriteRing(w, r.minutes);
  WriteRing(w, r.hours);
  for (int i = 0; i < r.network_count; ++i) {
    const NetworkSighting& n = r.networks[static_cast<size_t>(i)];
    w.U8(n.network.family);
    w.Zero(3);
    for (uint8_t b : n.network.prefix) w.U8(b);
    w.U32(n.first_minute);
    w.U32(n.last_minute);
  }
  w.I64(r.lock.since);
  w.I64(r.lock.until);
  w.U8(static_cast<uint8_t>(r.lock.metric));
  w.Zero(7);
  w.F64(r.lock.value);
  w.F64(r.lock.limit);
  w.I64(r.lock.window_seconds);
  w.I64(r.last_release.at);
  w.Str(r.lock.rule, kMaxRule);
  w.Str(r.lock.reason, kV2.reason_max);
  w.Str(r.lock.by, kV2.who_max);
  w.Str(r.last_release.by, kV2.who_max);
  w.Str(r.last_release.reason, kV2.reason_max);
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
  Reader in(bytes);
  in.Skip(4);
  const uint8_t flags = in.U8();
  const uint8_t network_count = in.U8();
  in.Skip(2);
  if (flags > 1) return Corrupt("bad flags");
  if (network_count > kMaxNetworks) return Corrupt("bad network count");
  r.lock.locked = flags == 1;
  r.network_count = network_count;
  r.first_seen = in.I64();
  r.last_seen = in.I64();
  r.evidence_after = in.I64();
  r.lock_count = in.U32();
  r.minutes.set_head(in.U32());
  r.hours.set_head(in.U32());
  in.Skip(4);
  if (version == 1) {
    // Fixed rings of 4 counters; the counters v1 lacks stay zero.
    for (int slot = 0; slot < MinuteRing::kSlots; ++slot) {
      for (int c = 0; c < layout.counters; ++c) r.minutes.data()[slot * kCounterCount + c] = in.U16();
    }
    for (int slot = 0; slot < HourRing::kSlots; ++slot) {
      for (int c = 0; c < layout.counters; ++c) {
        const uint64_t v = in.Uint(layout.hour_count_bytes);
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
    n.network.family = in.U8();
    in.Skip(3);
    for (uint8_t& b : n.network.prefix) b = in.U8();
    n.first_minute = in.U32();
    n.last_minute = in.U32();
    const bool used = i < network_count;
    if (used && n.network.family != 4 && n.network.family != 6) return Corrupt("bad network family");
    if (!used) n = NetworkSighting{};
  }
  r.lock.since = in.I64();
  r.lock.until = in.I64();
  const uint8_t metric = in.U8();
  if (metric >= kAllMetrics.size()) return Corrupt("bad lock metric");
  r.lock.metric = static_cast<Metric>(metric);
  in.Skip(7);
  r.lock.value = in.F64();
  r.lock.limit = in.F64();
  r.lock.window_seconds = in.I64();
  r.last_release.at = in.I64();
  r.lock.rule = in.Str(kMaxRule, kMaxRule);
  r.lock.reason = in.Str(layout.reason_max, kV2.reason_max);
  r.lock.by = in.Str(layout.who_max, kV2.who_max);
  r.last_release.by = in.Str(layout.who_max, kV2.who_max);
  r.last_release.reason = in.Str(layout.reason_max, kV2.reason_max);
  if (!in.ok()) return Corrupt("truncated");
  if (in.remaining() != 0) return Corrupt("trailing bytes");
  return r;
}

}  // namespace senderwatch
