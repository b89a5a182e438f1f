#pragma once
// One connection to a Redis (or Valkey) node on the daemon's libuv loop, through hiredis and its
// libuv adapter: no thread, no blocking call once dialled. It dials, authenticates, loads the
// fleet's Lua scripts, and after any failure redials with capped full-jitter backoff. hiredis 0.14
// (Debian 12) has no timeouts of its own, so a connect later than its deadline, or commands
// waiting with no reply at all for `timeoutMs`, is a failure here: the connection is dropped and
// every command waiting on it gets no reply.
//
// Commands sent on one connection are written and answered in order, and hiredis pipelines what
// is sent in one loop turn into one write: a flush of many commands is one round trip.
//
// A node that answers READONLY has become a replica (a failover): the connection is dropped and
// redialled, which under Sentinel asks for the new master. One that answers NOSCRIPT has lost the
// scripts (SCRIPT FLUSH, or a restart behind a proxy): redialling loads them again.

#include "config/config.h"

#include <kj/function.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace tenantd::fleet {

struct RedisOptions {
  RedisAddress address;
  // Set: `address` is unknown until Redis Sentinel names the master (RedisRouter asks), and
  // a connection is used only once ROLE says it reached a master.
  std::vector<RedisAddress> sentinels;
  std::string sentinelMaster;
  bool masterOnly = false;
  std::string password;              // Empty: no AUTH.
  std::vector<std::string> scripts;  // Loaded after each connect: scriptSha(i).
  int64_t connectTimeoutMs = 1000;
  int64_t timeoutMs = 1000;
  int64_t maxBackoffMs = 5000;
};

class RedisConnection {
public:
  // The reply, or nullptr when the connection failed before it came.
  using OnReply = kj::Function<void(const redisReply* reply)>;
  // After the connection becomes usable (`up`, scripts loaded) and after each failure (`why`:
  // what failed, never a command's arguments).
  using OnChange = kj::Function<void(bool up, const std::string& why)>;

  // `wake` is called after a command was sent from outside a uv pass (UvBridge::kick).
  RedisConnection(uv_loop_t& loop, kj::Function<void()> wake, RedisOptions options,
                  OnChange changed);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  void start();
  // Points the next dial at `address` (after a Sentinel failover, or the next sentinel in a
  // list); a connection to another address is dropped and redialled there.
  void retarget(const RedisAddress& address);
  const RedisAddress& address() const { return options_.address; }
  bool up() const { return state_ == State::UP; }
  const std::string& scriptSha(size_t i) const { return shas_.at(i); }
  // Sends one command (up() must hold, or `done` gets nullptr at once).
  void send(const std::vector<std::string>& argv, OnReply done);
  size_t inFlight() const { return sentAt_.size(); }
  const std::string& lastError() const { return lastError_; }

private:
  enum class State { DOWN, CONNECTING, HANDSHAKE, UP };
  struct Pending;
  static void onConnect(const redisAsyncContext* ac, int status);
  static void onDisconnect(const redisAsyncContext* ac, int status);
  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void onTick(uv_timer_t* timer);
  static void onRedial(uv_timer_t* timer);
  void dial();
  void handshake();
  void sendRaw(const std::vector<std::string>& argv, OnReply done);
  void fail(const std::string& why);
  void tick();

  uv_loop_t& loop_;
  kj::Function<void()> wake_;
  RedisOptions options_;
  OnChange changed_;
  redisAsyncContext* ac_ = nullptr;
  State state_ = State::DOWN;
  uint64_t dialedAt_ = 0;        // uv_now() when the dial began.
  std::deque<uint64_t> sentAt_;  // uv_now() of each command awaiting its reply, in order.
  uint64_t repliedAt_ = 0;       // uv_now() of the last reply.
  std::vector<std::string> shas_;
  std::string lastError_;
  int attempt_ = 0;           // Failed dials in a row, for the backoff.
  uv_timer_t* tick_;          // The deadlines; freed by its close callback.
  uv_timer_t* redial_;        // Freed by its close callback.
  bool destroying_ = false;   // Replies to a context being freed reach no one.
  bool keepBackoff_ = false;  // Dropped for NOSCRIPT: no backoff reset until a command succeeds.
};

}  // namespace tenantd::fleet
