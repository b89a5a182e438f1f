#pragma once
// A real redis-server (Debian's) for end-to-end tests: started by the test in its own directory,
// on a Unix socket or a loopback port, stopped by it. Queried through hiredis's synchronous API.

#include "support/process.h"
#include "testing/temp-dir.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace tenantd::testing {

// What the fleet tests need of a Redis, one node or a cluster.
class RedisBackend {
public:
  virtual ~RedisBackend() = default;
  // What [fleet] redis takes.
  virtual std::string address() const = 0;
  // The [fleet] lines that point a sidecar at it.
  virtual std::string fleetConfig() const { return "redis = \"" + address() + "\"\n"; }
  // Every key matching `pattern`, on whichever node holds it.
  virtual std::vector<std::string> keys(const std::string& pattern) = 0;
  // HGETALL of `key` as a map, from the node that holds it.
  virtual std::map<std::string, std::string> hash(const std::string& key) = 0;
  // SIGKILL, and start again empty (a cluster keeps its slot map, not its data).
  virtual void kill() = 0;
  virtual void start() = 0;
};

class RedisServer final : public RedisBackend {
public:
  struct Options {
    int port = 0;          // 0: a Unix socket only.
    bool cluster = false;  // --cluster-enabled yes (needs a port).
    std::string password;  // --requirepass; the test's own connection sends it.
    int replicaOf = 0;     // The port of the master this one replicates.
    int sentinelOf = 0;    // Run as a Redis Sentinel watching the master on this port.
  };
  explicit RedisServer(Options options);
  RedisServer() : RedisServer(Options{}) {}
  ~RedisServer() override;

  // "unix:/.../redis.sock" or "redis://127.0.0.1:PORT": what [fleet] redis takes.
  std::string address() const override;
  int port() const { return options_.port; }
  const std::string& socketPath() const { return socket_; }

  // Starts (again, empty: nothing is saved) and waits until it accepts connections.
  void start() override;
  // SIGKILL; what it held is gone.
  void kill() override;
  bool running() const { return process_ != nullptr; }

  // One command; the reply as text (integers in decimal, arrays joined by '\n', nil as "").
  std::string command(const std::vector<std::string>& argv);
  // An array reply's elements as text.
  std::vector<std::string> array(const std::vector<std::string>& argv);
  // HGETALL of `key` as a map.
  std::map<std::string, std::string> hash(const std::string& key) override;
  std::vector<std::string> keys(const std::string& pattern) override;

private:
  redisContext* connection();
  // The reply (freed by the caller); an error reply throws.
  redisReply* call(const std::vector<std::string>& argv);

  Options options_;
  TempDir dir_;
  std::string socket_;
  std::unique_ptr<Process> process_;
  redisContext* context_ = nullptr;
  int starts_ = 0;
};

// Three masters on loopback ports, joined by `redis-cli --cluster create`, no replicas.
class RedisCluster final : public RedisBackend {
public:
  RedisCluster();
  std::string address() const override { return nodes_[0]->address(); }
  std::vector<std::string> keys(const std::string& pattern) override;
  std::map<std::string, std::string> hash(const std::string& key) override;
  void kill() override;
  void start() override;

  RedisServer& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  // The node serving `slot` now.
  size_t ownerOf(int slot);
  int slotOf(const std::string& key) {
    return std::stoi(nodes_[0]->command({"CLUSTER", "KEYSLOT", key}));
  }
  // Moves `slot` from its owner to node `to` as redis-cli --cluster reshard does: importing and
  // migrating states, MIGRATE key by key (`between` runs after each, given the key moved), then
  // the new owner told to every node.
  void migrate(int slot, size_t to, const std::function<void(const std::string&)>& between);

private:
  void waitUntilOk();
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// A master and one replica on loopback ports, and a Redis Sentinel (quorum 1) watching them:
// the sidecars are given the sentinel and the master's name.
class RedisSentinelSet final : public RedisBackend {
public:
  static constexpr const char* MASTER_NAME = "fleet";
  RedisSentinelSet();
  std::string address() const override { return sentinel_->address(); }
  std::string fleetConfig() const override;
  std::vector<std::string> keys(const std::string& pattern) override;
  std::map<std::string, std::string> hash(const std::string& key) override;
  void kill() override;  // Not used with Sentinel: throws.
  void start() override;
  // Asks Sentinel to fail over to the replica and waits until it names the replica master and
  // the old master replicates it.
  void failover();
  // The server Sentinel names master now.
  RedisServer& master();

private:
  std::vector<std::unique_ptr<RedisServer>> servers_;  // The first master, the first replica.
  std::unique_ptr<RedisServer> sentinel_;
};

// A free loopback TCP port, below 55536 with its port + 10000 free too (a cluster node's bus).
int freeLoopbackPort();

}  // namespace tenantd::testing
