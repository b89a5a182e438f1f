#include "support/rpc-server-thread.h"

#include "rpc/unix-listener.h"

#include <unistd.h>

#include <kj/debug.h>

namespace tenantd::testing {

RpcServerThread::RpcServerThread(std::string socketPath) : socketPath_(std::move(socketPath)) {
  std::promise<void> started;
  auto future = started.get_future();
  thread_ = std::thread([this, started = std::move(started)]() mutable { serve(started); });
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

void RpcServerThread::stopServing() {
  executor_->executeSync([this]() { unlisten(); });
}

void RpcServerThread::startServing() {
  executor_->executeSync([this]() { listen(); });
}

void RpcServerThread::listen() {
  listener_ = fixture_->io.lowLevelProvider->wrapListenSocketFd(
      bindUnixSocket(socketPath_), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  accepting_ = fixture_->server->listen(*listener_).eagerlyEvaluate(nullptr);
}

void RpcServerThread::unlisten() {
  accepting_ = nullptr;
  listener_ = nullptr;
  unlink(socketPath_.c_str());
  // A new server for later connections; the old one closes every connection it had.
  fixture_->server =
      kj::heap<RpcServer>(*fixture_->stack.services, fixture_->server->context().info,
                          RpcFixture::ownUidIsAdmin(), fixture_->stack.log);
}

void RpcServerThread::serve(std::promise<void>& started) {
  bool announced = false;
  try {
    RpcFixture fixture;
    fixture_ = &fixture;
    listen();
    auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
    executor_ = kj::getCurrentThreadExecutor().addRef();
    stop_ = kj::mv(stop.fulfiller);
    started.set_value();
    announced = true;
    stop.promise.wait(fixture.io.waitScope);
    unlisten();
  } catch (...) {
    if (announced) throw;  // A failure while serving is a bug: end the test run loudly.
    started.set_exception(std::current_exception());
  }
}

kj::Promise<void> limitRule(RpcFixture& f, const std::string& tenant, const std::string& resource,
                            const std::string& metric, int64_t limit) {
  Rule r;
  r.resource = resource;
  r.metric = metric;
  r.period = Period::DAY;
  r.limit = limit;
  TenantState* state = f.tenants->find(tenant);
  KJ_REQUIRE(state != nullptr, "no such tenant", tenant);
  return f.limits->putRules(*state, newRules({r}), "test").ignoreResult();
}

kj::Promise<void> storeSecret(RpcFixture& f, const std::string& tenant, const std::string& name,
                              const std::string& value) {
  return f.secrets->put(tenant, name, SecretValue(value.data(), value.size()), std::nullopt, "test")
      .ignoreResult();
}

}  // namespace tenantd::testing
