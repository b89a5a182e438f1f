#include "daemon.h"

#include "app/admin-commands.h"
#include "app/key-source.h"
#include "app/managed.h"
#include "app/systemd.h"
#include "config/config-diff.h"
#include "fleet/fleet-sync.h"
#include "rpc/sidecar.h"
#include "rpc/unix-listener.h"
#include "store/catalog.h"
#include "store/secret-store.h"
#include "util/version.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <kj/debug.h>

#include <cstdio>
#include <fstream>
#include <ostream>

namespace tenantd {

namespace {
constexpr const char* DEMO_TENANT_ID = "tenant-123";

// One line of text kept beside the store (dev mode's token id); nullopt if absent or empty.
std::optional<std::string> readSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) return std::nullopt;
  return line;
}
void writeSmallFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);  // 0600: main's umask.
  out << text << "\n";
  KJ_REQUIRE(out.flush().good(), "cannot write", path);
}

// The group of the file a listening Unix socket is bound to (fstat of the fd would describe the
// socket inode, not the file).
std::optional<gid_t> socketFileGroup(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sun_path[0] == 0) {
    return std::nullopt;
  }
  struct stat st;
  if (stat(addr.sun_path, &st) != 0) return std::nullopt;
  return st.st_gid;
}

// Every RPC and HTTP connection is a descriptor. systemd's unit sets LimitNOFILE=65536 (soft and
// hard); started from a shell the soft limit is often 1024, far below what the sidecar should
// hold, so take the whole hard limit. (Nothing here uses select().)
void raiseOpenFilesLimit(Log& log) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = was;
  }
  log.info("daemon", "open files limit " + std::to_string(limit.rlim_cur));
}
}  // namespace

Daemon::Daemon(Overrides overrides, Config config, Log& log, const Clock& clock,
               kj::AsyncIoContext& io, std::ostream& out)
    : overrides_(std::move(overrides)),
      config_(std::move(config)),
      log_(log),
      clock_(clock),
      io_(io),
      out_(out),
      startedAt_(clock.now()) {}

Daemon::~Daemon() noexcept(false) {
  // Normally drain() has run; this is the path for a failed start().
  sidecar_ = nullptr;
  if (central_.get() != nullptr) central_->stop();
  watchdog_ = nullptr;
  rpcAccepting_ = nullptr;
  rpcServer_ = nullptr;
  rpcListener_ = nullptr;
  for (auto* server : {&metricsHttp_, &http_}) {
    if (*server == nullptr) continue;
    auto drained = (*server)->shutdown();
    bridge_->kick();
    drained.exclusiveJoin(io_.provider->getTimer().afterDelay(1 * kj::SECONDS)).wait(io_.waitScope);
    *server = nullptr;
  }
  bridgeRunning_ = nullptr;
  bridge_ = nullptr;
  if (uvLoopInitialised_) UvBridge::closeAll(uvLoop_);
  central_ = nullptr;
  services_ = nullptr;
  writer_ = nullptr;
}

