#pragma once
// Shared by the client library's tests: a real daemon RPC server on its own thread over a Unix
// socket in a temp directory, and small helpers.

#include "tenantd/client.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "support/rpc-server-thread.h"
#include "testing/temp-dir.h"

namespace tenantd::client::testing {

using namespace std::chrono_literals;

// The daemon's services for tenants "t1" and "t2" behind a socket; stop() then start() is the
// daemon going away and coming back (with its state: durability across a real restart is
// client-e2e-test's).
struct ServerEnv {
  tenantd::testing::TempDir dir;
  std::string socketPath = dir.file("run/tenantd.sock");
  tenantd::testing::RpcServerThread server{socketPath};

  void stop() { server.stopServing(); }
  void start() { server.startServing(); }
  // Runs `f(fixture)` on the server's thread (see RpcServerThread::run).
  template <typename F>
  auto run(F&& f) {
    return server.run(std::forward<F>(f));
  }
  void limit(const std::string& tenant, const std::string& resource, const std::string& metric,
             int64_t limit) {
    run([&](tenantd::testing::RpcFixture& f) {
      return tenantd::testing::limitRule(f, tenant, resource, metric, limit);
    });
  }
  void secret(const std::string& tenant, const std::string& name, const std::string& value) {
    run([&](tenantd::testing::RpcFixture& f) {
      return tenantd::testing::storeSecret(f, tenant, name, value);
    });
  }

  ClientOptions options(std::chrono::milliseconds timeout = 10s) const {
    ClientOptions o;
    o.socketPath = socketPath;
    o.timeout = timeout;
    return o;
  }
};

// The kind of the Error `f` throws; nullopt when it throws none.
inline std::optional<ErrorKind> kindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return std::nullopt;
}

// The message (what() without the kind) of the Error `f` throws; nullopt when it throws none.
inline std::optional<std::string> messageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.message());
  }
  return std::nullopt;
}

// Spins (yielding, never sleeping) until `done()` or the deadline; returns done().
inline bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline = 10s) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace tenantd::client::testing
