#pragma once
// Serves the RPC socket: accepts connections, reads each peer's credentials once, and gives the
// connection its own Sidecar bootstrap with what the PeerPolicy grants that peer. Reader limits are
// deliberate: a message over MAX_MESSAGE_WORDS or nested deeper than MAX_NESTING fails that
// connection only.

#include "rpc/peer.h"
#include "rpc/sidecar.h"
#include "util/log.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

namespace tenantd {

class RpcServer final : private kj::TaskSet::ErrorHandler {
public:
  static constexpr uint64_t MAX_MESSAGE_WORDS = 1 << 20;  // 8 MiB: a 64 KiB secret many times over.
  static constexpr int MAX_NESTING = 64;

  RpcServer(RpcServices& services, PeerPolicy policy, Log& log);

  // Accepts until the promise is dropped.
  kj::Promise<void> listen(kj::ConnectionReceiver& listener);
  // Serves one already-connected stream (tests; socket pairs).
  void serve(kj::Own<kj::AsyncIoStream> stream);
  size_t connections() const { return connections_; }
  // For connections accepted from now on (a reloaded [rpc] section); open ones keep theirs.
  void setPolicy(PeerPolicy policy) { policy_ = std::move(policy); }

private:
  void taskFailed(kj::Exception&& exception) override;

  RpcServices& services_;
  PeerPolicy policy_;
  Log& log_;
  size_t connections_ = 0;
  kj::TaskSet tasks_{*this};
};

}  // namespace tenantd