void Daemon::start() {
  log_.info("daemon", std::string("tenantd ") + TENANTD_VERSION + " starting" +
                          (config_.dev ? " in dev mode" : ""));
  raiseOpenFilesLimit(log_);
  auto activated = takeActivatedSockets();

  secureDataDir();
  std::optional<AppliedSync> applied;
  std::string hostId;
  {
    auto db = openStore(config_);  // Creates and migrates; closed once state is loaded.
    loadKeys(*db);
    if (config_.dev && !config_.central.managed()) setUpDemoTenant(*db);  // A central owns tenants.
    DbOptions writerOptions;
    writerOptions.open = DbOptions::Open::READ_WRITE;
    writerOptions.sync = config_.sync;
    writerOptions.busyTimeoutMs = config_.busyTimeoutMs;
    writerOptions.maxBytes = config_.storeMaxBytes;
    writer_ = kj::heap<Writer>(config_.databasePath(), writerOptions, log_, metrics_.store());
    services_ = kj::heap<Services>(*writer_, keyring_, clock_, log_, metrics_, config_.quotas,
                                   config_.bounds);
    services_->catalog.changedOutside().wait(io_.waitScope);  // The baseline, before the load.
    UnixMillis loadStart = clock_.now();
    size_t tenants = services_->load(*db);
    applied = SyncStore(*db).applied();
    if (config_.central.managed() || config_.fleet.enabled()) hostId = hostIdFor(config_, *db);
    log_.info("store", "loaded " + std::to_string(tenants) + " tenant(s) and " +
                           std::to_string(services_->auth.size()) + " token(s) in " +
                           std::to_string(clock_.now() - loadStart) + " ms");
  }
  rest_ = kj::heap<RestServer>(*services_, metrics_, log_);
  registerGauges();

  KJ_ASSERT(uv_loop_init(&uvLoop_) == 0);
  uvLoopInitialised_ = true;
  bridge_ = kj::heap<UvBridge>(io_.unixEventPort, io_.provider->getTimer(), uvLoop_);

  HttpOptions httpOptions{config_.maxBodyBytes, config_.requestTimeoutMs,
                          static_cast<size_t>(config_.maxConnections)};
  setUpManagedMode(applied, hostId);
  if (config_.fleet.enabled()) {
    fleet_ = kj::heap<fleet::FleetSync>(
        uvLoop_, [this]() { bridge_->kick(); }, config_.fleet, redisOptionsOf(config_), hostId,
        services_->tenants, services_->readiness, metrics_, log_, clock_);
    services_->limits.setFleet(fleet_.get());
    fleet_->start();
  }
  http_ = std::make_unique<HttpServer>(
      uvLoop_, httpOptions, [this](const HttpRequest& r) { return handleHttp(r); }, log_,
      [this]() { bridge_->kick(); });
  restAddress_ = activated.http ? http_->adopt(*activated.http) : http_->listen(config_.listen);
  std::string metricsLine;
  if (activated.metrics || config_.metricsListen) {
    // Scrapes only: small bodies, few connections.
    HttpOptions scrapeOptions{4096, config_.requestTimeoutMs, 64};
    metricsHttp_ = std::make_unique<HttpServer>(
        uvLoop_, scrapeOptions,
        [this](const HttpRequest& r) { return rest_->handleMetricsListener(r); }, log_,
        [this]() { bridge_->kick(); });
    ListenAddress at = activated.metrics ? metricsHttp_->adopt(*activated.metrics)
                                         : metricsHttp_->listen(*config_.metricsListen);
    metricsLine = "  metrics http://" + formatListenAddress(at) + "/metrics\n";
  }

  startRpc(activated.rpc);

  bridgeRunning_ = bridge_->run().eagerlyEvaluate([this](kj::Exception&& e) {
    log_.error("loop", std::string("libuv bridge failed: ") + e.getDescription().cStr());
  });

  std::string rest = "http://" + formatListenAddress(restAddress_);
  std::string managedLine = central_.get() != nullptr   ? central_->describe()
                            : sidecar_.get() != nullptr ? sidecar_->describe()
                                                        : "";
  if (fleet_.get() != nullptr) {
    managedLine += "  fleet " + config_.fleet.where() + " as host " + fleet_->hostId() + "\n";
  }
  out_ << "tenantd " << TENANTD_VERSION << " ready" << (config_.dev ? " (dev mode)" : "") << "\n"
       << "  REST  " << rest << "\n"
       << "  RPC   " << config_.socketPath << "\n"
       << "  data  " << config_.databasePath() << "\n"
       << metricsLine << managedLine << demoBanner_;
  if (config_.dev) out_ << "Try: curl -s " << rest << "/healthz\n";
  out_.flush();
  demoBanner_.clear();  // Holds a token: keep it no longer than needed.
  log_.info("daemon", "serving REST on " + rest + " and RPC on " + config_.socketPath);

  if (auto interval = watchdogPingIntervalUsec()) {
    watchdog_ = watchdogLoop(*interval).eagerlyEvaluate([this](kj::Exception&& e) {
      log_.error("watchdog",
                 std::string("self-check failed, not pinging: ") + e.getDescription().cStr());
    });
  }
  housekeeping_ = housekeepingLoop().eagerlyEvaluate([this](kj::Exception&& e) {
    log_.error("daemon", std::string("housekeeping stopped: ") + e.getDescription().cStr());
  });
  if (sidecar_.get() != nullptr) sidecar_->start();
  // Only now: every listener is bound and the store is open.
  notifySystemd("READY=1\nSTATUS=REST " + rest + " RPC " + config_.socketPath);
}

