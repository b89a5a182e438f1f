#pragma once
// The raw async API of libtenantd-client: the generated Cap'n Proto classes of
// rpc/tenantd.capnp (namespace tenantd::rpc, re-exported by including this header) and a helper
// that connects to the daemon's Unix socket. For programs that run a kj event loop; everyone
// else uses the synchronous tenantd::client::Client (tenantd/client.h).
//
//   auto io = kj::setupAsyncIo();
//   auto conn = tenantd::client::connect(*io.provider, "/run/tenantd/tenantd.sock")
//                   .wait(io.waitScope);
//   auto req = conn->sidecar().tenantRequest();
//   req.setId("tenant-123");
//   auto get = req.send().getTenant().getSecretRequest();  // Pipelined: one round trip.
//   get.setName("STRIPE_SECRET_KEY");
//   auto reply = get.send().wait(io.waitScope);  // Keep the response: readers point into it.
//
// Errors are kj::Exceptions whose description carries the daemon's kind; toError() turns one
// into a tenantd::client::Error.

#include "tenantd.capnp.h"
#include "tenantd/error.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <string>

namespace tenantd::client {

inline constexpr const char* DEFAULT_SOCKET_PATH = "/run/tenantd/tenantd.sock";

// $TENANTD_SOCKET when set and not empty, else DEFAULT_SOCKET_PATH.
std::string defaultSocketPath();

// One connection to the daemon. Owns the stream and the two-party RPC system; capabilities
// obtained through it fail with DISCONNECTED once it is gone. Destroy it on its loop's thread.
class Connection {
public:
  explicit Connection(kj::Own<kj::AsyncIoStream> stream);
  KJ_DISALLOW_COPY(Connection);

  // The bootstrap capability: health, tenant(id), admin(), whoami().
  rpc::Sidecar::Client sidecar() { return sidecar_; }
  // Resolves when the daemon closes the connection (or it breaks).
  kj::Promise<void> onDisconnect() { return rpc_.onDisconnect(); }

private:
  kj::Own<kj::AsyncIoStream> stream_;
  capnp::TwoPartyClient rpc_;
  rpc::Sidecar::Client sidecar_;
};

// Connects to the socket at `path`. Fails with "unavailable: cannot connect to PATH: why" when
// nothing listens there.
kj::Promise<kj::Own<Connection>> connect(kj::AsyncIoProvider& io, kj::StringPtr path);

// The Error a failed call means: the daemon's kind from the text, else from the exception's
// type (DISCONNECTED, OVERLOADED, UNIMPLEMENTED), else INTERNAL.
Error toError(const kj::Exception& exception);

}  // namespace tenantd::client
