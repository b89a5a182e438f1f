#include "token.h"

#include <sodium.h>

namespace tenantd {

namespace {
constexpr std::string_view PREFIX = "tnt_";
constexpr size_t SECRET_BYTES = 32;
constexpr size_t ENCODED_LEN = 43;  // Unpadded base64url of 32 bytes.
}  // namespace

IssuedToken issueToken() {
  uint8_t raw[SECRET_BYTES];
  randombytes_buf(raw, sizeof(raw));
  char encoded[sodium_base64_ENCODED_LEN(SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(encoded, sizeof(encoded), raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof(raw));

  uint8_t idBytes[8];
  randombytes_buf(idBytes, sizeof(idBytes));
  char idHex[sizeof(idBytes) * 2 + 1];
  sodium_bin2hex(idHex, sizeof(idHex), idBytes, sizeof(idBytes));

  IssuedToken token;
  token.id = std::string("tok_") + idHex;
  token.secret = std::string(PREFIX) + encoded;
  sodium_memzero(encoded, sizeof(encoded));
  token.hash = hashToken(token.secret);
  return token;
}

TokenHash hashToken(std::string_view secret) {
  TokenHash hash;
  crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const uint8_t*>(secret.data()),
                     secret.size(), nullptr, 0);
  return hash;
}

bool looksLikeToken(std::string_view secret) {
  if (secret.size() != PREFIX.size() + ENCODED_LEN || secret.substr(0, PREFIX.size()) != PREFIX) {
    return false;
  }
  for (char c : secret.substr(PREFIX.size())) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool sameHash(const TokenHash& a, const TokenHash& b) {
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tenantd