void Daemon::loadKeys(Db& db) {
  auto loaded = loadKeyring(config_, log_);
  if (auto* e = std::get_if<KeyError>(&loaded)) throw StartupError(e->message);
  keyring_ = std::move(std::get<Keyring>(loaded));
  // Refuse a key that cannot open what the store holds, rather than fail at the first read.
  for (auto& id : SecretStore(db).keyIds()) {
    if (keyring_.find(id) == nullptr) {
      std::string loadedIds;
      for (auto& k : keyring_.ids()) loadedIds += (loadedIds.empty() ? "" : ", ") + k;
      throw StartupError("wrong master key: secrets in the store were sealed with key " + id +
                         ", which is not loaded (loaded: " + loadedIds +
                         "); check [secrets] key_file and previous_key_files");
    }
  }
  // Rows sealed before the expiry was bound: re-sealed once, here, where the keys are.
  auto upgraded = SecretStore(db).upgradeSeals(keyring_);
  if (upgraded.resealed > 0) {
    log_.info("secrets", "re-sealed " + std::to_string(upgraded.resealed) +
                             " secret(s) with their expiry bound");
  }
  for (auto& p : upgraded.skipped) {
    log_.error("secrets", "tenant " + p.tenantId + ": secret " + p.name + " " + p.reason +
                              "; it will not be served");
  }
  if (!config_.dev) {
    // No core dumps and no ptrace by other processes of our uid: key pages are excluded from
    // dumps already (sodium_malloc), but plaintext passes through ordinary buffers.
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  }
}

void Daemon::secureDataDir() {
  struct stat st;
  if (stat(config_.dataDir.c_str(), &st) != 0) return;  // openStore() creates it, 0700.
  mode_t open = st.st_mode & 0077;
  if (open == 0) return;
  // The store holds token hashes and sealed secrets, and its WAL recent plaintext pages of both.
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if (st.st_uid != geteuid() || chmod(config_.dataDir.c_str(), st.st_mode & 0700) != 0) {
    throw StartupError("data directory " + config_.dataDir + " is mode " + mode +
                       " (others may read it) and cannot be tightened by this user; chmod 0700 it");
  }
  log_.warn("daemon", "data directory " + config_.dataDir + " was mode " + mode +
                          " (others could read it); tightened to owner only");
}

void Daemon::setUpDemoTenant(Db& db) {
  Catalog catalog(db);
  // The spec's example tenant, limits included, so GET /tenant/info answers as it shows.
  Tenant demo{DEMO_TENANT_ID, "Acme Corp", "pro",     "UTC",
              clock_.now(),   100'000,     1'000'000, 10'737'418'240LL};
  if (catalog.createTenant(demo) == Catalog::Created::CREATED) {
    log_.info("daemon", "dev mode: created demo tenant tenant-123");
  }
  // The store keeps only hashes, so each dev start mints a token to show. The previous one is
  // revoked (its public id is kept beside the store), so dev restarts leave one live demo token.
  std::string idFile = config_.dataDir + "/dev-token-id";
  if (auto previous = readSmallFile(idFile)) {
    if (catalog.revokeToken(*previous, clock_.now()) == Catalog::Revoked::REVOKED) {
      log_.info("daemon", "dev mode: revoked the previous demo token " + *previous);
    }
  }
  auto token = createToken(catalog, DEMO_TENANT_ID, Role::ADMIN, std::nullopt, clock_.now());
  KJ_ASSERT(token.has_value());
  const IssuedToken& issued = token->issued;
  writeSmallFile(idFile, issued.id);
  log_.info("daemon", "dev mode: issued admin token " + issued.id + " for tenant-123");
  demoBanner_ = "  demo  tenant-123 (Acme Corp, plan pro), admin token " + issued.id + ":\n" +
                "        " + issued.secret + "\n";
}

