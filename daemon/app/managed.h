#pragma once
// Managed mode's parts in the daemon (docs/SYNC.md), built from [central] by Daemon::start():
// - CentralRole (`tenantd central`): the signing key, the long-polled feed and the /v1
//   endpoints beside the tenant REST API.
// - SidecarSync (`[central] url` or `snapshot_url`): the HTTP client on the uv loop, the applier
//   and the sync loop, with readiness told what the copy is worth.
// Key files are read here; a key that is missing or unreadable is a StartupError.

#include "central/central-api.h"
#include "central/feed.h"
#include "config/config.h"
#include "fleet/redis-connection.h"
#include "rest/rest-server.h"
#include "service/services.h"
#include "sync/applier.h"
#include "sync/sync-client.h"

#include <kj/async.h>
#include <kj/timer.h>
#include <uv.h>

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tenantd {

// The snapshot source for a central's data dir and config (also `tenantd central snapshot`).
// Reads or, with --dev, generates the keys it names.
struct CentralKeys {
  std::shared_ptr<const sync::SigningKey> signer;
  std::optional<sync::PublicKey> recipient;
  std::string pubFile;  // Where the public half of the signing key was written (dev), or "".
};
CentralKeys loadCentralKeys(const Config& config, Log& log);

class CentralRole {
public:
  // --dev without [central] signing_key: <data_dir>/central.key is generated once and its public
  // half written to <data_dir>/central.pub for sidecars' verify_keys; likewise the fleet key
  // (<data_dir>/fleet.key, the private half sidecars use as recipient_key) when no
  // recipient_public_key is set.
  CentralRole(const Config& config, Writer& writer, const Keyring& keyring, kj::Timer& timer,
              const Clock& clock, Log& log);
  KJ_DISALLOW_COPY(CentralRole);

  // /v1 to the feed, everything else to the tenant API; a write the tenant API accepted answers
  // with `Tenantd-Version: <n>`, the version that includes it, so a sidecar that forwarded it
  // can wait until it has applied that much.
  HttpResult handle(const HttpRequest& request, RestServer& rest);
  void stop() { feed_.stop(); }
  const std::string& signingKeyId() const { return signer_->verifyKey().id; }
  // One line for the start banner.
  std::string describe() const;

private:
  CentralRole(CentralKeys keys, const Config& config, Writer& writer, const Keyring& keyring,
              kj::Timer& timer, const Clock& clock, Log& log);

  std::shared_ptr<const sync::SigningKey> signer_;
  std::optional<sync::PublicKey> recipient_;
  std::string pubFile_;
  central::Feed feed_;
  central::CentralApi api_;
};

// `tenantd central snapshot FILE`: the full signed snapshot of the store, written whole (a
// temporary file renamed over FILE, so a server never serves half of one).
int runCentralSnapshot(const Config& config, const std::string& file, Log& log, std::ostream& out,
                       std::ostream& err);

// This host's id: [central] host_id, else the one kept in the store, else a new one (kept).
std::string hostIdFor(const Config& config, Db& db);

// [fleet]'s connection settings, the password read from password_file or the systemd
// credential redis.password (docs/FLEET.md).
fleet::RedisOptions redisOptionsOf(const Config& config);

// `tenantd host-token create --host ID` at the central: the host row and its token, printed once.
int runHostTokenCreate(const Config& config, const std::string& hostId, std::ostream& out,
                       std::ostream& err);

class SidecarSync {
public:
  // `hostId`: this host's stable id (hostIdFor()).
  SidecarSync(const Config& config, std::string hostId, Services& services, Writer& writer,
              const Keyring& keyring, std::optional<AppliedSync> applied, uv_loop_t& loop,
              kj::Function<void()> wake, kj::Timer& timer, Metrics& metrics, Log& log);
  KJ_DISALLOW_COPY(SidecarSync);

  void start() { client_.start(); }
  // Whether `request` writes a document the central owns (config, roles, rules, secrets): it
  // goes to the central, never to the local copy.
  static bool forwards(const HttpRequest& request);
  // Sends it to the central unchanged (path, body, Authorization, If-Match) and answers what the
  // central answered, once this host has applied the version that includes it (at most
  // FORWARD_SYNC_MS). The central unreachable: 503, nothing changed.
  kj::Promise<HttpResponse> forward(const HttpRequest& request);
  static constexpr int64_t FORWARD_SYNC_MS = 2000;
  const sync::Applier& applier() const { return applier_; }
  std::string describe() const;

private:
  sync::Applier::Recipients recipients_;  // This host's key, then the fleet key if any.
  std::string source_;
  std::string centralUrl_;  // Empty for a snapshot: writes cannot be forwarded.
  sync::FeedOptions forwardLimits_;
  kj::Timer& timer_;
  Log& log_;
  sync::HttpFetcher fetcher_;
  sync::Applier applier_;
  sync::SyncClient client_;
};

}  // namespace tenantd
