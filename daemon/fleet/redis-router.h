#pragma once
// Where each command goes: one Redis (or Valkey) node, or a Redis Cluster. On the first
// connection to the configured node it asks `CLUSTER SLOTS`: a node without cluster support is
// used alone; a cluster's masters each get a RedisConnection, and a command goes to the master
// of its key's slot (key-slot.h). `MOVED` updates the slot map (and rereads it whole) and resends
// there; `ASK` resends once behind `ASKING` without touching the map; `TRYAGAIN` (a multi-key
// script while a slot's keys are split between two nodes mid-migration) resends after a few
// milliseconds, or goes straight back to a caller that can split its command into one-key
// commands (those never hear TRYAGAIN). A few hops at most, then the caller hears the error.
//
// Every key the fleet sends in one command shares a tenant's hash tag, so one command is always
// one slot. The router is up while every master it knows is connected.
//
// Under Redis Sentinel (`RedisOptions::sentinels`) the first node's address is asked of a
// sentinel (`SENTINEL get-master-addr-by-name`) before it is dialled and again each time that
// connection fails; a sentinel that fails hands over to the next in the list. Sentinel drops
// clients' connections when it fails over, and a demoted master answers READONLY or a ROLE that
// is not master: each leads back to the sentinel.

#include "fleet/key-slot.h"
#include "fleet/redis-connection.h"
#include "util/log.h"

#include <array>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd::fleet {

class RedisRouter {
public:
  using OnReply = RedisConnection::OnReply;
  using OnChange = RedisConnection::OnChange;

  // `changed` hears the router go up (every known master connected and, for the first node,
  // the cluster question answered) and down (any of them lost), once per transition, and again
  // while down whenever the reason changes.
  RedisRouter(uv_loop_t& loop, kj::Function<void()> wake, RedisOptions seed, OnChange changed,
              Log& log);
  ~RedisRouter();
  RedisRouter(const RedisRouter&) = delete;
  RedisRouter& operator=(const RedisRouter&) = delete;

  void start();
  bool up() const { return reportedUp_; }
  // Scripts are loaded on every node; their SHA1s are the same everywhere.
  const std::string& scriptSha(size_t i) const { return nodes_[0]->connection->scriptSha(i); }
  enum class TryAgain { WAIT, RETURN };
  // Sends `argv` to the node holding `key`'s slot. `done` gets the reply (after any redirects),
  // or nullptr when the node could not be reached. `tryAgain`: what a TRYAGAIN reply does.
  void send(std::string_view key, std::vector<std::string> argv, OnReply done,
            TryAgain tryAgain = TryAgain::WAIT);

private:
  struct Node {
    std::unique_ptr<RedisConnection> connection;  // Its address is the node's.
    bool up = false;
  };
  struct Call;
  static constexpr int MAX_HOPS = 16;
  static constexpr uint64_t TRYAGAIN_MS = 5;
  static constexpr uint64_t ASK_SENTINEL_AGAIN_MS = 1000;  // While it knows no such master.

  size_t nodeAt(const std::string& host, int port);
  void nodeChanged(size_t node, bool up, const std::string& why);
  void sentinelChanged(bool up, const std::string& why);
  void askSentinel();
  void askSlots(size_t node);
  void dispatch(std::shared_ptr<Call> call, size_t node, bool asking);
  void answered(std::shared_ptr<Call> call, size_t from, const redisReply* r);
  // A host a node named; empty: `node`'s own (Redis 7's unknown endpoint).
  std::string hostOr(const std::string& host, size_t node) const;
  void after(uint64_t ms, kj::Function<void()> then);
  void report();

  uv_loop_t& loop_;
  kj::Function<void()> wake_;
  RedisOptions options_;
  OnChange changed_;
  Log& log_;
  std::vector<std::unique_ptr<Node>> nodes_;   // [0]: the configured node (Sentinel's master).
  std::unique_ptr<RedisConnection> sentinel_;  // Under Sentinel: the one asked now.
  size_t sentinelAt_ = 0;                      // Its index in options_.sentinels.
  bool masterDialled_ = false;                 // Node 0 started, once Sentinel named it.
  std::array<int16_t, CLUSTER_SLOTS> slots_;   // Node index per slot; -1: ask the first node.
  bool cluster_ = false;
  bool askedSlots_ = false;  // The first node answered CLUSTER SLOTS (or refused it).
  bool refreshing_ = false;  // A CLUSTER SLOTS is out.
  bool reportedUp_ = false;
  std::string reportedWhy_;
  std::string lastWhy_;
  struct Later;
  std::set<Later*> waiting_;  // after()'s timers not fired yet.
};

}  // namespace tenantd::fleet
