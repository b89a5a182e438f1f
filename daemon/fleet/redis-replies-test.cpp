#include "redis-replies.h"

#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>

namespace tenantd::fleet {

namespace {
// A reply as hiredis builds it from the bytes a node writes.
OwnedReply reply(std::string_view resp) {
  OwnedReply r = readReply(resp);
  REQUIRE(r != nullptr);
  return r;
}

// One CLUSTER SLOTS range in RESP: first, last, then the master [endpoint, port, id].
std::string range(int first, int last, std::string_view endpoint, int port) {
  return "*3\r\n:" + std::to_string(first) + "\r\n:" + std::to_string(last) + "\r\n*3\r\n" +
         std::string(endpoint) + ":" + std::to_string(port) + "\r\n$2\r\nid\r\n";
}

std::string bulk(std::string_view text) {
  return "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
}
}  // namespace

TEST_CASE("A redirect names its slot and where to go") {
  CHECK(parseRedirect("MOVED 3999 127.0.0.1:6381") == Redirect{false, 3999, "127.0.0.1", 6381});
  CHECK(parseRedirect("ASK 0 redis-2.internal:7000") ==
        Redirect{true, 0, "redis-2.internal", 7000});
  CHECK(parseRedirect("MOVED 16383 [::1]:6379") == Redirect{false, 16383, "::1", 6379});
  CHECK(parseRedirect("MOVED 16383 ::1:6379") == Redirect{false, 16383, "::1", 6379});
  // Redis 7's unknown endpoint: the node that answered, on this port.
  CHECK(parseRedirect("MOVED 12 :6380") == Redirect{false, 12, "", 6380});
}

TEST_CASE("A redirect out of range or of another shape is not followed") {
  for (std::string_view error :
       {"MOVED 16384 127.0.0.1:6381", "MOVED -1 127.0.0.1:6381", "MOVED 99999999999999999999 h:1",
        "MOVED 3999 127.0.0.1:0", "MOVED 3999 127.0.0.1:65536",
        "MOVED 3999 127.0.0.1:", "MOVED 3x99 127.0.0.1:6381", "MOVED 3999 127.0.0.1:63a1",
        "MOVED 3999 127.0.0.1", "MOVED 3999", "MOVED  127.0.0.1:6381", "ASK 1 a b:6381",
        "MOVED 1 [::1:6381", "MOVED 1 a]:6381", "TRYAGAIN Multiple keys",
        "READONLY You can't write against a read only replica.", "moved 1 h:1", ""}) {
    INFO(error);
    CHECK_FALSE(parseRedirect(error));
  }
  CHECK_FALSE(parseRedirect(std::string_view("MOVED 1 a\0b:6381", 16)));
}

TEST_CASE("CLUSTER SLOTS becomes slot ranges with their masters") {
  auto r = reply("*3\r\n" + range(0, 5460, bulk("127.0.0.1"), 7000) +
                 range(5461, 10922, "$-1\r\n", 7001) + range(10923, 16383, bulk(""), 7002));
  auto ranges = parseClusterSlots(r.get());
  REQUIRE(ranges);
  REQUIRE(ranges->size() == 3);
  CHECK((*ranges)[0].first == 0);
  CHECK((*ranges)[0].last == 5460);
  CHECK((*ranges)[0].host == "127.0.0.1");
  CHECK((*ranges)[0].port == 7000);
  // A nil endpoint (unknown, behind a load balancer) and "" (a lone node): the node asked.
  CHECK((*ranges)[1].host.empty());
  CHECK((*ranges)[2].host.empty());
  CHECK((*ranges)[2].last == 16383);
}

TEST_CASE("CLUSTER SLOTS ranges of a shape not understood are left out") {
  auto r = reply("*8\r\n" + range(0, 10, bulk("?"), 7000) +              // hostname not set
                 range(20, 10, bulk("a"), 7000) +                        // last before first
                 range(0, 16384, bulk("a"), 7000) +                      // past the last slot
                 range(0, 10, bulk("a"), 0) +                            // no port
                 "*3\r\n$1\r\n0\r\n:10\r\n*2\r\n$1\r\na\r\n:7000\r\n" +  // slot as text
                 "*3\r\n:0\r\n:10\r\n*2\r\n:1\r\n:7000\r\n" +            // endpoint as a number
                 "*2\r\n:0\r\n:10\r\n" +                                 // no master
                 range(11, 12, bulk("b"), 7003));
  auto ranges = parseClusterSlots(r.get());
  REQUIRE(ranges);
  REQUIRE(ranges->size() == 1);
  CHECK((*ranges)[0].host == "b");
  CHECK_FALSE(
      parseClusterSlots(reply("-ERR This instance has cluster support disabled\r\n").get()));
  CHECK_FALSE(parseClusterSlots(nullptr));
}

TEST_CASE("A sentinel's answer is a master's address or nothing") {
  auto named = parseMasterAddress(reply("*2\r\n" + bulk("10.0.0.5") + bulk("6379")).get());
  REQUIRE(named);
  CHECK(*named == RedisAddress{"", "10.0.0.5", 6379});
  CHECK_FALSE(parseMasterAddress(reply("*-1\r\n").get()));  // No such master.
  CHECK_FALSE(parseMasterAddress(reply("*2\r\n" + bulk("10.0.0.5") + bulk("0")).get()));
  CHECK_FALSE(parseMasterAddress(reply("*2\r\n" + bulk("10.0.0.5") + bulk("6379x")).get()));
  CHECK_FALSE(parseMasterAddress(reply("*2\r\n" + bulk("") + bulk("6379")).get()));
  CHECK_FALSE(parseMasterAddress(reply("*2\r\n" + bulk("10.0.0.5") + ":6379\r\n").get()));
  CHECK_FALSE(parseMasterAddress(reply("*3\r\n" + bulk("a") + bulk("1") + bulk("2")).get()));
}

TEST_CASE("ROLE is a master only when it says so") {
  CHECK(isMasterRole(reply("*3\r\n" + bulk("master") + ":0\r\n*0\r\n").get()));
  CHECK_FALSE(isMasterRole(reply("*5\r\n" + bulk("slave") + bulk("127.0.0.1") + ":6379\r\n" +
                                 bulk("connected") + ":0\r\n")
                               .get()));
  CHECK_FALSE(isMasterRole(reply("*0\r\n").get()));
  CHECK_FALSE(isMasterRole(reply(":1\r\n").get()));
  CHECK_FALSE(isMasterRole(nullptr));
}

TEST_CASE("Bytes that are not a whole reply read as none") {
  CHECK(readReply("") == nullptr);
  CHECK(readReply("*2\r\n$1\r\na\r\n") == nullptr);  // Incomplete.
  CHECK(readReply("!garbage\r\n") == nullptr);       // Not the protocol.
}

}  // namespace tenantd::fleet
