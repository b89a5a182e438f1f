#pragma once
// What the fleet reads out of Redis's answers besides a script's integers: where a redirect
// points (`MOVED`/`ASK`), the slot map (`CLUSTER SLOTS`), the master a sentinel names, and
// whether `ROLE` says master. hiredis parses the protocol into reply trees; these read the trees
// and refuse every shape they were not written for, so a misbehaving node (or a proxy in the
// way) makes a failed answer, never a crash or a connection to port 0. Fuzzed by
// tests/fuzz/redis-replies.cpp.

#include "config/config.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

struct redisReply;

namespace tenantd::fleet {

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381". The host may be empty: Redis 7
// writes ":6381" when the node's endpoint is unknown, meaning the node that answered.
struct Redirect {
  bool ask = false;
  uint16_t slot = 0;
  std::string host;
  int port = 0;
  bool operator==(const Redirect&) const = default;
};
// nullopt for any other error text, and for a redirect with a slot or port out of range.
std::optional<Redirect> parseRedirect(std::string_view error);

// One range of `CLUSTER SLOTS`: slots first..last (inclusive) and their master. An empty host is
// the node that answered: Redis 7 sends a nil endpoint when the node's is unknown (behind a load
// balancer), and "" when a lone node does not know its own address.
struct SlotRange {
  uint16_t first = 0;
  uint16_t last = 0;
  std::string host;
  int port = 0;
};
// nullopt unless `r` is an array; ranges of a shape not understood, or whose master's endpoint
// is "?" (a hostname asked for and not set), are left out: their slots go to the first node,
// whose MOVED then says where.
std::optional<std::vector<SlotRange>> parseClusterSlots(const redisReply* r);

// `SENTINEL get-master-addr-by-name`: ["host", "port"]; nullopt for anything else (nil: the
// sentinel knows no such master).
std::optional<RedisAddress> parseMasterAddress(const redisReply* r);

// `ROLE`: whether its first element is "master".
bool isMasterRole(const redisReply* r);

// The first complete reply in `resp` (Redis's wire protocol), or null when it holds none or is
// not the protocol. Tests and the fuzzer build their replies with it, as hiredis does.
struct ReplyFree {
  void operator()(redisReply* r) const;
};
using OwnedReply = std::unique_ptr<redisReply, ReplyFree>;
OwnedReply readReply(std::string_view resp);

}  // namespace tenantd::fleet
