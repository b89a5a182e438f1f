#include "support/redis-server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace tenantd::testing {

namespace {
constexpr const char* REDIS_SERVER = "/usr/bin/redis-server";

std::string textOf(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
    case REDIS_REPLY_NIL: return "";
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out += "\n";
        out += textOf(r->element[i]);
      }
      return out;
    }
    default: return std::string(r->str, r->len);
  }
}
}  // namespace

namespace {
bool bindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  if (fd >= 0) close(fd);
  return ok;
}
}  // namespace

int freeLoopbackPort() {
  // A cluster node also listens on its port + 10000 (so at most 55535): both must be free.
  std::random_device random;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = 20000 + static_cast<int>(random() % 25000);
    if (bindable(port) && bindable(port + 10000)) return port;
  }
  throw std::runtime_error("no free loopback port");
}

RedisServer::RedisServer(Options options) : options_(options), socket_(dir_.file("redis.sock")) {
  start();
}

RedisServer::~RedisServer() {
  if (process_ != nullptr) kill();  // Frees the connection too.
}

std::string RedisServer::address() const {
  return options_.port != 0 ? "redis://127.0.0.1:" + std::to_string(options_.port)
                            : "unix:" + socket_;
}

void RedisServer::start() {
  if (context_ != nullptr) {
    redisFree(context_);
    context_ = nullptr;
  }
  ++starts_;
  std::string log = dir_.file("redis" + std::to_string(starts_) + ".log");
  if (options_.sentinelOf != 0) {
    std::string conf = dir_.file("sentinel.conf");  // Sentinel rewrites it: a file of its own.
    std::ofstream(conf) << "sentinel monitor " << RedisSentinelSet::MASTER_NAME << " 127.0.0.1 "
                        << options_.sentinelOf << " 1\n"
                        << "sentinel down-after-milliseconds " << RedisSentinelSet::MASTER_NAME
                        << " 1000\n";
    process_ = std::make_unique<Process>(
        REDIS_SERVER, Process::Options{{conf, "--sentinel", "--port", std::to_string(options_.port),
                                        "--bind", "127.0.0.1", "--unixsocket", socket_, "--dir",
                                        dir_.path().string(), "--logfile", log},
                                       dir_.path().string(),
                                       {},
                                       dir_.file("stdout"),
                                       dir_.file("stderr")});
    if (!waitForFileText(log, "+monitor master", std::chrono::seconds(10))) {
      throw std::runtime_error("redis-server --sentinel did not start: " + readFile(log));
    }
    return;
  }
  std::vector<std::string> args = {"--port",       std::to_string(options_.port),
                                   "--bind",       "127.0.0.1",
                                   "--unixsocket", socket_,
                                   "--dir",        dir_.path().string(),
                                   "--save",       "",
                                   "--appendonly", "no",
                                   "--logfile",    log};
  if (!options_.password.empty()) args.insert(args.end(), {"--requirepass", options_.password});
  if (options_.replicaOf != 0) {
    args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(options_.replicaOf)});
  }
  if (options_.cluster) {
    // Kept across restarts: a cluster node comes back with its slots (and without data).
    if (starts_ == 1) std::filesystem::remove(dir_.file("nodes.conf"));
    args.insert(args.end(), {"--cluster-enabled", "yes", "--cluster-config-file",
                             dir_.file("nodes.conf"), "--cluster-node-timeout", "2000"});
  }
  process_ = std::make_unique<Process>(
      REDIS_SERVER,
      Process::Options{args, dir_.path().string(), {}, dir_.file("stdout"), dir_.file("stderr")});
  // "Ready to accept connections tcp" or "... ready to accept connections at <socket>".
  if (!waitForFileText(log, "eady to accept connections", std::chrono::seconds(10))) {
    throw std::runtime_error("redis-server did not start: " + readFile(log));
  }
}

void RedisServer::kill() {
  if (context_ != nullptr) {
    redisFree(context_);
    context_ = nullptr;
  }
  process_->signal(SIGKILL);
  process_->waitForExit(std::chrono::seconds(5));
  process_ = nullptr;
}

