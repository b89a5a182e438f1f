#include "daemon-fixture.h"

#include <sstream>
#include <stdexcept>

namespace tenantd::testing {

RunningDaemon::RunningDaemon(std::vector<std::string> extraArgs,
                             std::function<void(RunningDaemon&)> beforeStart) {
  socketPath = dir.file("run/tenantd.sock");
  notify = std::make_unique<NotifySocket>(dir.file("notify.sock"));
  args = {"--dev", "--listen", "127.0.0.1:0", "--socket", socketPath, "--data-dir", dataDir()};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  if (beforeStart) beforeStart(*this);
  restart();
}

RunResult RunningDaemon::cli(std::vector<std::string> cliArgs) {
  cliArgs.push_back("--data-dir");
  cliArgs.push_back(dataDir());
  return run(TENANTD_BIN, std::move(cliArgs), dir.path().string());
}

void RunningDaemon::restart() {
  ++starts;
  std::string suffix = starts == 1 ? "" : std::to_string(starts);
  process =
      std::make_unique<Process>(TENANTD_BIN, Process::Options{args,
                                                              dir.path().string(),
                                                              {{"NOTIFY_SOCKET", notify->path()}},
                                                              dir.file("stdout" + suffix),
                                                              dir.file("stderr" + suffix)});
  auto ready = notify->waitFor("READY=1", READY_DEADLINE, process.get());
  if (!ready) {
    throw std::runtime_error("tenantd did not become ready; stderr:\n" + process->err());
  }
  auto at = ready->find("REST ");
  if (at == std::string::npos) throw std::runtime_error("no REST address in: " + *ready);
  std::istringstream status(ready->substr(at + 5));
  status >> restUrl;
}

std::string RunningDaemon::demoToken() const {
  std::istringstream out(process->out());
  std::string word, token;
  while (out >> word) {
    if (word.rfind("tnt_", 0) == 0) token = word;
  }
  return token;
}

}  // namespace tenantd::testing
