#pragma once
// For the RPC tests: client and server in one process over real socket pairs (so SO_PEERCRED
// is real: the peer is this test process), with the daemon's services on a real SQLite store.
// Tenants t1 and t2 exist. The default policy makes this process's uid an admin.

#include "rpc/rpc-server.h"
#include "rpc/sidecar.h"

#include <sys/socket.h>
#include <unistd.h>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>

#include "testing/service-stack.h"

namespace tenantd::testing {

// One client connection to the fixture's server.
struct RpcPeer {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyClient> client;
  rpc::Sidecar::Client sidecar() { return client->bootstrap().castAs<rpc::Sidecar>(); }
  // Closes this end: the server sees the connection end.
  void close() {
    client = nullptr;
    stream = nullptr;
  }
};

struct RpcFixture {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  ServiceStack stack{io.waitScope, {"t1", "t2"}};
  // The names the tests use.
  ManualClock& clock = stack.clock;
  Metrics& metrics = stack.metrics;
  std::string& path = stack.path;
  Tenants* tenants = stack.tenants;
  LimitsService* limits = stack.limits;
  SecretsService* secrets = stack.secrets;
  SettingsService* settings = stack.settings;
  AppRateLimiter& rateLimits = stack.services->appRateLimits;
  kj::Own<RpcServer> server;
  RpcPeer peer;

  static PeerPolicy ownUidIsAdmin() { return PeerPolicy{{getuid()}, std::nullopt, {}}; }

  explicit RpcFixture(PeerPolicy policy = ownUidIsAdmin()) {
    RpcServerInfo info{4'000, "127.0.0.1:3000", "/run/tenantd/tenantd.sock", stack.path};
    server = kj::heap<RpcServer>(*stack.services, kj::mv(info), kj::mv(policy), stack.log);
    peer = connect();
  }
  ~RpcFixture() noexcept(false) { peer.close(); }

  RpcPeer connect() {
    int fds[2];
    KJ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    server->serve(
        io.lowLevelProvider->wrapSocketFd(fds[0], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP));
    RpcPeer p;
    p.stream =
        io.lowLevelProvider->wrapSocketFd(fds[1], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    p.client = kj::heap<capnp::TwoPartyClient>(*p.stream);
    return p;
  }

  rpc::Sidecar::Client sidecar() { return peer.sidecar(); }
  rpc::Admin::Client admin() { return sidecar().adminRequest().send().getAdmin(); }
  rpc::Tenant::Client tenant(const char* id) {
    auto request = sidecar().tenantRequest();
    request.setId(id);
    return request.send().getTenant();
  }

  void store(const char* tenant, const char* name, const char* value) {
    secrets->put(tenant, name, SecretValue(value, strlen(value)), std::nullopt, "test")
        .wait(io.waitScope);
  }
  // The error description as the client sees it, or "" on success.
  std::string errorOf(kj::Promise<void> call) {
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { call.wait(io.waitScope); })) {
      return e->getDescription().cStr();
    }
    return "";
  }
  // Runs the loop until `done()` holds or 5 s pass; for effects with no promise to wait on
  // (the server noticing a release or a disconnect).
  bool waitUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.waitScope.poll();
    }
    return true;
  }
};

}  // namespace tenantd::testing
