// tenantd: parse, set up, run. Everything else lives in the modules main() wires together.

#include "app/admin-commands.h"
#include "app/cli.h"
#include "app/daemon.h"
#include "app/managed.h"
#include "util/malloc-tuning.h"

#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>

#include <kj/async-unix.h>
#include <kj/debug.h>

#include <iostream>

using namespace tenantd;

namespace {
int runDaemon(const Command& cmd, Config config, Log& log, const Clock& clock) {
  // Signals become kj events; capture them before any thread starts so none inherits them.
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  kj::UnixEventPort::captureSignal(SIGHUP);
  signal(SIGPIPE, SIG_IGN);
  auto io = kj::setupAsyncIo();
  io.waitScope.setBusyPollInterval(UvBridge::BUSY_POLL_INTERVAL);
  Daemon daemon(cmd.overrides, std::move(config), log, clock, io, std::cout);
  daemon.start();
  return daemon.serveUntilStopped();
}

int dispatch(const Command& cmd, const Config& config, Log& log, const Clock& clock) {
  auto& out = std::cout;
  auto& err = std::cerr;
  switch (cmd.kind) {
    case CommandKind::RUN_DAEMON: return runDaemon(cmd, config, log, clock);
    case CommandKind::TENANT_CREATE: return runTenantCreate(config, cmd, clock, out, err);
    case CommandKind::TENANT_UPDATE: return runTenantUpdate(config, cmd, clock, out, err);
    case CommandKind::TENANT_LIST: return runTenantList(config, out);
    case CommandKind::TOKEN_CREATE: return runTokenCreate(config, cmd, clock, out, err);
    case CommandKind::TOKEN_REVOKE: return runTokenRevoke(config, cmd, clock, out, err);
    case CommandKind::CHECK_DB: return runCheckDb(config, log, out, err);
    case CommandKind::KEYS_GENERATE: return runKeysGenerate(cmd, out, err);
    case CommandKind::KEYS_ROTATE: return runKeysRotate(config, cmd, log, out, err);
    case CommandKind::SECRETS_VERIFY: return runSecretsVerify(config, log, out, err);
    case CommandKind::CENTRAL_SNAPSHOT:
      return runCentralSnapshot(config, cmd.outputFile, log, out, err);
    case CommandKind::HOST_TOKEN_CREATE: return runHostTokenCreate(config, cmd.hostId, out, err);
    case CommandKind::EXIT: return cmd.exitCode;
  }
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  holdFreedHeap();  // Before any thread starts: see malloc-tuning.h.
  wipeFreedHeap();
  Command cmd = parseCommandLine(argc, argv);
  if (cmd.kind == CommandKind::EXIT) return cmd.exitCode;
  if (sodium_init() < 0) {
    std::cerr << "tenantd: libsodium failed to initialise\n";
    return 1;
  }
  umask(0077);  // The store holds token hashes and sealed secrets: owner only.

  Config config;
  try {
    config = buildConfig(cmd.overrides);
  } catch (const ConfigError& e) {
    std::cerr << "tenantd: config error: " << e.what() << "\n";
    return 1;
  }
  Log log(Log::detectSink(), config.logLevel);
  SystemClock clock;

  int exitCode = 1;
  std::optional<std::string> refusal;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 try {
                   exitCode = dispatch(cmd, config, log, clock);
                 } catch (const StartupError& e) {
                   refusal = e.what();
                 }
               })) {
    // Startup and maintenance faults: one line with the reason, no stack of internals.
    log.error("main", e->getDescription().cStr());
    std::cerr << "tenantd: " << e->getDescription().cStr() << "\n";
    return 1;
  }
  if (refusal) {  // The operator's to fix: the reason alone.
    log.error("main", *refusal);
    std::cerr << "tenantd: " << *refusal << "\n";
    return 1;
  }
  return exitCode;
}