void Daemon::startRpc(std::optional<int> activatedFd) {
  int fd;
  if (activatedFd) {
    fd = *activatedFd;
  } else {
    fd = bindUnixSocket(config_.socketPath);
    ownsSocketFile_ = true;
  }
  rpcListener_ =
      io_.lowLevelProvider->wrapListenSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  RpcServerInfo info{startedAt_, formatListenAddress(restAddress_), config_.socketPath,
                     config_.databasePath()};
  // Without [[rpc.app]] tables the socket file's group may act for any tenant (the file is
  // 0660: nobody else can even connect).
  socketGroup_ = socketFileGroup(fd);
  rpcServer_ = kj::heap<RpcServer>(*services_, kj::mv(info),
                                   PeerPolicy::forDaemon(getuid(), socketGroup_, config_.rpc), log_,
                                   io_.provider->getTimer());
  rpcAccepting_ = rpcServer_->listen(*rpcListener_).eagerlyEvaluate([this](kj::Exception&& e) {
    log_.error("rpc", std::string("accept loop failed: ") + e.getDescription().cStr());
  });
}

void Daemon::setUpManagedMode(std::optional<AppliedSync> applied, std::string hostId) {
  if (config_.centralRole && config_.central.managed()) {
    throw StartupError("tenantd central follows no other central: unset [central] url");
  }
  if (config_.centralRole) {
    central_ =
        kj::heap<CentralRole>(config_, *writer_, keyring_, io_.provider->getTimer(), clock_, log_);
  } else if (config_.central.managed()) {
    sidecar_ = kj::heap<SidecarSync>(
        config_, hostId, *services_, *writer_, keyring_, applied, uvLoop_,
        [this]() { bridge_->kick(); }, io_.provider->getTimer(), metrics_, log_);
    gauges_.push_back(metrics_.gauge("tenantd_sync_applied_version",
                                     "The central's version this host applied last (-1: none)", {},
                                     [this]() {
                                       auto& a = sidecar_->applier().applied();
                                       return a ? static_cast<double>(a->version) : -1.0;
                                     }));
    gauges_.push_back(metrics_.gauge(
        "tenantd_sync_copy_age_seconds",
        "Seconds since the central last confirmed this host's copy current (-1: no copy)", {},
        [this]() { return static_cast<double>(services_->readiness.copyAgeSeconds()); }));
  }
}

HttpResult Daemon::handleHttp(const HttpRequest& request) {
  if (central_.get() != nullptr) return central_->handle(request, *rest_);
  if (sidecar_.get() != nullptr && SidecarSync::forwards(request)) {
    return sidecar_->forward(request);
  }
  return rest_->handle(request);
}

void Daemon::registerGauges() {
  const std::string open = "tenantd_open_connections";
  const std::string openHelp = "Connections open now, by listener";
  gauges_.push_back(metrics_.gauge(open, openHelp, {{"listener", "rest"}}, [this]() {
    return http_ != nullptr ? static_cast<double>(http_->openConnections()) : 0.0;
  }));
  gauges_.push_back(metrics_.gauge(open, openHelp, {{"listener", "rpc"}}, [this]() {
    return rpcServer_.get() != nullptr ? static_cast<double>(rpcServer_->connections()) : 0.0;
  }));
  gauges_.push_back(metrics_.gauge(
      "tenantd_config_watches", "Tenant.watchConfig subscriptions open now", {}, [this]() {
        return services_.get() != nullptr
                   ? static_cast<double>(services_->settings.configWatchers())
                   : 0.0;
      }));
}

