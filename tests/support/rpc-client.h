#pragma once
// Talking to the daemon's RPC socket from a test, all on one kj event loop (so a test can keep
// thousands of connections and calls in flight and wait on each with a deadline):
//  - RpcConnection: a well-behaved client (capnp's TwoPartyClient) with the Sidecar bootstrap;
//  - raw:: builders and readers for bytes and messages no well-behaved client would send.
// The raw helpers take a stream, not a fixture, so in-process tests can use them too.

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <kj/async-io.h>

#include <string>

#include "tenantd.capnp.h"

namespace tenantd::testing {

constexpr kj::Duration RPC_DEADLINE = 10 * kj::SECONDS;
// The demo tenant `tenantd --dev` creates.
constexpr const char* DEMO_TENANT = "tenant-123";

// Resolves `promise` or throws when `deadline` passes first (a hung daemon fails the test, never
// hangs it).
template <typename T>
kj::Promise<T> within(kj::AsyncIoContext& io, kj::Promise<T> promise,
                      kj::Duration deadline = RPC_DEADLINE) {
  return promise.exclusiveJoin(io.provider->getTimer().afterDelay(deadline).then(
      []() -> T { KJ_FAIL_REQUIRE("no answer from the daemon within the deadline"); }));
}

kj::Promise<kj::Own<kj::AsyncIoStream>> connectUnix(kj::AsyncIoContext& io,
                                                    const std::string& path);

struct RpcConnection {
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyClient client;
  rpc::Sidecar::Client sidecar;

  explicit RpcConnection(kj::Own<kj::AsyncIoStream> connected);
  // Connects and bootstraps (nothing is sent until the first call).
  static kj::Own<RpcConnection> open(kj::AsyncIoContext& io, const std::string& path);

  // Sidecar.health's status ("ok").
  kj::Promise<std::string> health();
  // Tenant.check of one unit of api/calls on `tenant`, pipelined through Sidecar.tenant: whether
  // it is allowed (the demo tenant has no rules, so true).
  kj::Promise<bool> check(const std::string& tenant = DEMO_TENANT);
};

// Health and a Tenant.check answered on `connection`, within the deadline: the daemon serves.
// Returns a description of what failed, or "" when both answered as expected.
std::string serves(kj::AsyncIoContext& io, RpcConnection& connection);

namespace raw {

// Writes bytes as they are, framing or not.
void writeBytes(kj::AsyncIoContext& io, kj::AsyncIoStream& stream,
                kj::ArrayPtr<const kj::byte> bytes);
void writeMessage(kj::AsyncIoContext& io, kj::AsyncIoStream& stream,
                  capnp::MessageBuilder& message);

// The first message of a client: Bootstrap as `questionId`.
void initBootstrap(capnp::MessageBuilder& message, uint32_t questionId);
// A Call as `questionId` on the capability promised by `targetQuestion`'s answer (e.g. the
// bootstrap's) or, with initCallOnImport, on a capability the server exported to us.
capnp::rpc::Call::Builder initCallOnAnswer(capnp::MessageBuilder& message, uint32_t questionId,
                                           uint32_t targetQuestion);
capnp::rpc::Call::Builder initCallOnImport(capnp::MessageBuilder& message, uint32_t questionId,
                                           uint32_t importId);
// Typed parameters of `call`, for interface `I`'s method `methodId`.
template <typename Params>
typename Params::Builder initParams(capnp::rpc::Call::Builder call, uint64_t interfaceId,
                                    uint16_t methodId) {
  call.setInterfaceId(interfaceId);
  call.setMethodId(methodId);
  return call.initParams().getContent().initAs<Params>();
}
// Fills `at` with a chain of `depth` structs, each holding one pointer to the next.
void initDeepChain(capnp::AnyPointer::Builder at, int depth);

// The next message from the server, or nullptr at its end (EOF or reset); throws at the
// deadline.
kj::Own<capnp::MessageReader> readMessage(kj::AsyncIoContext& io, kj::AsyncIoStream& stream);
// Reads until the Return for `questionId` (skipping anything else) and returns its message;
// nullptr if the server closed the connection first.
kj::Own<capnp::MessageReader> readReturn(kj::AsyncIoContext& io, kj::AsyncIoStream& stream,
                                         uint32_t questionId);
// True once the server has closed the connection (EOF or reset) within the deadline, discarding
// whatever it sends before (an Abort message, for one); false at the deadline.
bool closedByServer(kj::AsyncIoContext& io, kj::AsyncIoStream& stream,
                    kj::Duration deadline = RPC_DEADLINE);

}  // namespace raw
}  // namespace tenantd::testing
