#include "tenantd/connect.h"

#include <cstdlib>

namespace tenantd::client {

std::string defaultSocketPath() {
  const char* env = std::getenv("TENANTD_SOCKET");
  return env != nullptr && *env != '\0' ? env : DEFAULT_SOCKET_PATH;
}

Connection::Connection(kj::Own<kj::AsyncIoStream> stream)
    : stream_(kj::mv(stream)), rpc_(*stream_), sidecar_(rpc_.bootstrap().castAs<rpc::Sidecar>()) {}

kj::Promise<kj::Own<Connection>> connect(kj::AsyncIoProvider& io, kj::StringPtr path) {
  return io.getNetwork()
      .parseAddress(kj::str("unix:", path))
      .then([](kj::Own<kj::NetworkAddress> address) {
        return address->connect().attach(kj::mv(address));
      })
      .then([](kj::Own<kj::AsyncIoStream> stream) { return kj::heap<Connection>(kj::mv(stream)); },
            [path = kj::str(path)](kj::Exception&& e) -> kj::Own<Connection> {
              // Missing, refused or not a socket: to the caller, the daemon is not there.
              kj::throwFatalException(kj::Exception(
                  e.getType(), __FILE__, __LINE__,
                  kj::str("unavailable: cannot connect to ", path, ": ", e.getDescription())));
            });
}

Error toError(const kj::Exception& exception) {
  Error parsed = errorFromText(exception.getDescription().cStr());
  if (parsed.kind() != ErrorKind::INTERNAL) return parsed;
  switch (exception.getType()) {
    case kj::Exception::Type::DISCONNECTED: return Error(ErrorKind::DISCONNECTED, parsed.message());
    case kj::Exception::Type::OVERLOADED: return Error(ErrorKind::OVERLOADED, parsed.message());
    case kj::Exception::Type::UNIMPLEMENTED:
      return Error(ErrorKind::UNIMPLEMENTED, parsed.message());
    case kj::Exception::Type::FAILED: break;
  }
  return parsed;
}

}  // namespace tenantd::client
