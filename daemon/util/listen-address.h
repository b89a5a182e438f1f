#pragma once
// Where a TCP listener binds: the daemon's REST address, as the config, the command line and the
// HTTP server spell it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tenantd {

struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1", "localhost"
  uint16_t port = 0;
};

// "127.0.0.1:3000", "localhost:3000", "[::1]:3000". nullopt if malformed.
std::optional<ListenAddress> parseListenAddress(std::string_view text);
std::string formatListenAddress(const ListenAddress& address);

}  // namespace tenantd
