// Client networks: distinct networks, not addresses, are what gives away a
// botnet. An IPv4 client counts as its /24, an IPv6 client as its /64, so a
// user's phone hopping addresses inside one provider network counts once.
#ifndef SENDERWATCH_NETWORK_H_
#define SENDERWATCH_NETWORK_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "senderwatch/error.h"

namespace senderwatch {

inline constexpr int kIpv4PrefixBits = 24;
inline constexpr int kIpv6PrefixBits = 64;

struct ClientNetwork {
  // 4: IPv4 (first 3 bytes used), 6: IPv6 (first 8 bytes used).
  uint8_t family = 0;
  std::array<uint8_t, 8> prefix{};
  friend bool operator==(const ClientNetwork&, const ClientNetwork&) = default;
};

// Parses a textual address as Exim gives it ($sender_host_address);
// IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4.
Result<ClientNetwork> ParseClientNetwork(std::string_view address);

// "192.0.2.0/24", "2001:db8:1:2::/64".
std::string FormatClientNetwork(const ClientNetwork& network);

}  // namespace senderwatch

#endif  // SENDERWATCH_NETWORK_H_