redisContext* RedisServer::connection() {
  if (context_ == nullptr) {
    context_ = redisConnectUnix(socket_.c_str());
    if (context_ == nullptr || context_->err != 0) {
      std::string why = context_ != nullptr ? context_->errstr : "out of memory";
      if (context_ != nullptr) redisFree(context_);
      context_ = nullptr;
      throw std::runtime_error("cannot reach the test's redis: " + why);
    }
    if (!options_.password.empty()) {
      auto* r =
          static_cast<redisReply*>(redisCommand(context_, "AUTH %s", options_.password.c_str()));
      bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
      if (r != nullptr) freeReplyObject(r);
      if (!ok) throw std::runtime_error("the test's redis refused its own password");
    }
  }
  return context_;
}

redisReply* RedisServer::call(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  redisReply* r = nullptr;
  // Twice: a connection the server closed meanwhile (Sentinel's CLIENT KILL on a failover) is
  // only found out by the next command on it.
  for (int attempt = 0; attempt < 2 && r == nullptr; ++attempt) {
    r = static_cast<redisReply*>(
        redisCommandArgv(connection(), static_cast<int>(args.size()), args.data(), lengths.data()));
    if (r == nullptr) {
      std::string why = context_->errstr;
      redisFree(context_);
      context_ = nullptr;
      if (attempt == 1) throw std::runtime_error("redis: " + why);
    }
  }
  if (r->type == REDIS_REPLY_ERROR) {
    std::string why(r->str, r->len);
    freeReplyObject(r);
    throw std::runtime_error("redis: " + why);
  }
  return r;
}

std::string RedisServer::command(const std::vector<std::string>& argv) {
  redisReply* r = call(argv);
  std::string out = textOf(r);
  freeReplyObject(r);
  return out;
}

std::vector<std::string> RedisServer::array(const std::vector<std::string>& argv) {
  redisReply* r = call(argv);
  std::vector<std::string> out;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
    out.push_back(textOf(r->element[i]));
  }
  freeReplyObject(r);
  return out;
}

std::map<std::string, std::string> RedisServer::hash(const std::string& key) {
  auto parts = array({"HGETALL", key});
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < parts.size(); i += 2) out[parts[i]] = parts[i + 1];
  return out;
}

std::vector<std::string> RedisServer::keys(const std::string& pattern) {
  return array({"KEYS", pattern});
}

RedisCluster::RedisCluster() {
  std::vector<std::string> args = {"--cluster", "create"};
  for (int i = 0; i < 3; ++i) {
    RedisServer::Options node;
    node.port = freeLoopbackPort();
    node.cluster = true;
    nodes_.push_back(std::make_unique<RedisServer>(node));
    args.push_back("127.0.0.1:" + std::to_string(nodes_.back()->port()));
  }
  args.insert(args.end(), {"--cluster-replicas", "0", "--cluster-yes"});
  auto created = run("/usr/bin/redis-cli", args, "/");
  if (created.exitCode != 0) throw std::runtime_error("redis-cli --cluster create: " + created.out);
  waitUntilOk();
}

void RedisCluster::waitUntilOk() {
  // Each node learns the others by gossip: asked until all say ok (each question a round trip).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (auto& n : nodes_) {
    while (n->command({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("the test's Redis Cluster never became ok");
      }
    }
  }
}

std::vector<std::string> RedisCluster::keys(const std::string& pattern) {
  std::vector<std::string> out;
  for (auto& n : nodes_) {
    for (auto& k : n->keys(pattern)) out.push_back(k);
  }
  return out;
}

std::map<std::string, std::string> RedisCluster::hash(const std::string& key) {
  return nodes_[ownerOf(slotOf(key))]->hash(key);
}

void RedisCluster::kill() {
  for (auto& n : nodes_) n->kill();
}

void RedisCluster::start() {
  for (auto& n : nodes_) n->start();
  waitUntilOk();
}

size_t RedisCluster::ownerOf(int slot) {
  std::string myIds[3];
  for (size_t i = 0; i < nodes_.size(); ++i) myIds[i] = nodes_[i]->command({"CLUSTER", "MYID"});
  // CLUSTER NODES: "<id> <ip:port@cport> <flags> <master> ... <slot ranges>".
  std::istringstream lines(nodes_[0]->command({"CLUSTER", "NODES"}));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string id, word;
    words >> id;
    for (int skip = 0; skip < 7 && words >> word; ++skip) {
    }
    while (words >> word) {
      if (word[0] == '[') continue;  // A migration in progress.
      size_t dash = word.find('-');
      int from = std::stoi(word.substr(0, dash));
      int to = dash == std::string::npos ? from : std::stoi(word.substr(dash + 1));
      if (slot >= from && slot <= to) {
        for (size_t i = 0; i < nodes_.size(); ++i) {
          if (myIds[i] == id) return i;
        }
      }
    }
  }
  throw std::runtime_error("no node serves slot " + std::to_string(slot));
}

