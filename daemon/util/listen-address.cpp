#include "listen-address.h"

#include <charconv>

namespace tenantd {

std::optional<ListenAddress> parseListenAddress(std::string_view text) {
  ListenAddress out;
  std::string_view portText;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    portText = text.substr(close + 2);
    // Brackets are for an IPv6 literal only, so what we format parses back the same.
    if (out.host.find(':') == std::string::npos) return std::nullopt;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    out.host = std::string(text.substr(0, colon));
    portText = text.substr(colon + 1);
  }
  if (out.host.empty() || portText.empty()) return std::nullopt;
  if (out.host.find_first_of("[]") != std::string::npos) return std::nullopt;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port > 65535) {
    return std::nullopt;
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

std::string formatListenAddress(const ListenAddress& address) {
  bool v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

}  // namespace tenantd
