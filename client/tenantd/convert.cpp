#include "tenantd/convert.h"

namespace tenantd::client::detail {

namespace {
std::string countedName(rpc::Counted c) {
  switch (c) {
    case rpc::Counted::FLEET: return "fleet";
    case rpc::Counted::LOCAL: return "local";
    default: return "host";
  }
}
}  // namespace

void write(rpc::UsageRequest::Builder out, const Usage& usage) {
  out.setUserId(usage.userId);
  out.setResource(usage.resource);
  out.setMetric(usage.metric);
  out.setAmount(usage.amount);
}

void write(rpc::TrackRequest::Builder out, const TrackRequest& request) {
  write(out.initUsage(), request.usage);
  out.setId(request.id);
  out.setTimestampMs(request.timestampMs);
}

Decision read(rpc::Decision::Reader d) {
  Decision out;
  out.allowed = d.getAllowed();
  out.warning = d.getWarning();
  out.matched = d.getMatched();
  out.gateAction = d.getGateAction();
  out.current = d.getCurrent();
  out.reserved = d.getReserved();
  out.limit = d.getLimit();
  out.remaining = d.getRemaining();
  out.period = d.getPeriod();
  out.scope = d.getScope();
  out.resetAtMs = d.getResetAtMs();
  out.counted = countedName(d.getCounted());
  return out;
}

TrackResult read(rpc::TrackResult::Reader r) {
  TrackResult out;
  out.duplicate = r.getDuplicate();
  for (auto u : r.getUsage()) {
    out.usage.push_back(RuleUsage{u.getResource(), u.getMetric(), u.getPeriod(), u.getScope(),
                                  u.getCurrent(), u.getReserved(), u.getLimit(), u.getResetAtMs(),
                                  countedName(u.getCounted())});
  }
  return out;
}

}  // namespace tenantd::client::detail
