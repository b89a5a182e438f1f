#pragma once
// Starts the real tenantd binary in a fresh directory and waits for it to report READY=1 over a
// real NOTIFY_SOCKET, the way systemd would see it.

#include "support/process.h"
#include "support/temp-dir.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace tenantd::testing {

constexpr auto READY_DEADLINE = std::chrono::seconds(20);

struct RunningDaemon {
  TempDir dir;
  std::unique_ptr<NotifySocket> notify;
  std::unique_ptr<Process> process;
  std::string restUrl;  // "http://127.0.0.1:PORT"
  std::string socketPath;

  // Starts `tenantd --dev` on an ephemeral port with everything under `dir`, plus `extraArgs`.
  explicit RunningDaemon(std::vector<std::string> extraArgs = {});
  std::string dataDir() const { return dir.file("var"); }
  // The token printed by --dev (last "tnt_" word on stdout).
  std::string demoToken() const;
};

}  // namespace tenantd::testing
