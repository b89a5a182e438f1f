#include "sidecar.h"

#include "app/version.h"

#include <kj/debug.h>

namespace tenantd {

void throwRpcError(kj::StringPtr kind, kj::StringPtr message) {
  kj::throwFatalException(
      kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str(kind, ": ", message)));
}

kj::Promise<void> SidecarImpl::health(HealthContext context) {
  auto results = context.getResults(capnp::MessageSize{8, 0});
  results.setStatus("ok");
  results.setVersion(TENANTD_VERSION);
  int64_t up = (services_.clock.now() - services_.startedAt) / 1000;
  results.setUptimeSeconds(up > 0 ? static_cast<uint64_t>(up) : 0);
  return kj::READY_NOW;
}

kj::Promise<void> SidecarImpl::tenant(TenantContext context) {
  if (role_ == PeerRole::NONE) {
    throwRpcError("permission-denied", "this peer may not act for tenants");
  }
  std::string id = context.getParams().getId();
  if (!isValidTenantId(id)) throwRpcError("invalid-argument", "malformed tenant id");
  if (services_.limits == nullptr || services_.limits->find(id) == nullptr) {
    throwRpcError("not-found", "no such tenant");
  }
  context.getResults(capnp::MessageSize{4, 1})
      .setTenant(kj::heap<TenantImpl>(services_, id, peer_));
  return kj::READY_NOW;
}

kj::Promise<void> TenantImpl::getSecret(GetSecretContext context) {
  std::string name = context.getParams().getName();
  if (!isValidSecretName(name)) throwRpcError("invalid-argument", "malformed secret name");
  KJ_REQUIRE(services_.secrets != nullptr);
  return services_.secrets->open(tenantId_, name, peer_)
      .then([context](OpenedSecret opened) mutable {
        switch (opened.outcome) {
          case OpenedSecret::Outcome::OK: break;
          case OpenedSecret::Outcome::NOT_FOUND:
          case OpenedSecret::Outcome::EXPIRED: throwRpcError("not-found", "no such secret");
          case OpenedSecret::Outcome::OPEN_FAILED:
            throwRpcError("unavailable", "the stored secret failed its integrity check");
        }
        auto& value = *opened.value;
        auto results = context.getResults(capnp::MessageSize{value.size() / 8 + 8, 0});
        results.setValue(capnp::Data::Reader(value.data(), value.size()));
        results.setVersion(static_cast<uint64_t>(opened.version));
      });
}

}  // namespace tenantd
