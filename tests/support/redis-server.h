#pragma once
// A real redis-server (Debian's) for end-to-end tests: started by the test in its own directory,
// on a Unix socket or a loopback port, stopped by it. Queried through hiredis's synchronous API.

#include "support/process.h"
#include "testing/temp-dir.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace tenantd::testing {

class RedisServer {
public:
  struct Options {
    int port = 0;          // 0: a Unix socket only.
    bool cluster = false;  // --cluster-enabled yes (needs a port).
  };
  explicit RedisServer(Options options);
  RedisServer() : RedisServer(Options{}) {}
  ~RedisServer();

  // "unix:/.../redis.sock" or "redis://127.0.0.1:PORT": what [fleet] redis takes.
  std::string address() const;
  int port() const { return options_.port; }
  const std::string& socketPath() const { return socket_; }

  // Starts (again, empty: nothing is saved) and waits until it accepts connections.
  void start();
  // SIGKILL; what it held is gone.
  void kill();
  bool running() const { return process_ != nullptr; }

  // One command; the reply as text (integers in decimal, arrays joined by '\n', nil as "").
  std::string command(const std::vector<std::string>& argv);
  // An array reply's elements as text.
  std::vector<std::string> array(const std::vector<std::string>& argv);
  // HGETALL of `key` as a map.
  std::map<std::string, std::string> hash(const std::string& key);
  std::vector<std::string> keys(const std::string& pattern);

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

// A free loopback TCP port (bound, read and released).
int freeLoopbackPort();

}  // namespace tenantd::testing
