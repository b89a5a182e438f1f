#pragma once
// The REST listener: h2o's libuv build on the daemon's uv loop (no HTTP parsing of our own).
// h2o reads whole requests within the configured bounds; we hand each one to a Handler that
// returns the response. The Handler owns routing and JSON; this module owns sockets and h2o.

#include "util/listen-address.h"
#include "util/log.h"

#include <kj/async.h>
#include <kj/function.h>
#include <kj/one-of.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

struct st_h2o_req_t;

namespace tenantd {

struct HttpRequest {
  std::string_view method;
  std::string_view path;   // Without the query string.
  std::string_view query;  // After '?', empty if none.
  std::string_view body;
  // The server's native request, for header(); null in tests that build requests by hand.
  const void* native = nullptr;
  // A hand-built request's headers (lowercase names), read by header() when `native` is null.
  std::span<const std::pair<std::string_view, std::string_view>> headers = {};

  // Header by lowercase name; nullopt if absent. Valid while the handler runs.
  std::optional<std::string_view> header(std::string_view lowercaseName) const;
};

struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status, std::string body) : status(status), body(std::move(body)) {}

  int status = 200;
  std::string body;
  std::string_view contentType = "application/json";  // A string literal: sent without a copy.
  std::vector<std::pair<std::string, std::string>> headers;
};

// A handler answers at once (reads, checks) or later (writes answer after their commit). A
// deferred handler copies what it needs from the request before returning: its views end then.
using HttpResult = kj::OneOf<HttpResponse, kj::Promise<HttpResponse>>;
using HttpHandler = kj::Function<HttpResult(const HttpRequest&)>;

struct HttpOptions {
  uint64_t maxBodyBytes = 1 << 20;
  int requestTimeoutMs = 10000;  // Also the idle time allowed on a keep-alive connection.
  size_t maxConnections = 1024;  // At the maximum, accepting pauses until one closes.
};

class HttpServer {
public:
  // `wake` is called after a deferred response was handed to h2o from outside a uv pass (the
  // daemon passes UvBridge::kick).
  HttpServer(uv_loop_t& loop, HttpOptions options, HttpHandler handler, Log& log,
             kj::Function<void()> wake);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. Returns the bound address (the real port when asked for port 0).
  ListenAddress listen(const ListenAddress& address);
  // Serves an already-listening TCP socket (systemd socket activation).
  ListenAddress adopt(int fd);

  // Drain: stop accepting, let in-flight requests finish, close idle keep-alive connections.
  // Resolves when the last connection has closed.
  kj::Promise<void> shutdown();

  size_t openConnections() const { return connections_.size(); }
  bool acceptPaused() const { return acceptPaused_; }

private:
  struct Impl;
  void startListening();
  // Takes the connection the listener holds; false if accepting is paused at the maximum.
  bool acceptOne();
  void onConnectionClosed(void* connection);
  static void send(st_h2o_req_t* req, const HttpResponse& response);
  class TaskErrors final : public kj::TaskSet::ErrorHandler {
  public:
    explicit TaskErrors(Log& log) : log_(log) {}
    void taskFailed(kj::Exception&& e) override;

  private:
    Log& log_;
  };

  std::unique_ptr<Impl> impl_;
  uv_loop_t& loop_;
  HttpHandler handler_;
  Log& log_;
  uint64_t maxBodyBytes_;
  size_t maxConnections_;
  kj::Function<void()> wake_;
  TaskErrors taskErrors_{log_};
  kj::TaskSet deferred_{taskErrors_};      // Responses waiting on a promise.
  std::unordered_set<void*> connections_;  // Accepted and not yet closed (h2o owns them).
  bool listening_ = false;
  // libuv holds the next connection and stops polling the listener until uv_accept() takes it.
  bool acceptPaused_ = false;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> drained_;
};

}  // namespace tenantd
