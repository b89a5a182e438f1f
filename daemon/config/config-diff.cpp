#include "config-diff.h"

namespace tenantd {

ReloadPlan planReload(const Config& running, const Config& next) {
  ReloadPlan plan;
  if (next.logLevel != running.logLevel) plan.logLevel = next.logLevel;
  if (next.rpc != running.rpc) plan.rpc = next.rpc;
  plan.restartNeeded = next.dataDir != running.dataDir || next.socketPath != running.socketPath ||
                       formatListenAddress(next.listen) != formatListenAddress(running.listen) ||
                       next.metricsListen.has_value() != running.metricsListen.has_value() ||
                       (next.metricsListen && formatListenAddress(*next.metricsListen) !=
                                                  formatListenAddress(*running.metricsListen)) ||
                       next.sync != running.sync || next.storeMaxBytes != running.storeMaxBytes ||
                       next.maxBodyBytes != running.maxBodyBytes ||
                       next.requestTimeoutMs != running.requestTimeoutMs ||
                       next.maxConnections != running.maxConnections ||
                       next.quotas != running.quotas || next.bounds != running.bounds ||
                       next.central != running.central || next.centralRole != running.centralRole;
  return plan;
}

}  // namespace tenantd