kj::Promise<void> Daemon::watchdogLoop(uint64_t intervalUsec) {
  return io_.provider->getTimer()
      .afterDelay(intervalUsec * kj::MICROSECONDS)
      .then([this]() {
        // A real self-check: the writer thread answers and the store takes a transaction.
        return writer_->submit<void>([](WriterContext& ctx) { ctx.db.dataVersion(); });
      })
      .then([this, intervalUsec]() {
        notifySystemd("WATCHDOG=1");
        return watchdogLoop(intervalUsec);
      });
}

kj::Promise<void> Daemon::housekeepingLoop() {
  return io_.provider->getTimer().afterDelay(1 * kj::SECONDS).then([this]() {
    services_->limits.expire();
    if (writer_->health().failing() && !probingWrites_) {
      // Once a second while writes fail, so /readyz turns ready again when the disk has room,
      // whether or not an app writes meanwhile.
      probingWrites_ = true;
      tasks_.add(writer_
                     ->submit<void>([](WriterContext& ctx) {
                       ctx.db.exec(
                           "INSERT INTO store_probe (id, written_at) VALUES (1, unixepoch()) "
                           "ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at");
                     })
                     .catch_([](kj::Exception&&) {})  // Still failing: the writer logged it.
                     .then([this]() { probingWrites_ = false; }));
    }
    // Storage upkeep shortly after start, then hourly.
    if (housekeepingTicks_++ % 3600 == 10) {
      rest_->prune();
      services_->appRateLimits.prune();
      tasks_.add(
          services_->limits.maintainStorage(config_.retentionDays)
              .then([this](size_t removed) {
                return services_->secrets.deleteExpired().then([removed, this](size_t expired) {
                  if (expired > 0) {
                    log_.info("secrets",
                              "deleted " + std::to_string(expired) + " expired secret(s)");
                  }
                  return removed;
                });
              })
              .then(
                  [this](size_t removed) {
                    services_->readiness.upkeepSucceeded();
                    if (removed > 0) {
                      log_.info("store",
                                "compacted usage: " + std::to_string(removed) + " rows merged");
                    }
                  },
                  [this](kj::Exception&& e) {
                    services_->readiness.upkeepFailed("storage upkeep failed; usage keeps growing");
                    log_.error("store",
                               std::string("storage upkeep failed: ") + e.getDescription().cStr());
                  }));
    }
    return services_->catalog.changedOutside()
        .then([this](bool changed) -> kj::Promise<void> {
          services_->readiness.storeAnswered();
          return changed ? services_->catalog.reload() : kj::READY_NOW;
        })
        .catch_([this](kj::Exception&& e) {
          log_.warn("store", std::string("catalog refresh failed: ") + e.getDescription().cStr());
        })
        .then([this]() { return housekeepingLoop(); });
  });
}

kj::Promise<Daemon::Signal> Daemon::nextSignal() {
  auto& port = io_.unixEventPort;
  return port.onSignal(SIGTERM)
      .then([](siginfo_t) { return Signal::STOP; })
      .exclusiveJoin(port.onSignal(SIGINT).then([](siginfo_t) { return Signal::STOP; }))
      .exclusiveJoin(port.onSignal(SIGHUP).then([](siginfo_t) { return Signal::RELOAD; }));
}

void Daemon::reload() {
  notifySystemd("RELOADING=1");
  // Tenants and tokens changed offline take effect now; READY=1 below means they have.
  KJ_IF_MAYBE (e, kj::runCatchingExceptions(
                      [&]() { services_->catalog.reload().wait(io_.waitScope); })) {
    log_.error("store",
               std::string("reloading tenants and tokens failed: ") + e->getDescription().cStr());
  }
  if (!overrides_.configFile) {
    log_.info("config", "SIGHUP: no config file to reload");
  } else {
    try {
      ReloadPlan plan = planReload(config_, buildConfig(overrides_));
      if (plan.logLevel) {
        config_.logLevel = *plan.logLevel;
        log_.setMinLevel(*plan.logLevel);
        log_.info("config",
                  std::string("log_level is now ") + std::string(logLevelName(*plan.logLevel)));
      }
      if (plan.restartNeeded) {
        log_.warn("config", "data_dir, socket, listen and sync take effect at restart");
      }
      if (plan.rpc) {
        // New connections and open ones alike: a peer whose grant shrank loses what it held.
        config_.rpc = *plan.rpc;
        size_t open =
            rpcServer_->setPolicy(PeerPolicy::forDaemon(getuid(), socketGroup_, config_.rpc));
        log_.info("config", "[rpc] access re-decided for new RPC connections and " +
                                std::to_string(open) + " open ones");
      }
      log_.info("config", "reloaded " + *overrides_.configFile);
    } catch (const ConfigError& e) {
      log_.error("config", std::string("reload failed, keeping the running config: ") + e.what());
    }
  }
  notifySystemd("READY=1");
}

