// tenantd: parse, set up, run. Everything else lives in the modules main() wires together.

#include "app/admin-commands.h"
#include "app/cli.h"
#include "app/daemon.h"

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
}  // namespace

int main(int argc, char** argv) {
  Command cmd = parseCommandLine(argc, argv);
  if (cmd.kind == CommandKind::EXIT) return cmd.exitCode;
  if (sodium_init() < 0) {
    std::cerr << "tenantd: libsodium failed to initialise\n";
    return 1;
  }
  umask(0077);  // The store holds token hashes and, later, sealed secrets: owner only.

  Config config;
  try {
    config = buildConfig(cmd.overrides);
  } catch (const ConfigError& e) {
    std::cerr << "tenantd: config error: " << e.what() << "\n";
    return 1;
  }
  Log log(Log::detectSink(), config.logLevel);
  SystemClock clock;

  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 switch (cmd.kind) {
                   case CommandKind::RUN_DAEMON:
                     cmd.exitCode = runDaemon(cmd, config, log, clock);
                     break;
                   case CommandKind::TENANT_CREATE:
                     cmd.exitCode = runTenantCreate(config, cmd, clock, std::cout, std::cerr);
                     break;
                   case CommandKind::TENANT_LIST:
                     cmd.exitCode = runTenantList(config, std::cout);
                     break;
                   case CommandKind::TOKEN_CREATE:
                     cmd.exitCode = runTokenCreate(config, cmd, clock, std::cout, std::cerr);
                     break;
                   case CommandKind::TOKEN_REVOKE:
                     cmd.exitCode = runTokenRevoke(config, cmd, clock, std::cout, std::cerr);
                     break;
                   case CommandKind::CHECK_DB:
                     cmd.exitCode = runCheckDb(config, std::cout, std::cerr);
                     break;
                   case CommandKind::EXIT: break;
                 }
               })) {
    // Startup and maintenance faults: one line with the reason, no stack of internals.
    log.error("main", e->getDescription().cStr());
    std::cerr << "tenantd: " << e->getDescription().cStr() << "\n";
    return 1;
  }
  return cmd.exitCode;
}
