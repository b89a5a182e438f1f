#include "rpc-server.h"

#include <kj/debug.h>

namespace tenantd {

RpcServer::RpcServer(Services& services, RpcServerInfo info, PeerPolicy policy, Log& log)
    : context_{services, std::move(info), [this]() { return connections_; },
               RpcMetrics(services.metrics)},
      policy_(std::move(policy)),
      log_(log) {}

RpcServer::RpcServer(Services& services, RpcServerInfo info, PeerPolicy policy, Log& log,
                     kj::Timer& timer)
    : RpcServer(services, std::move(info), std::move(policy), log, timer, Limits()) {}

RpcServer::RpcServer(Services& services, RpcServerInfo info, PeerPolicy policy, Log& log,
                     kj::Timer& timer, Limits limits)
    : context_{services, std::move(info), [this]() { return connections_; },
               RpcMetrics(services.metrics)},
      policy_(std::move(policy)),
      log_(log),
      timer_(timer),
      limits_(limits) {}

kj::Promise<void> RpcServer::listen(kj::ConnectionReceiver& listener) {
  // evalNow: kj's accept() tries accept4() at once and throws EMFILE synchronously.
  return kj::evalNow([&listener]() { return listener.accept(); })
      .then(
          [this, &listener](kj::Own<kj::AsyncIoStream> stream) {
            if (acceptPaused_) {
              acceptPaused_ = false;
              log_.info("rpc", "accepting connections again");
            }
            serve(kj::mv(stream));
            return listen(listener);
          },
          [this, &listener](kj::Exception&& e) { return acceptFailed(listener, kj::mv(e)); });
}

kj::Promise<void> RpcServer::acceptFailed(kj::ConnectionReceiver& listener, kj::Exception&& e) {
  // kj's accept() throws OVERLOADED on EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or
  // memory for now. Waiting and retrying keeps serving the connections we have; the listen
  // backlog holds new ones meanwhile.
  bool transient = e.getType() == kj::Exception::Type::OVERLOADED;
  KJ_IF_MAYBE (timer, timer_) {
    if (transient) {
      if (!acceptPaused_) {
        acceptPaused_ = true;
        log_.warn("rpc", "cannot accept more connections (" + std::to_string(connections_) +
                             " open): " + e.getDescription().cStr() + "; retrying");
      }
      return timer->afterDelay(ACCEPT_RETRY).then([this, &listener]() { return listen(listener); });
    }
  }
  return kj::mv(e);
}

void RpcServer::serve(kj::Own<kj::AsyncIoStream> stream) {
  std::optional<PeerCredentials> peer;
  KJ_IF_MAYBE (fd, stream->getFd()) {
    peer = peerCredentials(*fd);
  }
  PeerGrant decided = peer ? policy_.grantFor(*peer) : PeerGrant{};
  auto grant = kj::refcounted<ConnectionGrant>(kj::mv(peer), kj::mv(decided));
  // Registered while the connection is open, so setPolicy() reaches it.
  grants_.insert(grant.get());
  auto unregister = kj::defer([this, g = grant.get()]() { grants_.erase(g); });

  capnp::ReaderOptions limits;
  limits.traversalLimitInWords = MAX_MESSAGE_WORDS;
  limits.nestingLimit = MAX_NESTING;
  auto messages = kj::heap<BoundedMessageStream>(*stream, timer_, limits_.stream);
  auto network =
      kj::heap<capnp::TwoPartyVatNetwork>(*messages, capnp::rpc::twoparty::Side::SERVER, limits);
  capnp::Capability::Client bootstrap = kj::heap<SidecarImpl>(context_, kj::addRef(*grant));
  auto system = kj::heap(capnp::makeRpcServer(*network, kj::mv(bootstrap)));
  system->setFlowLimit(FLOW_LIMIT_WORDS);
  ++connections_;
  // The connection ends when the RpcSystem lets it go, when the peer stalls on our replies, or
  // when the peer hangs up: the last one matters when the RpcSystem is not reading (held at its
  // flow limit by calls the peer never finished) and so would never see the end of the stream.
  auto disconnected = network->onDisconnect()
                          .exclusiveJoin(messages->whenBroken())
                          .exclusiveJoin(stream->whenWriteDisconnected());
  // Attachments are destroyed last-first: the RpcSystem goes before the network it uses, the
  // network before its message stream, and that before the socket.
  tasks_.add(disconnected
                 .attach(kj::mv(unregister), kj::mv(grant), kj::mv(stream), kj::mv(messages),
                         kj::mv(network), kj::mv(system))
                 .then([this]() { --connections_; },
                       [this](kj::Exception&& e) {
                         --connections_;
                         kj::throwFatalException(kj::mv(e));
                       }));
}

size_t RpcServer::setPolicy(PeerPolicy policy) {
  policy_ = std::move(policy);
  for (ConnectionGrant* grant : grants_) grant->redecide(policy_);
  return grants_.size();
}

void RpcServer::taskFailed(kj::Exception&& exception) {
  // One connection's failure (bad framing, oversized message) ends that connection only.
  log_.debug("rpc", std::string("connection ended: ") + exception.getDescription().cStr());
}

}  // namespace tenantd
