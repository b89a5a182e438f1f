#include "rpc-client.h"

#include <capnp/serialize-async.h>
#include <kj/debug.h>

namespace tenantd::testing {

kj::Promise<kj::Own<kj::AsyncIoStream>> connectUnix(kj::AsyncIoContext& io,
                                                    const std::string& path) {
  return io.provider->getNetwork()
      .parseAddress(kj::str("unix:", path.c_str()))
      .then([](kj::Own<kj::NetworkAddress> address) {
        return address->connect().attach(kj::mv(address));
      });
}

RpcConnection::RpcConnection(kj::Own<kj::AsyncIoStream> connected)
    : stream(kj::mv(connected)),
      client(*stream),
      sidecar(client.bootstrap().castAs<rpc::Sidecar>()) {}

kj::Own<RpcConnection> RpcConnection::open(kj::AsyncIoContext& io, const std::string& path) {
  return kj::heap<RpcConnection>(within(io, connectUnix(io, path)).wait(io.waitScope));
}

kj::Promise<std::string> RpcConnection::health() {
  return sidecar.healthRequest().send().then(
      [](capnp::Response<rpc::Sidecar::HealthResults> r) { return std::string(r.getStatus()); });
}

kj::Promise<bool> RpcConnection::check(const std::string& tenant) {
  auto get = sidecar.tenantRequest();
  get.setId(tenant);
  auto check = get.send().getTenant().checkRequest();
  auto usage = check.initRequest();
  usage.setResource("api");
  usage.setMetric("calls");
  usage.setAmount(1);
  return check.send().then(
      [](capnp::Response<rpc::Tenant::CheckResults> r) { return r.getDecision().getAllowed(); });
}

std::string serves(kj::AsyncIoContext& io, RpcConnection& connection) {
  std::string failure;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 auto status = within(io, connection.health()).wait(io.waitScope);
                 if (status != "ok") failure = "health answered " + status;
                 if (!within(io, connection.check()).wait(io.waitScope)) {
                   failure += " check was not allowed";
                 }
               })) {
    failure = std::string("call failed: ") + e->getDescription().cStr();
  }
  return failure;
}

namespace raw {

void writeBytes(kj::AsyncIoContext& io, kj::AsyncIoStream& stream,
                kj::ArrayPtr<const kj::byte> bytes) {
  within(io, stream.write(bytes.begin(), bytes.size())).wait(io.waitScope);
}

void writeMessage(kj::AsyncIoContext& io, kj::AsyncIoStream& stream,
                  capnp::MessageBuilder& message) {
  within(io, capnp::writeMessage(stream, message)).wait(io.waitScope);
}

void initBootstrap(capnp::MessageBuilder& message, uint32_t questionId) {
  message.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(questionId);
}

capnp::rpc::Call::Builder initCallOnAnswer(capnp::MessageBuilder& message, uint32_t questionId,
                                           uint32_t targetQuestion) {
  auto call = message.initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(questionId);
  call.initTarget().initPromisedAnswer().setQuestionId(targetQuestion);
  return call;
}

capnp::rpc::Call::Builder initCallOnImport(capnp::MessageBuilder& message, uint32_t questionId,
                                           uint32_t importId) {
  auto call = message.initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(questionId);
  call.initTarget().setImportedCap(importId);
  return call;
}

void initDeepChain(capnp::AnyPointer::Builder at, int depth) {
  for (int i = 0; i < depth; ++i) at = at.initAsAnyStruct(0, 1).getPointerSection()[0];
}

kj::Own<capnp::MessageReader> readMessage(kj::AsyncIoContext& io, kj::AsyncIoStream& stream) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 1 << 24;
  kj::Own<capnp::MessageReader> message;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 auto next = within(io, capnp::tryReadMessage(stream, options)).wait(io.waitScope);
                 KJ_IF_MAYBE (m, next) {
                   message = kj::mv(*m);
                 }
               })) {
    // A reset is an end too (the server closed with our bytes unread); anything else is not.
    if (e->getType() != kj::Exception::Type::DISCONNECTED) kj::throwFatalException(kj::mv(*e));
  }
  return message;
}

kj::Own<capnp::MessageReader> readReturn(kj::AsyncIoContext& io, kj::AsyncIoStream& stream,
                                         uint32_t questionId) {
  for (;;) {
    auto message = readMessage(io, stream);
    if (message.get() == nullptr) return kj::Own<capnp::MessageReader>();
    auto root = message->getRoot<capnp::rpc::Message>();
    if (root.isReturn() && root.getReturn().getAnswerId() == questionId) return message;
  }
}

bool closedByServer(kj::AsyncIoContext& io, kj::AsyncIoStream& stream, kj::Duration deadline) {
  auto until = io.provider->getTimer().now() + deadline;
  char buffer[4096];
  for (;;) {
    constexpr size_t TIMED_OUT = ~size_t{0};
    size_t n = 0;
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                   n = stream.tryRead(buffer, 1, sizeof(buffer))
                           .exclusiveJoin(io.provider->getTimer().atTime(until).then(
                               []() { return TIMED_OUT; }))
                           .wait(io.waitScope);
                 })) {
      return e->getType() == kj::Exception::Type::DISCONNECTED;  // ECONNRESET: closed as well.
    }
    if (n == TIMED_OUT) return false;
    if (n == 0) return true;
  }
}

}  // namespace raw
}  // namespace tenantd::testing
