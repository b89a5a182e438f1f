#pragma once
// Serves the RPC socket: accepts connections, reads each peer's credentials once, and gives the
// connection its own Sidecar bootstrap with what the PeerPolicy grants that peer. Every connection
// is bounded, so a hostile or careless peer costs only itself (docs/ARCHITECTURE.md, "RPC limits"):
//  - a message over MAX_MESSAGE_WORDS, nested deeper than MAX_NESTING or with 512+ segments
//    fails that connection only, refused on its header before anything is allocated;
//  - at most FLOW_LIMIT_WORDS of calls still running (not yet answered): past it the
//    connection's next message is not read until some complete (capnp's RpcSystem flow limit);
//  - at most MAX_OPEN_CALLS calls without their Finish (each holds an answer-table entry until
//    then, answered or not): past it the connection is refused;
//  - at most Limits::stream.outgoingBytes of replies unread by the peer: past it the connection's
//    requests are not read until it reads, and a write pending stallTimeout disconnects it;
//  - a peer that hangs up is dropped at once, even while its calls are still running;
//  - running out of file descriptors pauses accepting (ACCEPT_RETRY) instead of ending it.

#include "rpc/message-stream.h"
#include "rpc/peer.h"
#include "rpc/sidecar.h"
#include "util/log.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <set>

namespace tenantd {

class RpcServer final : private kj::TaskSet::ErrorHandler {
public:
  static constexpr uint64_t MAX_MESSAGE_WORDS = 1 << 20;  // 8 MiB: a 64 KiB secret many times over.
  static constexpr int MAX_NESTING = 64;
  // 512 KiB of requests in flight per connection: hundreds of pipelined calls, dozens of
  // 128-item batches; a single larger call still passes (the limit stops the *next* read).
  static constexpr size_t FLOW_LIMIT_WORDS = 1 << 16;
  // capnp clients finish each question when its response is dropped: thousands open means a
  // client keeping every response, or one that never finishes.
  static constexpr uint32_t MAX_OPEN_CALLS = 1 << 14;
  static constexpr kj::Duration ACCEPT_RETRY = 100 * kj::MILLISECONDS;

  struct Limits {
    BoundedMessageStream::Limits stream{4096, 1 << 20, 30 * kj::SECONDS, MAX_OPEN_CALLS};
  };

  // Without a timer (in-process tests) nothing times out and accept errors end listen().
  RpcServer(Services& services, RpcServerInfo info, PeerPolicy policy, Log& log);
  RpcServer(Services& services, RpcServerInfo info, PeerPolicy policy, Log& log, kj::Timer& timer);
  RpcServer(Services& services, RpcServerInfo info, PeerPolicy policy, Log& log, kj::Timer& timer,
            Limits limits);

  // Accepts until the promise is dropped.
  kj::Promise<void> listen(kj::ConnectionReceiver& listener);
  // Serves one already-connected stream (tests; socket pairs).
  void serve(kj::Own<kj::AsyncIoStream> stream);
  size_t connections() const { return connections_; }
  // What this server's capabilities reach (tests make capabilities of their own with it).
  RpcContext& context() { return context_; }
  // A reloaded [rpc] section: decides new connections, and re-decides every open one, whose
  // capabilities then answer by the new grant. Returns the number of open connections.
  size_t setPolicy(PeerPolicy policy);

private:
  void taskFailed(kj::Exception&& exception) override;
  kj::Promise<void> acceptFailed(kj::ConnectionReceiver& listener, kj::Exception&& e);

  RpcContext context_;  // What every capability of this server reaches.
  PeerPolicy policy_;
  std::set<ConnectionGrant*> grants_;  // Of the open connections (each removes its own).
  Log& log_;
  kj::Maybe<kj::Timer&> timer_;
  Limits limits_;
  size_t connections_ = 0;
  bool acceptPaused_ = false;
  kj::TaskSet tasks_{*this};
};

}  // namespace tenantd
