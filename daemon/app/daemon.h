#pragma once
// Wires the daemon together and runs its lifecycle: store, writer, the kj loop with libuv inside,
// the REST listener, the RPC socket, systemd notifications, signals, drain. main() builds the
// Config and hands it here; this class owns every long-lived piece and tears them down in order.

#include "app/cli.h"
#include "config/config.h"
#include "http/server.h"
#include "loop/uv-bridge.h"
#include "rest/rest-server.h"
#include "rpc/rpc-server.h"
#include "secrets/keyring.h"
#include "service/services.h"
#include "store/writer.h"
#include "util/clock.h"

#include <stdexcept>
#include "util/log.h"
#include "util/metrics.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <iosfwd>
#include <memory>

namespace tenantd {

class CentralRole;
class SidecarSync;
namespace fleet {
class FleetSync;
}

// A reason the daemon cannot start that the operator fixes (a key, a directory's mode): main
// prints its text alone, on one line, with no internals around it.
struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Daemon {
public:
  // `io` must be the thread's kj event loop; SIGTERM, SIGINT and SIGHUP must already be captured
  // (kj::UnixEventPort::captureSignal, before any thread starts).
  Daemon(Overrides overrides, Config config, Log& log, const Clock& clock, kj::AsyncIoContext& io,
         std::ostream& out);
  ~Daemon() noexcept(false);
  KJ_DISALLOW_COPY(Daemon);

  // Opens the store, binds both listeners, prints where they are, tells systemd READY=1.
  // Throws with a clear reason if any of it fails.
  void start();

  // Serves until SIGTERM or SIGINT (reloading the config on SIGHUP), then drains: stops
  // accepting, lets in-flight requests finish, commits pending writes, closes the store.
  // Returns the exit code.
  int serveUntilStopped();

private:
  enum class Signal { STOP, RELOAD };
  kj::Promise<Signal> nextSignal();
  void reload();
  // A data directory that others may read is tightened to 0700 (with a warning) or refused.
  void secureDataDir();
  void setUpDemoTenant(Db& db);
  void loadKeys(Db& db);
  void startRpc(std::optional<int> activatedFd);
  // [central]: the central role's /v1 endpoints, or a sidecar's sync (app/managed.h).
  void setUpManagedMode(std::optional<AppliedSync> applied, std::string hostId);
  HttpResult handleHttp(const HttpRequest& request);
  // tenantd_open_connections{listener} and tenantd_config_watches, read at each scrape.
  void registerGauges();
  kj::Promise<void> watchdogLoop(uint64_t intervalUsec);
  // Every second: expire reservations and track ids; pick up tenants and tokens that the
  // offline CLI changed in the store.
  kj::Promise<void> housekeepingLoop();
  class TaskErrors final : public kj::TaskSet::ErrorHandler {
  public:
    explicit TaskErrors(Log& log) : log_(log) {}
    void taskFailed(kj::Exception&& e) override {
      log_.error("daemon", std::string("background task failed: ") + e.getDescription().cStr());
    }

  private:
    Log& log_;
  };
  void drain();

  Overrides overrides_;
  Config config_;
  Log& log_;
  const Clock& clock_;
  kj::AsyncIoContext& io_;
  std::ostream& out_;
  UnixMillis startedAt_;
  std::string demoBanner_;  // --dev only: printed once with the addresses.

  Metrics metrics_;
  // Gauges read at each scrape; they check what they read is still there.
  std::vector<std::unique_ptr<Metrics::Gauge>> gauges_;
  Keyring keyring_;  // Read-only once loaded; the writer thread seals and opens with it.
  kj::Own<Writer> writer_;
  kj::Own<Services> services_;  // After the writer they use; destroyed before it.
  kj::Own<RestServer> rest_;
  kj::Own<CentralRole> central_;     // `tenantd central`
  kj::Own<SidecarSync> sidecar_;     // [central] url or snapshot_url
  kj::Own<fleet::FleetSync> fleet_;  // [fleet] redis
  uint64_t housekeepingTicks_ = 0;
  bool probingWrites_ = false;  // A store_probe write is in flight (writes are failing).
  kj::Promise<void> housekeeping_ = nullptr;
  TaskErrors taskErrors_{log_};
  kj::TaskSet tasks_{taskErrors_};
  uv_loop_t uvLoop_;
  bool uvLoopInitialised_ = false;
  kj::Own<UvBridge> bridge_;
  kj::Promise<void> bridgeRunning_ = nullptr;
  std::unique_ptr<HttpServer> http_;  // unique_ptr: see drain() for why it may be released.
  ListenAddress restAddress_;
  std::unique_ptr<HttpServer> metricsHttp_;  // [metrics] listen, when set (or activated).
  kj::Own<kj::ConnectionReceiver> rpcListener_;
  kj::Own<RpcServer> rpcServer_;
  kj::Promise<void> rpcAccepting_ = nullptr;
  bool ownsSocketFile_ = false;
  std::optional<gid_t> socketGroup_;
  kj::Promise<void> watchdog_ = nullptr;
};

}  // namespace tenantd
