#include "support/redis-server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <chrono>
#include <filesystem>
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
  std::vector<std::string> args = {"--port",       std::to_string(options_.port),
                                   "--bind",       "127.0.0.1",
                                   "--unixsocket", socket_,
                                   "--dir",        dir_.path().string(),
                                   "--save",       "",
                                   "--appendonly", "no",
                                   "--logfile",    log};
  if (!options_.password.empty()) args.insert(args.end(), {"--requirepass", options_.password});
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
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(connection(), static_cast<int>(args.size()), args.data(), lengths.data()));
  if (r == nullptr) {
    std::string why = context_->errstr;
    redisFree(context_);
    context_ = nullptr;
    throw std::runtime_error("redis: " + why);
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
    nodes_.push_back(
        std::make_unique<RedisServer>(RedisServer::Options{freeLoopbackPort(), true, ""}));
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

}  // namespace tenantd::testing
