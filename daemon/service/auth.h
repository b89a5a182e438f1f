#pragma once
// Bearer-token authentication for the REST API. Tokens are indexed in memory by their BLAKE2b
// hash (never by the token itself), so a request costs one hash and one lookup and no store
// read; the index is rebuilt from the store at start and whenever the store changes underneath
// (tokens created or revoked by the offline CLI).

#include "auth/token.h"
#include "store/catalog.h"
#include "util/clock.h"

#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace tenantd {

struct Principal {
  std::string tenantId;
  Role role;
  std::string tokenId;  // Safe to log and audit; the token itself never is.
};

enum class AuthFailure {
  MISSING,    // No Authorization header.
  MALFORMED,  // Not "Bearer <token>", or not shaped like one of ours.
  UNKNOWN,    // Well-formed, not ours.
  REVOKED,
  EXPIRED,
};

class Auth {
public:
  explicit Auth(const Clock& clock) : clock_(clock) {}

  void replaceAll(std::vector<std::pair<TokenHash, TokenRecord>> tokens);
  // A token the daemon itself just committed (Admin over RPC): usable at once.
  void add(const TokenHash& hash, TokenRecord record);
  // Marks a token revoked (committed by the daemon itself); false if it is not indexed.
  bool revoke(std::string_view tokenId, UnixMillis at);
  size_t size() const { return tokens_.size(); }

  std::variant<Principal, AuthFailure> authenticate(
      std::optional<std::string_view> authorizationHeader) const;

private:
  struct HashOfHash {
    size_t operator()(const TokenHash& h) const {
      size_t v;
      memcpy(&v, h.data(), sizeof(v));  // Already uniformly random.
      return v;
    }
  };
  const Clock& clock_;
  std::unordered_map<TokenHash, TokenRecord, HashOfHash> tokens_;
};

}  // namespace tenantd
