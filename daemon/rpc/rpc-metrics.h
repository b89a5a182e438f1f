#pragma once
// What the RPC surface tells Prometheus: tenantd_rpc_calls_total{interface, method, outcome} and
// tenantd_rpc_call_duration_seconds{interface, method} for every call of Sidecar, Tenant and
// Admin, and tenantd_limit_decisions_total{outcome, surface="rpc"} per decision answered
// (each item of a batch is one). Outcomes are "ok" or the error's stable kind
// ("invalid-argument", "not-found", "permission-denied", "unavailable", "overloaded",
// "already-exists", "conflict"), else "failed". Every series is created at start, in Metrics,
// and shown once it has moved.

#include "service/decision-counts.h"
#include "util/metrics.h"

#include <capnp/capability.h>
#include <capnp/schema.h>
#include <kj/function.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

namespace tenantd {

class RpcCallStats {
public:
  RpcCallStats(Metrics& metrics, capnp::InterfaceSchema schema);
  using Dispatch = capnp::Capability::Server::DispatchCallResult;
  // Runs `dispatch` (the interface's own dispatchCall) and counts the call when it completes.
  Dispatch record(uint16_t methodId, kj::FunctionParam<Dispatch()> dispatch);

private:
  static constexpr size_t OUTCOMES = 9;
  // Pointers into Metrics, which outlives every call: a call may complete after its RpcServer
  // (and so this object) is gone, so a completion copies these and touches nothing of ours.
  struct Series {
    std::array<OwnedCounter*, OUTCOMES> byOutcome{};
    LatencyHistogram* seconds = nullptr;
  };
  static void finish(const Series& s, size_t outcome, std::chrono::steady_clock::time_point start);

  std::vector<Series> methods_;  // By method id.
};

struct RpcMetrics {
  explicit RpcMetrics(Metrics& metrics);
  RpcCallStats sidecar;
  RpcCallStats tenant;
  RpcCallStats admin;
  DecisionCounts decisions;
  OwnedCounter& rateLimited;  // Tenant.rateLimit answers that refused.
};

}  // namespace tenantd
