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

RpcCallStats::RpcCallStats(Metrics& metrics, capnp::InterfaceSchema schema) {
  std::string interface = schema.getShortDisplayName().cStr();
  for (auto method : schema.getMethods()) {
    std::string name = method.getProto().getName().cStr();
    Series s;
    for (size_t o = 0; o < OUTCOMES; ++o) {
      s.byOutcome[o] = &metrics.counter(
          "tenantd_rpc_calls_total", "RPC calls answered, by interface, method and outcome",
          {{"interface", interface}, {"method", name}, {"outcome", OUTCOME_NAMES[o]}},
          Metrics::Show::ONCE_MOVED);
    }
    s.seconds = &metrics.latency("tenantd_rpc_call_duration_seconds",
                                 "RPC call latency in the daemon, by interface and method",
                                 {{"interface", interface}, {"method", name}});
    methods_.push_back(s);
  }
}

RpcCallStats::Dispatch RpcCallStats::record(uint16_t methodId,
                                            kj::FunctionParam<Dispatch()> dispatch) {
  // Unimplemented methods: capnp answers them.
  if (!METRICS_ENABLED || methodId >= methods_.size()) return dispatch();
  auto start = std::chrono::steady_clock::now();
  Series s = methods_[methodId];
  Dispatch result{nullptr, false};
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { result = dispatch(); })) {
    finish(s, outcomeOf(*e), start);
    kj::throwFatalException(kj::mv(*e));
  }
  result.promise = result.promise.then([s, start]() { finish(s, 0, start); },
                                       [s, start](kj::Exception&& e) {
                                         finish(s, outcomeOf(e), start);
                                         kj::throwFatalException(kj::mv(e));
                                       });
  return result;
}

void RpcCallStats::finish(const Series& s, size_t outcome,
                          std::chrono::steady_clock::time_point start) {
  s.byOutcome[outcome]->add();
  s.seconds->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

RpcMetrics::RpcMetrics(Metrics& metrics)
    : sidecar(metrics, capnp::Schema::from<rpc::Sidecar>()),
      tenant(metrics, capnp::Schema::from<rpc::Tenant>()),
      admin(metrics, capnp::Schema::from<rpc::Admin>()),
      decisions(metrics, "rpc"),
      rateLimited(metrics.rateLimited("rpc")) {}

}  // namespace tenantd
