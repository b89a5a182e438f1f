#pragma once
// The daemon's RPC server as rpc-test has it (RpcFixture: real services on a real SQLite store,
// tenants t1 and t2, this process's uid an admin) on a thread of its own, listening on a Unix
// socket path: for RPC clients that block their thread (libtenantd-client's facade, tenantctl)
// or run a loop of their own.

#include "rpc/rpc-fixture.h"

#include <kj/async-io.h>

#include <future>
#include <string>
#include <thread>

namespace tenantd::testing {

class RpcServerThread {
public:
  explicit RpcServerThread(std::string socketPath);
  // Stops serving and ends the thread.
  ~RpcServerThread();
  RpcServerThread(const RpcServerThread&) = delete;
  RpcServerThread& operator=(const RpcServerThread&) = delete;

  // Runs `f(fixture)` on the server's thread; waits for it and for the promise it returns.
  // (It runs inside the loop: return a promise, never wait() in it.)
  template <typename F>
  auto run(F&& f) {
    return executor_->executeSync([&]() { return f(*fixture_); });
  }
  // The daemon going away: the socket file is removed and every connection closes. The services
  // and the store stay as they are.
  void stopServing();
  // And coming back on the same socket, with the same state.
  void startServing();

  const std::string& socketPath() const { return socketPath_; }

private:
  void serve(std::promise<void>& started);
  void listen();    // On the server thread.
  void unlisten();  // On the server thread.

  std::string socketPath_;
  std::thread thread_;
  kj::Own<const kj::Executor> executor_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
  // All on the server thread, touched only there.
  RpcFixture* fixture_ = nullptr;
  kj::Own<kj::ConnectionReceiver> listener_;
  kj::Maybe<kj::Promise<void>> accepting_;
};

// One rule (tenant scope, per day, blocking) as the tenant's whole rule set.
kj::Promise<void> limitRule(RpcFixture& f, const std::string& tenant, const std::string& resource,
                            const std::string& metric, int64_t limit);
// Stores the next version of a secret (any bytes).
kj::Promise<void> storeSecret(RpcFixture& f, const std::string& tenant, const std::string& name,
                              const std::string& value);

}  // namespace tenantd::testing
