#pragma once
// Standard base64 (RFC 4648 §4, padded), as the feed carries binary: signatures, payloads,
// sealed secret values. libsodium's codec underneath.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tenantd::sync {

std::string toBase64(const uint8_t* data, size_t size);
inline std::string toBase64(std::string_view bytes) {
  return toBase64(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}
// nullopt unless `text` is entirely standard base64 (padding required, no whitespace).
std::optional<std::string> fromBase64(std::string_view text);

}  // namespace tenantd::sync