void RedisCluster::migrate(int slot, size_t to,
                           const std::function<void(const std::string&)>& between) {
  size_t from = ownerOf(slot);
  std::string fromId = nodes_[from]->command({"CLUSTER", "MYID"});
  std::string toId = nodes_[to]->command({"CLUSTER", "MYID"});
  std::string s = std::to_string(slot);
  nodes_[to]->command({"CLUSTER", "SETSLOT", s, "IMPORTING", fromId});
  nodes_[from]->command({"CLUSTER", "SETSLOT", s, "MIGRATING", toId});
  for (;;) {
    auto keys = nodes_[from]->array({"CLUSTER", "GETKEYSINSLOT", s, "1"});
    if (keys.empty()) break;
    nodes_[from]->command(
        {"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()), keys[0], "0", "5000"});
    between(keys[0]);
  }
  // The new owner first, then the old one, then the rest (as the cluster specification asks).
  nodes_[to]->command({"CLUSTER", "SETSLOT", s, "NODE", toId});
  nodes_[from]->command({"CLUSTER", "SETSLOT", s, "NODE", toId});
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (i != to && i != from) nodes_[i]->command({"CLUSTER", "SETSLOT", s, "NODE", toId});
  }
}

RedisSentinelSet::RedisSentinelSet() {
  RedisServer::Options master;
  master.port = freeLoopbackPort();
  servers_.push_back(std::make_unique<RedisServer>(master));
  RedisServer::Options replica;
  replica.port = freeLoopbackPort();
  replica.replicaOf = master.port;
  servers_.push_back(std::make_unique<RedisServer>(replica));
  RedisServer::Options sentinel;
  sentinel.port = freeLoopbackPort();
  sentinel.sentinelOf = master.port;
  sentinel_ = std::make_unique<RedisServer>(sentinel);
  // Sentinel learns the replica from the master's INFO: a failover needs it known and in sync.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (servers_[1]->command({"INFO", "replication"}).find("master_link_status:up") ==
             std::string::npos ||
         sentinel_->command({"SENTINEL", "REPLICAS", MASTER_NAME}).find("master-link-status\nok") ==
             std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("Sentinel never saw the replica in sync");
    }
  }
}

std::string RedisSentinelSet::fleetConfig() const {
  return "sentinels = [\"redis://127.0.0.1:" + std::to_string(sentinel_->port()) +
         "\"]\nsentinel_master = \"" + MASTER_NAME + "\"\n";
}

RedisServer& RedisSentinelSet::master() {
  auto named = sentinel_->array({"SENTINEL", "get-master-addr-by-name", MASTER_NAME});
  for (auto& s : servers_) {
    if (named.size() == 2 && std::to_string(s->port()) == named[1]) return *s;
  }
  throw std::runtime_error("Sentinel names no master of this set");
}

std::vector<std::string> RedisSentinelSet::keys(const std::string& pattern) {
  return master().keys(pattern);
}

std::map<std::string, std::string> RedisSentinelSet::hash(const std::string& key) {
  return master().hash(key);
}

void RedisSentinelSet::kill() {
  throw std::logic_error("RedisSentinelSet: fail over instead");
}

void RedisSentinelSet::start() {
  throw std::logic_error("RedisSentinelSet: fail over instead");
}

void RedisSentinelSet::failover() {
  RedisServer& before = master();
  sentinel_->command({"SENTINEL", "FAILOVER", MASTER_NAME});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto waitUntil = [&](const std::function<bool()>& done, const char* what) {
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error(what);
    }
  };
  waitUntil([&]() { return &master() != &before; }, "Sentinel never switched the master");
  waitUntil(
      [&]() {
        return before.command({"ROLE"}).rfind("slave", 0) == 0 &&
               before.command({"INFO", "replication"}).find("master_link_status:up") !=
                   std::string::npos;
      },
      "the old master never became a replica in sync");
}

}  // namespace tenantd::testing
