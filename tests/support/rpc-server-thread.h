#pragma once
// The daemon's RPC server with its real services (limits, secrets) on a SQLite store, wired as
// Daemon wires them, for unit tests that need a real server behind a real socket. RpcStack lives
// on the kj loop of the thread that builds it; RpcServerThread runs one on a thread of its own
// behind a Unix socket, for clients that block their thread (libtenantd-client's facade) or run
// their own loop.

#include "rpc/rpc-server.h"
#include "service/limits-service.h"
#include "service/secrets-service.h"
#include "service/usage-batcher.h"
#include "store/writer.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

#include <kj/async-io.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

namespace tenantd::testing {

class RpcStack {
public:
  // Creates the store at `dbPath` with `tenants` (plan "pro", UTC) unless it exists: a second
  // stack on the same path finds the first one's data, as a restarted daemon does. The secrets
  // key is fixed, so secrets survive that too.
  RpcStack(kj::AsyncIoContext& io, const std::string& dbPath,
           const std::vector<std::string>& tenants);
  ~RpcStack() noexcept(false);
  KJ_DISALLOW_COPY(RpcStack);

  LimitsService& limits() { return *limits_; }
  SecretsService& secrets() { return *secrets_; }
  RpcServer& server() { return *server_; }
  RpcServices& services() { return services_; }

  // One rule (tenant scope, per day, blocking) replacing the tenant's rules.
  kj::Promise<void> limit(const std::string& tenant, const std::string& resource,
                          const std::string& metric, int64_t limit);
  kj::Promise<void> storeSecret(const std::string& tenant, const std::string& name,
                                const std::string& value);

private:
  kj::AsyncIoContext& io_;
  SystemClock clock_;
  Log log_{Log::Sink::STDERR, LogLevel::ERROR};
  Metrics metrics_;
  Keyring keyring_;
  kj::Own<Writer> writer_;
  kj::Own<UsageBatcher> batcher_;
  kj::Own<LimitsService> limits_;
  kj::Own<SecretsService> secrets_;
  RpcServices services_;
  kj::Own<RpcServer> server_;
};

class RpcServerThread {
public:
  RpcServerThread(std::string socketPath, std::string dbPath,
                  std::vector<std::string> tenants = {"t1", "t2"});
  // Stops serving: every connection closes and the socket file is removed.
  ~RpcServerThread();
  RpcServerThread(const RpcServerThread&) = delete;
  RpcServerThread& operator=(const RpcServerThread&) = delete;

  // Runs `f(stack)` on the server's thread; waits for it and for the promise it returns.
  template <typename F>
  auto run(F&& f) {
    return executor_->executeSync([&]() { return f(*stack_); });
  }

  const std::string& socketPath() const { return socketPath_; }

private:
  void serve(const std::vector<std::string>& tenants, std::promise<void>& started);

  std::string socketPath_;
  std::string dbPath_;
  std::thread thread_;
  kj::Own<const kj::Executor> executor_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
  RpcStack* stack_ = nullptr;  // Lives on the server thread; touched only there.
};

}  // namespace tenantd::testing
