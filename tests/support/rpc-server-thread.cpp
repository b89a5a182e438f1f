#include "support/rpc-server-thread.h"

#include "rpc/unix-listener.h"
#include "store/catalog.h"
#include "store/schema.h"

#include <sodium.h>
#include <unistd.h>

#include <kj/debug.h>

#include <cstring>
#include <filesystem>
#include <future>

namespace tenantd::testing {

RpcStack::RpcStack(kj::AsyncIoContext& io, const std::string& dbPath,
                   const std::vector<std::string>& tenants)
    : io_(io), services_{clock_, clock_.now()} {
  KJ_ASSERT(sodium_init() >= 0);
  {
    bool fresh = !std::filesystem::exists(dbPath);
    Db db(dbPath, {});
    migrate(db);
    for (auto& id : tenants) {
      if (fresh) Catalog(db).createTenant(Tenant{id, "Name of " + id, "pro", "UTC", 0, {}, {}, {}});
    }
  }
  // A fixed test key: a "restarted" stack must open what the previous one sealed.
  auto key = std::make_unique<SecretKey>();
  memset(key->data(), 0x42, MASTER_KEY_BYTES);
  keyring_.setPrimary(std::move(key));
  DbOptions options;
  options.open = DbOptions::Open::READ_WRITE;
  writer_ = kj::heap<Writer>(dbPath, options);
  batcher_ = kj::heap<UsageBatcher>(*writer_);
  limits_ = kj::heap<LimitsService>(*batcher_, *writer_, clock_, log_);
  {
    Db db(dbPath, {});
    limits_->loadAll(db);
  }
  secrets_ = kj::heap<SecretsService>(*writer_, keyring_, clock_, log_, metrics_);
  services_.limits = limits_.get();
  services_.secrets = secrets_.get();
  server_ = kj::heap<RpcServer>(services_, PeerPolicy{getuid(), std::nullopt}, log_);
}

RpcStack::~RpcStack() noexcept(false) {
  server_ = nullptr;  // Closes every connection.
  batcher_->idle().wait(io_.waitScope);
}

kj::Promise<void> RpcStack::limit(const std::string& tenant, const std::string& resource,
                                  const std::string& metric, int64_t limit) {
  Rule r;
  r.resource = resource;
  r.metric = metric;
  r.period = Period::DAY;
  r.limit = limit;
  TenantState* state = limits_->find(tenant);
  KJ_REQUIRE(state != nullptr, "no such tenant", tenant);
  return limits_->putRules(*state, {r}, "test").ignoreResult();
}

kj::Promise<void> RpcStack::storeSecret(const std::string& tenant, const std::string& name,
                                        const std::string& value) {
  return secrets_->put(tenant, name, SecretValue(value.data(), value.size()), std::nullopt, "test")
      .ignoreResult();
}

RpcServerThread::RpcServerThread(std::string socketPath, std::string dbPath,
                                 std::vector<std::string> tenants)
    : socketPath_(std::move(socketPath)), dbPath_(std::move(dbPath)) {
  std::promise<void> started;
  auto future = started.get_future();
  thread_ = std::thread(
      [this, tenants, started = std::move(started)]() mutable { serve(tenants, started); });
  try {
    future.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

RpcServerThread::~RpcServerThread() {
  stop_->fulfill();
  thread_.join();
}

void RpcServerThread::serve(const std::vector<std::string>& tenants, std::promise<void>& started) {
  bool announced = false;
  try {
    auto io = kj::setupAsyncIo();
    RpcStack stack(io, dbPath_, tenants);
    auto listener = io.lowLevelProvider->wrapListenSocketFd(
        bindUnixSocket(socketPath_), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    auto accepting = stack.server().listen(*listener);
    auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
    executor_ = kj::getCurrentThreadExecutor().addRef();
    stop_ = kj::mv(stop.fulfiller);
    stack_ = &stack;
    started.set_value();
    announced = true;
    stop.promise.exclusiveJoin(kj::mv(accepting)).wait(io.waitScope);
    unlink(socketPath_.c_str());
  } catch (...) {
    if (announced) throw;  // A failure while serving is a bug: end the test run loudly.
    started.set_exception(std::current_exception());
  }
}

}  // namespace tenantd::testing
