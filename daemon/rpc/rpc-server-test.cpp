#include "rpc-server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize-async.h>
#include <capnp/serialize.h>
#include <kj/debug.h>
#include <catch2/catch.hpp>

#include "testing/service-stack.h"

namespace tenantd {

namespace {
// An RpcServer (the daemon's services on a temp store) with time under the test's control, and
// raw peers on socket pairs.
struct Fixture {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::TimerImpl timer{kj::origin<kj::TimePoint>()};
  testing::ServiceStack stack{io.waitScope, {}};
  ManualClock& clock = stack.clock;
  Log& log = stack.log;
  RpcServer server{*stack.services, RpcServerInfo{4'000, {}, {}, {}},
                   PeerPolicy::forDaemon(getuid(), std::nullopt, {}), log, timer};

  kj::Own<kj::AsyncIoStream> connect() {
    int fds[2];
    KJ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    server.serve(
        io.lowLevelProvider->wrapSocketFd(fds[0], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP));
    return io.lowLevelProvider->wrapSocketFd(fds[1], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  }
  void advance(kj::Duration d) {
    timer.advanceTo(timer.now() + d);
    io.waitScope.poll();
  }
};

// Bootstrap, then `calls` Sidecar.health calls on it, as one block of bytes.
kj::Array<kj::byte> healthCalls(uint32_t firstQuestion, int calls) {
  kj::Vector<kj::byte> bytes;
  if (firstQuestion == 1) {
    capnp::MallocMessageBuilder bootstrap;
    bootstrap.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(0);
    bytes.addAll(capnp::messageToFlatArray(bootstrap).asBytes());
  }
  for (int i = 0; i < calls; ++i) {
    capnp::MallocMessageBuilder message;
    auto call = message.initRoot<capnp::rpc::Message>().initCall();
    call.setQuestionId(firstQuestion + i);
    call.initTarget().initPromisedAnswer().setQuestionId(0);
    call.setInterfaceId(capnp::typeId<rpc::Sidecar>());
    call.setMethodId(0);
    call.initParams();
    bytes.addAll(capnp::messageToFlatArray(message).asBytes());
  }
  return bytes.releaseAsArray();
}

// Reads and discards until the end; false if the connection is still open once the loop is
// idle. (Closed with our requests unread, the server's end resets: that is an end too.)
bool drainsToEnd(Fixture& f, kj::AsyncIoStream& peer) {
  char buf[65536];
  bool ended = false;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 for (;;) {
                   auto read = peer.tryRead(buf, 1, sizeof(buf));
                   if (!read.poll(f.io.waitScope)) return;
                   if (read.wait(f.io.waitScope) == 0) {
                     ended = true;
                     return;
                   }
                 }
               })) {
    return e->getType() == kj::Exception::Type::DISCONNECTED;
  }
  return ended;
}
}  // namespace

TEST_CASE("A peer that never reads its replies is dropped once a write waits stallTimeout") {
  Fixture f;
  auto peer = f.connect();
  // Calls until our writes stop being taken: the server stopped reading us, on its flow limit or
  // its outgoing limit, with replies it cannot deliver queued.
  uint32_t question = 1;
  for (int round = 0; round < 1000; ++round) {
    auto bytes = healthCalls(question, 256);
    question += 256;
    auto write = peer->write(bytes.begin(), bytes.size());
    if (!write.poll(f.io.waitScope)) break;
    write.wait(f.io.waitScope);
  }
  f.io.waitScope.poll();
  REQUIRE(f.server.connections() == 1);
  f.advance(RpcServer::Limits{}.stream.stallTimeout - 1 * kj::SECONDS);
  CHECK(f.server.connections() == 1);
  f.advance(2 * kj::SECONDS);
  CHECK(f.server.connections() == 0);
  CHECK(drainsToEnd(f, *peer));
}

TEST_CASE("A peer that hangs up without finishing its calls is dropped at once") {
  Fixture f;
  {
    auto peer = f.connect();
    auto bytes = healthCalls(1, 5000);
    auto write = peer->write(bytes.begin(), bytes.size()).eagerlyEvaluate(nullptr);
    // Read every reply there is, so nothing waits to be sent.
    char buf[65536];
    for (;;) {
      auto read = peer->tryRead(buf, 1, sizeof(buf));
      if (!read.poll(f.io.waitScope)) break;
      read.wait(f.io.waitScope);
    }
    REQUIRE(f.server.connections() == 1);
  }  // Hangs up without a Finish for any of its 5000 calls.
  f.io.waitScope.poll();
  CHECK(f.server.connections() == 0);
}

TEST_CASE("A peer that never finishes its calls is refused past MAX_OPEN_CALLS") {
  Fixture f;
  auto peer = f.connect();
  auto bytes = healthCalls(1, RpcServer::MAX_OPEN_CALLS + 100);
  auto write = peer->write(bytes.begin(), bytes.size()).eagerlyEvaluate([](kj::Exception&&) {});
  // Read replies as they come (so nothing stalls) until the server ends the connection.
  std::string abortReason;
  size_t returns = 0;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 for (;;) {
                   auto next = capnp::tryReadMessage(*peer).wait(f.io.waitScope);
                   KJ_IF_MAYBE (m, next) {
                     auto root = (*m)->getRoot<capnp::rpc::Message>();
                     if (root.isReturn()) ++returns;
                     if (root.isAbort()) abortReason = root.getAbort().getReason();
                   } else {
                     break;
                   }
                 }
               })) {
    CHECK(e->getType() == kj::Exception::Type::DISCONNECTED);
  }
  CHECK(abortReason.find("too many calls without a Finish") != std::string::npos);
  CHECK(returns <= RpcServer::MAX_OPEN_CALLS);
  f.io.waitScope.poll();
  CHECK(f.server.connections() == 0);
}

TEST_CASE("A well-behaved client makes far more calls than MAX_OPEN_CALLS, one after another") {
  Fixture f;
  auto end = f.connect();
  capnp::TwoPartyClient client(*end);
  auto sidecar = client.bootstrap().castAs<rpc::Sidecar>();
  for (uint32_t i = 0; i < RpcServer::MAX_OPEN_CALLS + 1000; ++i) {
    REQUIRE(sidecar.healthRequest().send().wait(f.io.waitScope).getStatus() == "ok");
  }
}

}  // namespace tenantd
