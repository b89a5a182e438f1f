#include "rpc-server.h"

#include <kj/debug.h>

namespace tenantd {

RpcServer::RpcServer(RpcServices& services, PeerPolicy policy, Log& log)
    : services_(services), policy_(std::move(policy)), log_(log) {}

kj::Promise<void> RpcServer::listen(kj::ConnectionReceiver& listener) {
  return listener.accept().then([this, &listener](kj::Own<kj::AsyncIoStream> stream) {
    serve(kj::mv(stream));
    return listen(listener);
  });
}

void RpcServer::serve(kj::Own<kj::AsyncIoStream> stream) {
  std::optional<PeerCredentials> peer;
  KJ_IF_MAYBE (fd, stream->getFd()) {
    peer = peerCredentials(*fd);
  }
  PeerGrant grant = peer ? policy_.grantFor(*peer) : PeerGrant{};

  capnp::ReaderOptions limits;
  limits.traversalLimitInWords = MAX_MESSAGE_WORDS;
  limits.nestingLimit = MAX_NESTING;
  auto network =
      kj::heap<capnp::TwoPartyVatNetwork>(*stream, capnp::rpc::twoparty::Side::SERVER, limits);
  capnp::Capability::Client bootstrap =
      kj::heap<SidecarImpl>(services_, kj::mv(grant), kj::mv(peer));
  auto system = kj::heap(capnp::makeRpcServer(*network, kj::mv(bootstrap)));
  ++connections_;
  auto disconnected = network->onDisconnect();
  // Attachments are destroyed last-first: the RpcSystem goes before the network it uses, and
  // the network before its stream.
  tasks_.add(disconnected.attach(kj::mv(stream), kj::mv(network), kj::mv(system))
                 .then([this]() { --connections_; },
                       [this](kj::Exception&& e) {
                         --connections_;
                         kj::throwFatalException(kj::mv(e));
                       }));
}

void RpcServer::taskFailed(kj::Exception&& exception) {
  // One connection's failure (bad framing, oversized message) ends that connection only.
  log_.debug("rpc", std::string("connection ended: ") + exception.getDescription().cStr());
}

}  // namespace tenantd
