#pragma once
// Starts the real tenantd binary in a fresh directory and waits for it to report READY=1 over a
// real NOTIFY_SOCKET, the way systemd would see it.

#include "support/process.h"
#include "testing/temp-dir.h"

#include <chrono>
#include <functional>
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
  std::vector<std::string> args;
  int starts = 0;

  // Starts `tenantd --dev` on an ephemeral port with everything under `dir`, plus `extraArgs`.
  // `beforeStart` runs first (e.g. offline `tenantd tenant create` into dataDir()).
  explicit RunningDaemon(std::vector<std::string> extraArgs = {},
                         std::function<void(RunningDaemon&)> beforeStart = nullptr);
  // Restarts the daemon on the same data directory (after it exited or was killed).
  void restart();
  // Runs the tenantd CLI against this daemon's data directory.
  RunResult cli(std::vector<std::string> args);
  std::string dataDir() const { return dir.file("var"); }
  // The token printed by --dev (last "tnt_" word on stdout).
  std::string demoToken() const;
};

}  // namespace tenantd::testing
