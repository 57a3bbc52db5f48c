// Client address to client network. inet_pton does the parsing; the
// grouping (/24, /64) is documented in network.h and docs/tuning.md.
#include "senderwatch/network.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

#include "senderwatch/account.h"

namespace senderwatch {

Result<ClientNetwork> ParseClientNetwork(std::string_view address) {
  // Exim gives bare addresses; accept "[addr]" too, as logs print them.
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  char buffer[INET6_ADDRSTRLEN + 1];
  if (address.empty() || address.size() >= sizeof buffer) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid client address '" + EscapeForLog(address) + "'");
  }
  std::memcpy(buffer, address.data(), address.size());
  buffer[address.size()] = '\0';
  ClientNetwork network;
  uint8_t bytes[16];
  if (inet_pton(AF_INET, buffer, bytes) == 1) {
    network.family = 4;
    std::memcpy(network.prefix.data(), bytes, 3);
    return network;
  }
  if (inet_pton(AF_INET6, buffer, bytes) == 1) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, sizeof kMapped) == 0) {
      network.family = 4;
      std::memcpy(network.prefix.data(), bytes + 12, 3);
    } else {
      network.family = 6;
      std::memcpy(network.prefix.data(), bytes, 8);
    }
    return network;
  }
  return MakeError(ErrorKind::kInvalidArgument,
                   "invalid client address '" + EscapeForLog(address) + "'");
}

std::string FormatClientNetwork(const ClientNetwork& network) {
  char text[INET6_ADDRSTRLEN];
  uint8_t bytes[16] = {};
  if (network.family == 4) {
    std::memcpy(bytes, network.prefix.data(), 3);
    if (inet_ntop(AF_INET, bytes, text, sizeof text) == nullptr) return "?";
    return std::string(text) + "/24";
  }
  if (network.family == 6) {
    std::memcpy(bytes, network.prefix.data(), 8);
    if (inet_ntop(AF_INET6, bytes, text, sizeof text) == nullptr) return "?";
    return std::string(text) + "/64";
  }
  return "?";
}

}  // namespace senderwatch
