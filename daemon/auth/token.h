#pragma once
// Bearer tokens: 32 random bytes behind a recognisable prefix, so a leaked one is easy to find in
// a scanner and to tell apart from other credentials. Only a BLAKE2b-256 hash is ever stored;
// with 256 bits of entropy no salt is needed, and a central can ship hashes to sidecars.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tenantd {

using TokenHash = std::array<uint8_t, 32>;

struct IssuedToken {
  std::string id;      // Public handle ("tok_" + 16 hex): safe in logs, audit rows, CLIs.
  std::string secret;  // "tnt_" + 43 base64url chars: shown once, never stored or logged.
  TokenHash hash;
};

// Needs sodium_init() to have run (main does it first thing).
IssuedToken issueToken();
TokenHash hashToken(std::string_view secret);
// Shape check before any lookup: prefix, length and alphabet.
bool looksLikeToken(std::string_view secret);
// Constant-time comparison.
bool sameHash(const TokenHash& a, const TokenHash& b);

}  // namespace tenantd
