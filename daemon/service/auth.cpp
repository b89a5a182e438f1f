#include "auth.h"

#include <cstring>

namespace tenantd {

void Auth::replaceAll(std::vector<std::pair<TokenHash, TokenRecord>> tokens) {
  tokens_.clear();
  for (auto& [hash, record] : tokens) tokens_.emplace(hash, std::move(record));
}

void Auth::add(const TokenHash& hash, TokenRecord record) {
  tokens_.insert_or_assign(hash, std::move(record));
}

bool Auth::revoke(std::string_view tokenId, UnixMillis at) {
  // By id: a scan, but revocations are rare and the index holds one entry per token.
  for (auto& [hash, record] : tokens_) {
    if (record.id == tokenId) {
      if (!record.revokedAtMs) record.revokedAtMs = at;
      return true;
    }
  }
  return false;
}

std::variant<Principal, AuthFailure> Auth::authenticate(
    std::optional<std::string_view> header) const {
  if (!header) return AuthFailure::MISSING;
  constexpr std::string_view SCHEME = "Bearer ";
  std::string_view value = *header;
  if (value.size() <= SCHEME.size() ||
      strncasecmp(value.data(), SCHEME.data(), SCHEME.size()) != 0) {
    return AuthFailure::MALFORMED;
  }
  std::string_view token = value.substr(SCHEME.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (!looksLikeToken(token)) return AuthFailure::MALFORMED;
  TokenHash hash = hashToken(token);
  auto it = tokens_.find(hash);
  if (it == tokens_.end() || !sameHash(it->first, hash)) return AuthFailure::UNKNOWN;
  const TokenRecord& t = it->second;
  if (t.revokedAtMs) return AuthFailure::REVOKED;
  if (t.expiresAtMs && *t.expiresAtMs <= clock_.now()) return AuthFailure::EXPIRED;
  return Principal{t.tenantId, t.role, t.id};
}

}  // namespace tenantd
