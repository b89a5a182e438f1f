#pragma once
// tenantd's configuration as a plain struct. Runtime code receives a Config and never sees the
// parser. Precedence: built-in defaults < config file < command-line flags.

#include "core/bounds.h"
#include "core/quotas.h"
#include "core/rules.h"
#include "util/listen-address.h"
#include "util/log.h"
#include "util/sync-level.h"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd {

// One [[rpc.app]] table: peers (by uid, or by primary or supplementary gid) that may act for
// apps, and the tenants they may act for. `tenants` absent (nullopt): any tenant; an empty list
// grants none, so an operator who empties the list to revoke access revokes it.
struct RpcAppAccess {
  std::vector<uint32_t> uids;
  std::vector<uint32_t> gids;
  std::optional<std::vector<std::string>> tenants;
  bool operator==(const RpcAppAccess&) const = default;
};

// [rpc]: who may do what over the RPC socket, beyond the built-in rules (root and the daemon's
// own uid are admin; without [[rpc.app]] tables, the socket's group is app for any tenant).
struct RpcAccess {
  std::vector<uint32_t> adminUids;
  std::vector<uint32_t> adminGids;
  std::vector<RpcAppAccess> apps;
  bool operator==(const RpcAccess&) const = default;
};

// [central]: managed mode (docs/SYNC.md). A sidecar sets `url` (a live central) or
// `snapshotUrl` (a static snapshot on any HTTP server); `tenantd central` reads the rest.
struct CentralConfig {
  std::string url;
  std::string snapshotUrl;
  std::vector<std::string> verifyKeys;  // Public key files; a body needs one good signature.
  std::string recipientKey;             // Private X25519 key file: opens secrets in the feed.
  // This host to its central: its id (empty: made on first start and kept in the store), its
  // key pair's private half (empty: <data_dir>/host.key, made on first start), its host token
  // (empty: the credential host.token when systemd passes one; none is --dev only).
  std::string hostId;
  std::string hostKey;
  std::string hostTokenFile;
  std::string caFile;
  int64_t pollIntervalMs = 5000;
  int64_t waitSeconds = 20;
  int64_t connectTimeoutMs = 3000;
  int64_t timeoutMs = 10000;
  int64_t maxBodyBytes = 64 << 20;
  int64_t maxBackoffMs = 30000;
  // The central role.
  std::string id = "central";
  std::string signingKey;          // Private Ed25519 seed file.
  std::string recipientPublicKey;  // The key secrets are sealed to (the fleet key's public half).
  bool managed() const { return !url.empty() || !snapshotUrl.empty(); }
  bool operator==(const CentralConfig&) const = default;
};

// Where the fleet's Redis listens: a Unix socket, or a host and port (no TLS in Debian 12's
// hiredis: docs/FLEET.md says how to tunnel).
struct RedisAddress {
  std::string unixPath;  // Set for "unix:/path".
  std::string host;      // Otherwise, from "redis://host:port".
  int port = 0;
  bool operator==(const RedisAddress&) const = default;
};
std::optional<RedisAddress> parseRedisAddress(std::string_view text);
// "unix:/path" or "host:port", for logs.
std::string describeRedisAddress(const RedisAddress& a);

// [fleet]: one tenant's usage counted across every host on Redis or Valkey (docs/FLEET.md).
// Off while both `redis` and `sentinels` are empty.
struct FleetConfig {
  std::string redis;  // "unix:/run/redis/redis.sock" or "redis://host:6379"
  // Instead of `redis`: Redis Sentinels ("redis://host:26379"), asked for the master named
  // `sentinelMaster` before each connect.
  std::vector<std::string> sentinels;
  std::string sentinelMaster;
  std::string passwordFile;  // Empty: the credential redis.password when systemd passes one.
  std::string hostId;        // Empty: [central] host_id, else made on first start and kept.
  std::string keyPrefix = "tenantd";
  int64_t flushIntervalMs = 50;
  FleetPolicy onUnavailable = FleetPolicy::LOCAL;
  int64_t connectTimeoutMs = 1000;
  int64_t timeoutMs = 1000;  // A reply later than this: the connection is dropped and redialled.
  int64_t maxBackoffMs = 5000;
  int64_t graceSeconds = 3600;  // A counter's key outlives its window by this.
  bool enabled() const { return !redis.empty() || !sentinels.empty(); }
  // What the fleet's Redis is, for the log: the address, or the sentinels' master name.
  std::string where() const {
    return !redis.empty() ? redis : "the master \"" + sentinelMaster + "\" of Sentinel";
  }
  bool operator==(const FleetConfig&) const = default;
};

struct Config {
  bool dev = false;
  bool centralRole = false;  // `tenantd central`: serve /v1 beside the tenant API.
  std::string dataDir = "/var/lib/tenantd";
  std::string socketPath = "/run/tenantd/tenantd.sock";
  ListenAddress listen{"127.0.0.1", 3000};
  LogLevel logLevel = LogLevel::INFO;
  SyncLevel sync = SyncLevel::NORMAL;
  int busyTimeoutMs = 5000;
  // The database's size cap ([store] max_bytes; 0: none). At the cap writes fail with 503 /
  // unavailable: as on a full disk, and the rest keeps serving.
  int64_t storeMaxBytes = 0;
  int retentionDays = 400;  // Usage detail kept; 0 keeps it forever. >= 400 covers year rules.
  uint64_t maxBodyBytes = 1 << 20;
  int requestTimeoutMs = 10000;
  // Open REST connections; at the maximum, accepting pauses until one closes, so a flood of
  // (idle) connections cannot take every descriptor or the loop from RPC.
  int maxConnections = 1024;
  // [metrics] listen: GET /metrics (and /healthz) also on a listener of their own, so a
  // Prometheus server can be let in where tenants' REST is not. Off by default.
  std::optional<ListenAddress> metricsListen;
  Quotas quotas;          // [quotas]: what one tenant may make the daemon hold.
  DocumentBounds bounds;  // [bounds]: what one tenant's documents may hold (at most the schema's).
  // Master keys for tenant secrets. A systemd credential named master.key wins over key_file.
  std::string keyFile;
  std::vector<std::string> previousKeyFiles;  // Still open older values, e.g. during rotation.
  int shutdownTimeoutMs = 4000;
  RpcAccess rpc;
  CentralConfig central;
  FleetConfig fleet;

  std::string databasePath() const { return dataDir + "/tenantd.db"; }
};

// The defaults `--dev` starts from: everything under the working directory.
Config devDefaults();

// A config file or flag that can't be used. what() names the file, line and key.
class ConfigError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Applies a TOML document on top of `base`. `sourceName` appears in errors ("tenantd.toml:7").
// Unknown keys are errors: a typo must not silently keep a default.
Config applyConfigText(Config base, std::string_view text, std::string_view sourceName);
Config applyConfigFile(Config base, const std::string& path);

}  // namespace tenantd
