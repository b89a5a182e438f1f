#include "listen-address.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("Listen addresses parse IPv4, names and bracketed IPv6") {
  auto a = parseListenAddress("127.0.0.1:3000");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 3000);
  auto b = parseListenAddress("[::1]:0");
  REQUIRE(b);
  CHECK(b->host == "::1");
  CHECK(formatListenAddress(*b) == "[::1]:0");
  CHECK(parseListenAddress("localhost:80"));
  CHECK_FALSE(parseListenAddress("::1:80"));
  CHECK_FALSE(parseListenAddress("host:"));
  CHECK_FALSE(parseListenAddress(":80"));
  CHECK_FALSE(parseListenAddress("host:65536"));
  CHECK_FALSE(parseListenAddress("host:8o"));
  CHECK_FALSE(parseListenAddress("[::1]80"));
  // Found by the documents fuzzer: a bracket inside the host would format as something else.
  CHECK_FALSE(parseListenAddress("[[]:3000"));
  CHECK_FALSE(parseListenAddress("a]:3000"));
  CHECK_FALSE(parseListenAddress("[localhost]:3000"));
}

}  // namespace tenantd
