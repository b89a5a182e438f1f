#include "support/redis-server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <chrono>
#include <filesystem>
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

int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("no free loopback port");
  }
  close(fd);
  return ntohs(a.sin_port);
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
  if (options_.cluster) {
    std::filesystem::remove(dir_.file("nodes.conf"));
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

}  // namespace tenantd::testing