int Daemon::serveUntilStopped() {
  for (;;) {
    Signal s = nextSignal().wait(io_.waitScope);
    if (s == Signal::STOP) break;
    reload();
  }
  drain();
  return 0;
}

void Daemon::drain() {
  notifySystemd("STOPPING=1");
  log_.info("daemon", "stopping: draining connections and committing pending writes");
  auto& timer = io_.provider->getTimer();
  auto deadline = config_.shutdownTimeoutMs * kj::MILLISECONDS;

  watchdog_ = nullptr;
  housekeeping_ = nullptr;
  // Stop accepting on both listeners.
  rpcAccepting_ = nullptr;
  rpcListener_ = nullptr;
  if (ownsSocketFile_) unlink(config_.socketPath.c_str());
  sidecar_ = nullptr;  // Aborts a request to the central in flight; what it applied is committed.
  if (central_.get() != nullptr) central_->stop();  // Long polls answer now, not at their wait.
  auto httpDrained = http_->shutdown();
  if (metricsHttp_ != nullptr) {
    auto both = kj::heapArrayBuilder<kj::Promise<void>>(2);
    both.add(kj::mv(httpDrained));
    both.add(metricsHttp_->shutdown());
    httpDrained = kj::joinPromises(both.finish());
  }
  bridge_->kick();
  bool drained = httpDrained.then([]() { return true; })
                     .exclusiveJoin(timer.afterDelay(deadline).then([]() { return false; }))
                     .wait(io_.waitScope);
  if (!drained) {
    log_.warn("http", std::to_string(http_->openConnections()) +
                          " connection(s) still open at the shutdown deadline");
  }
  // Closes every RPC connection. A call still waiting for the store is dropped unanswered; a
  // write it submitted still commits below (the writer drains), and the client sees the
  // disconnect, as for a crash between commit and answer.
  rpcServer_ = nullptr;
  // Every write already accepted reaches the writer and settles before the writer goes.
  services_->batcher.idle().exclusiveJoin(timer.afterDelay(deadline)).wait(io_.waitScope);
  if (fleet_.get() != nullptr) {
    // The last counts go to the fleet now rather than at the next host's resend.
    fleet_->flushNow()
        .exclusiveJoin(timer.afterDelay(config_.fleet.timeoutMs * kj::MILLISECONDS))
        .wait(io_.waitScope);
    services_->limits.setFleet(nullptr);
    fleet_ = nullptr;
  }
  central_ = nullptr;
  services_ = nullptr;
  writer_ = nullptr;  // Commits every job already submitted, then closes the store.
  if (drained) {
    http_ = nullptr;
    metricsHttp_ = nullptr;
  } else {
    // h2o cannot dispose a context with live connections; the process is exiting anyway.
    (void)http_.release();
    (void)metricsHttp_.release();
  }
  bridgeRunning_ = nullptr;
  bridge_ = nullptr;
  if (drained) {
    int rc = UvBridge::closeAll(uvLoop_);
    if (rc != 0) log_.warn("loop", std::string("libuv loop not empty at exit: ") + uv_err_name(rc));
  }
  uvLoopInitialised_ = false;
  log_.info("daemon", "stopped");
}

}  // namespace tenantd
