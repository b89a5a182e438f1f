#include "rpc-metrics.h"

#include "tenantd.capnp.h"

#include <kj/debug.h>

namespace tenantd {

namespace {
constexpr const char* OUTCOME_NAMES[] = {
    "ok",          "invalid-argument", "not-found",      "permission-denied",
    "unavailable", "overloaded",       "already-exists", "conflict",
    "failed"};

// The stable kind a description starts with ("not-found: no such secret"), else "failed".
size_t outcomeOf(const kj::Exception& e) {
  if (e.getType() == kj::Exception::Type::OVERLOADED) return 5;
  kj::StringPtr d = e.getDescription();
  for (size_t i = 1; i + 1 < std::size(OUTCOME_NAMES); ++i) {
    kj::StringPtr kind = OUTCOME_NAMES[i];
    if (d.startsWith(kind) && d.size() > kind.size() && d[kind.size()] == ':') return i;
  }
  return std::size(OUTCOME_NAMES) - 1;
}
}  // namespace

RpcCallStats::RpcCallStats(Metrics& metrics, capnp::InterfaceSchema schema)
    : metrics_(metrics), interface_(schema.getShortDisplayName().cStr()) {
  for (auto method : schema.getMethods()) methods_.push_back({method.getProto().getName().cStr()});
}

RpcCallStats::Dispatch RpcCallStats::record(uint16_t methodId,
                                            kj::FunctionParam<Dispatch()> dispatch) {
  // Unimplemented methods: capnp answers them.
  if (!METRICS_ENABLED || methodId >= methods_.size()) return dispatch();
  auto start = std::chrono::steady_clock::now();
  Method& m = methods_[methodId];
  Dispatch result{nullptr, false};
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { result = dispatch(); })) {
    finish(m, outcomeOf(*e), start);
    kj::throwFatalException(kj::mv(*e));
  }
  result.promise = result.promise.then([this, &m, start]() { finish(m, 0, start); },
                                       [this, &m, start](kj::Exception&& e) {
                                         finish(m, outcomeOf(e), start);
                                         kj::throwFatalException(kj::mv(e));
                                       });
  return result;
}

void RpcCallStats::finish(Method& m, size_t outcome, std::chrono::steady_clock::time_point start) {
  if (m.byOutcome[outcome] == nullptr) {
    m.byOutcome[outcome] = &metrics_.counter(
        "tenantd_rpc_calls_total", "RPC calls answered, by interface, method and outcome",
        {{"interface", interface_}, {"method", m.name}, {"outcome", OUTCOME_NAMES[outcome]}});
  }
  if (m.seconds == nullptr) {
    m.seconds = &metrics_.latency("tenantd_rpc_call_duration_seconds",
                                  "RPC call latency in the daemon, by interface and method",
                                  {{"interface", interface_}, {"method", m.name}});
  }
  m.byOutcome[outcome]->add();
  m.seconds->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

RpcMetrics::RpcMetrics(Metrics& metrics)
    : sidecar(metrics, capnp::Schema::from<rpc::Sidecar>()),
      tenant(metrics, capnp::Schema::from<rpc::Tenant>()),
      admin(metrics, capnp::Schema::from<rpc::Admin>()),
      decisions(metrics, "rpc"),
      rateLimited(metrics.counter("tenantd_rate_limited_total",
                                  "Requests refused by a per-tenant rate limit, by surface",
                                  {{"surface", "rpc"}})) {}

}  // namespace tenantd
