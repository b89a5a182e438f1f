#include "token.h"

#include <sodium.h>

#include <catch2/catch.hpp>

#include <set>

namespace tenantd {

TEST_CASE("Issued tokens carry the prefix, 256 random bits and a matching hash") {
  REQUIRE(sodium_init() >= 0);
  auto token = issueToken();
  CHECK(token.secret.rfind("tnt_", 0) == 0);
  CHECK(token.secret.size() == 4 + 43);
  CHECK(token.id.rfind("tok_", 0) == 0);
  CHECK(token.id.size() == 4 + 16);
  CHECK(looksLikeToken(token.secret));
  CHECK(sameHash(token.hash, hashToken(token.secret)));
  // The id is public: it must not be derivable from, or part of, the secret.
  CHECK(token.secret.find(token.id.substr(4)) == std::string::npos);
}

TEST_CASE("Every issued token is different") {
  REQUIRE(sodium_init() >= 0);
  std::set<std::string> secrets, ids;
  for (int i = 0; i < 200; ++i) {
    auto t = issueToken();
    secrets.insert(t.secret);
    ids.insert(t.id);
  }
  CHECK(secrets.size() == 200);
  CHECK(ids.size() == 200);
}

TEST_CASE("looksLikeToken rejects wrong prefixes, lengths and alphabets") {
  REQUIRE(sodium_init() >= 0);
  auto good = issueToken().secret;
  CHECK_FALSE(looksLikeToken(""));
  CHECK_FALSE(looksLikeToken("tnt_"));
  CHECK_FALSE(looksLikeToken("xyz_" + good.substr(4)));
  CHECK_FALSE(looksLikeToken(good + "A"));
  CHECK_FALSE(looksLikeToken(good.substr(0, good.size() - 1) + "+"));
}

TEST_CASE("Hashes of different tokens differ and compare unequal") {
  REQUIRE(sodium_init() >= 0);
  auto a = issueToken();
  auto b = issueToken();
  CHECK_FALSE(sameHash(a.hash, b.hash));
  auto flipped = a.hash;
  flipped[31] ^= 1;
  CHECK_FALSE(sameHash(a.hash, flipped));
}

}  // namespace tenantd
