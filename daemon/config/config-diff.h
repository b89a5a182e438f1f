#pragma once
// What re-reading the config file (SIGHUP) changes in a running daemon: the settings that apply
// live, and whether any of the rest differ (those wait for a restart). A pure function, so the
// rules are tested without a daemon.

#include "config/config.h"

#include <optional>

namespace tenantd {

struct ReloadPlan {
  std::optional<LogLevel> logLevel;  // Applies at once.
  std::optional<RpcAccess> rpc;      // Applies to RPC connections (see RpcServer::setPolicy).
  bool restartNeeded = false;        // data_dir, socket, listen or sync changed.
};

ReloadPlan planReload(const Config& running, const Config& next);

}  // namespace tenantd
