// Fuzzes Cap'n Proto requests through the daemon's RPC server, not only its framing: each
// input is a call on Sidecar, Tenant (t1) or Admin, chosen by its first byte, with the method
// id of its second and the rest as the parameters (one message segment, read as the struct the
// method takes), sent by a real client over a socket pair to RpcServer over the services on a
// real SQLite store. Beyond the sanitizers: every call is answered (value or error) within
// 10 s, and the connection keeps serving.

#include <capnp/message.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "rpc/rpc-fixture.h"

namespace {

using namespace tenantd;

struct World {
  testing::RpcFixture f;
  capnp::Capability::Client sidecar = f.sidecar();
  capnp::Capability::Client tenant = f.tenant("t1");
  capnp::Capability::Client admin = f.admin();
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  World& w = world();
  uint64_t interfaceId;
  capnp::Capability::Client* target;
  switch (data[0] % 3) {
    case 0:
      target = &w.sidecar;
      interfaceId = capnp::typeId<rpc::Sidecar>();
      break;
    case 1:
      target = &w.tenant;
      interfaceId = capnp::typeId<rpc::Tenant>();
      break;
    default:
      target = &w.admin;
      interfaceId = capnp::typeId<rpc::Admin>();
      break;
  }
  uint16_t methodId = data[1] % 24;  // A few past the last method of each: unknown methods too.

  // The parameters: the remaining bytes as one segment, word-aligned.
  std::vector<capnp::word> words((size - 2 + sizeof(capnp::word) - 1) / sizeof(capnp::word));
  if (!words.empty()) std::memcpy(words.data(), data + 2, size - 2);
  kj::ArrayPtr<const capnp::word> segments[1] = {kj::arrayPtr(words.data(), words.size())};
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 1 << 16;
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);

  auto request = target->typelessRequest(interfaceId, methodId, nullptr);
  // A malformed message fails here, on the client side, before anything is sent.
  if (words.empty() || kj::runCatchingExceptions([&]() {
                         request.set(reader.getRoot<capnp::AnyPointer>());
                       }) != nullptr) {
    return 0;
  }
  auto& io = w.f.io;
  bool answered = false;
  auto call = request.send().ignoreResult().then([&answered]() { answered = true; },
                                                 [&answered](kj::Exception&&) { answered = true; });
  call.exclusiveJoin(io.provider->getTimer().afterDelay(10 * kj::SECONDS)).wait(io.waitScope);
  if (!answered) std::abort();

  // Still serving: a health call on the same connection answers.
  auto health = w.f.sidecar().healthRequest().send().wait(io.waitScope);
  if (health.getStatus() != "ok") std::abort();
  return 0;
}
