#pragma once
// The event-loop half of Client: the connection (made on demand, replaced after it drops, with
// a backoff after failed attempts), each tenant's capability on it, and the batchers. Everything
// here lives on and is used by the Client's loop thread only. Private to the library.

#include "tenantd/client.h"
#include "tenantd/connect.h"

#include <kj/async-io.h>
#include <kj/function.h>
#include <kj/refcount.h>

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace tenantd::client::detail {

// A failure the facade turns into Error(kind, message) on the caller's thread.
kj::Exception failure(ErrorKind kind, kj::StringPtr message);

// Tasks that handle their own failures; anything that still escapes is a bug, not a crash.
class IgnoreTaskErrors final : public kj::TaskSet::ErrorHandler {
public:
  void taskFailed(kj::Exception&&) override {}
};

// One connection and the tenant capabilities obtained on it. Refcounted: every call in flight
// holds it, so a replaced connection lives until its last call has failed or answered.
class Link final : public kj::Refcounted {
public:
  Link(kj::Own<Connection> connection, ClientStats& stats);

  rpc::Sidecar::Client sidecar() { return connection_->sidecar(); }
  // Obtained once per connection, pipelined with the first call on it. A failed lookup (no such
  // tenant, not allowed) is forgotten, so a later call asks again.
  rpc::Tenant::Client tenant(const std::string& id);
  bool broken() const { return broken_; }
  void markBroken() { broken_ = true; }

private:
  kj::Own<Connection> connection_;
  ClientStats& stats_;
  std::unordered_map<std::string, rpc::Tenant::Client> tenants_;
  bool broken_ = false;
  IgnoreTaskErrors ignore_;
  kj::TaskSet tasks_{ignore_};  // Last: its tasks use the members above.
};

struct TenantBatchers;

class Session {
public:
  Session(kj::AsyncIoProvider& io, ClientOptions options);
  ~Session();
  KJ_DISALLOW_COPY(Session);

  const ClientOptions& options() const { return options_; }
  ClientStats& stats() { return stats_; }

  // The connection: the current one, else a new one that concurrent callers share. While backing
  // off after a failed attempt it fails at once with "unavailable:".
  kj::Promise<kj::Own<Link>> link();
  // Runs `call` on the tenant's capability over the connection, which it keeps alive until the
  // answer; a DISCONNECTED failure retires the connection so the next call makes a new one.
  template <typename T>
  kj::Promise<T> onTenant(const std::string& tenant,
                          kj::Function<kj::Promise<T>(rpc::Tenant::Client&)> call);
  template <typename T>
  kj::Promise<T> onSidecar(kj::Function<kj::Promise<T>(rpc::Sidecar::Client&)> call);

  // `promise`, or "timeout:" after `timeout`.
  template <typename T>
  kj::Promise<T> withTimeout(kj::Promise<T> promise, kj::Duration timeout);

  TenantBatchers& batchers(std::string_view tenant);

private:
  void startConnect();
  void connected(kj::Own<Connection> connection);
  void connectFailed(kj::Exception&& exception);
  template <typename T>
  static kj::Promise<T> retireOnDisconnect(kj::Promise<T> promise, kj::Own<Link> link);

  kj::AsyncIoProvider& io_;
  kj::Timer& timer_;
  const ClientOptions options_;
  ClientStats stats_;

  kj::Own<Link> link_;
  bool connecting_ = false;
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> waitingForLink_;
  kj::Duration backoff_ = 0 * kj::MILLISECONDS;
  kj::TimePoint retryAt_;
  std::string lastConnectError_;

  std::unordered_map<std::string, std::unique_ptr<TenantBatchers>> batchers_;
  IgnoreTaskErrors ignore_;
  kj::TaskSet tasks_{ignore_};  // Last: its tasks use the members above.
};

template <typename T>
kj::Promise<T> Session::retireOnDisconnect(kj::Promise<T> promise, kj::Own<Link> link) {
  Link& ref = *link;
  return promise
      .catch_([&ref](kj::Exception&& e) -> kj::Promise<T> {
        if (e.getType() == kj::Exception::Type::DISCONNECTED) ref.markBroken();
        return kj::mv(e);
      })
      .attach(kj::mv(link));
}

template <typename T>
kj::Promise<T> Session::onTenant(const std::string& tenant,
                                 kj::Function<kj::Promise<T>(rpc::Tenant::Client&)> call) {
  return link().then([this, tenant, call = kj::mv(call)](kj::Own<Link> link) mutable {
    auto cap = link->tenant(tenant);
    ++stats_.rpcCalls;
    return retireOnDisconnect(kj::evalNow([&]() { return call(cap); }), kj::mv(link));
  });
}

template <typename T>
kj::Promise<T> Session::onSidecar(kj::Function<kj::Promise<T>(rpc::Sidecar::Client&)> call) {
  return link().then([this, call = kj::mv(call)](kj::Own<Link> link) mutable {
    auto cap = link->sidecar();
    ++stats_.rpcCalls;
    return retireOnDisconnect(kj::evalNow([&]() { return call(cap); }), kj::mv(link));
  });
}

template <typename T>
kj::Promise<T> Session::withTimeout(kj::Promise<T> promise, kj::Duration timeout) {
  return promise.exclusiveJoin(timer_.afterDelay(timeout).then([timeout]() -> kj::Promise<T> {
    return failure(ErrorKind::TIMEOUT,
                   kj::str("no answer within ", timeout / kj::MILLISECONDS, " ms"));
  }));
}

}  // namespace tenantd::client::detail
