#include "config.h"

#include "core/tenant.h"

#include <toml++/toml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace tenantd {

Config devDefaults() {
  Config c;
  c.dev = true;
  c.dataDir = "./var";
  c.socketPath = "./run/tenantd.sock";
  return c;
}

namespace {

std::string where(std::string_view source, const toml::node& node, std::string_view key) {
  std::ostringstream out;
  out << source << ":" << node.source().begin.line << ": " << key;
  return out.str();
}

// One entry per accepted key: how to apply it. Every key here is documented in
// systemd/tenantd.toml.example.
using Setter = std::function<void(Config&, const toml::node&, const std::string& where)>;

template <typename T>
T require(const toml::node& node, const std::string& at, const char* expected) {
  // An integer setting takes only a TOML integer. Asked for one, toml++ converts a float
  // unchecked (1e99 is undefined behaviour: the config-file fuzzer), so it is never asked.
  if (std::is_same_v<T, int64_t> && !node.is_integer()) {
    throw ConfigError(at + ": expected " + expected);
  }
  auto value = node.value<T>();
  if (!value) throw ConfigError(at + ": expected " + expected);
  return *value;
}

// For keys nested below a section ([[rpc.app]] tables): the node knows its own file.
std::string whereOf(const toml::node& node, std::string_view key) {
  const auto& path = node.source().path;
  return where(path ? std::string_view(*path) : std::string_view(), node, key);
}

// uid_t and gid_t are 32-bit; (uint32_t)-1 means "no id" to the kernel, so it is refused.
std::vector<uint32_t> requireIds(const toml::node& node, const std::string& at) {
  auto* list = node.as_array();
  if (list == nullptr) throw ConfigError(at + ": expected an array of numeric ids");
  std::vector<uint32_t> ids;
  for (auto& item : *list) {
    auto v = item.is_integer() ? item.value<int64_t>() : std::nullopt;  // As in require().
    if (!v || *v < 0 || *v > 4294967294LL) {
      throw ConfigError(at + ": expected an array of numeric ids (0 to 4294967294)");
    }
    ids.push_back(static_cast<uint32_t>(*v));
  }
  return ids;
}

std::vector<std::string> requireTenantIds(const toml::node& node, const std::string& at) {
  auto* list = node.as_array();
  if (list == nullptr) throw ConfigError(at + ": expected an array of tenant ids");
  std::vector<std::string> ids;
  for (auto& item : *list) {
    auto v = item.value<std::string>();
    if (!item.is_string() || !v || !isValidTenantId(*v)) {
      throw ConfigError(at + ": expected an array of tenant ids (letters, digits, '_', '.', '-')");
    }
    ids.push_back(*v);
  }
  return ids;
}

// [[rpc.app]]: each table names peers by uids and/or gids, and optionally the tenants they may
// act for.
std::vector<RpcAppAccess> requireAppTables(const toml::node& node, const std::string& at) {
  auto* list = node.as_array();
  std::vector<RpcAppAccess> apps;
  if (list != nullptr && list->empty()) return apps;  // app = []: none, as if absent.
  if (list == nullptr || !list->is_array_of_tables()) {
    throw ConfigError(at + ": expected [[rpc.app]] tables");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table& table = *list->get(i)->as_table();
    std::string name = "rpc.app[" + std::to_string(i) + "]";
    RpcAppAccess app;
    for (auto&& [key, value] : table) {
      std::string k(key.str());
      std::string here = whereOf(value, name + "." + k);
      if (k == "uids") {
        app.uids = requireIds(value, here);
      } else if (k == "gids") {
        app.gids = requireIds(value, here);
      } else if (k == "tenants") {
        app.tenants = requireTenantIds(value, here);
      } else {
        throw ConfigError(here + ": unknown key");
      }
    }
    if (app.uids.empty() && app.gids.empty()) {
      throw ConfigError(whereOf(table, name) + ": needs uids or gids");
    }
    apps.push_back(std::move(app));
  }
  return apps;
}

std::string requireUrl(const toml::node& node, const std::string& at) {
  std::string url = require<std::string>(node, at, "a string");
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    throw ConfigError(at + ": expected an http:// or https:// URL");
  }
  while (url.ends_with("/")) url.pop_back();
  return url;
}

std::vector<std::string> requireStrings(const toml::node& node, const std::string& at) {
  const toml::array* list = node.as_array();
  if (list == nullptr) throw ConfigError(at + ": expected an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < list->size(); ++i) {
    auto v = list->get(i)->value<std::string>();
    if (!v) throw ConfigError(at + "[" + std::to_string(i) + "]: expected a string");
    out.push_back(*v);
  }
  return out;
}

int64_t requireRange(const toml::node& node, const std::string& at, int64_t lo, int64_t hi) {
  int64_t v = require<int64_t>(node, at, "an integer");
  if (v < lo || v > hi) {
    throw ConfigError(at + ": must be between " + std::to_string(lo) + " and " +
                      std::to_string(hi));
  }
  return v;
}

const std::map<std::string, std::map<std::string, Setter>>& schema() {
  static const std::map<std::string, std::map<std::string, Setter>> table = {
      {"daemon",
       {
           {"data_dir",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.dataDir = require<std::string>(n, at, "a string");
              if (c.dataDir.empty()) throw ConfigError(at + ": must not be empty");
            }},
           {"socket",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.socketPath = require<std::string>(n, at, "a string");
              if (c.socketPath.empty() || c.socketPath.size() > 100) {
                throw ConfigError(at + ": must be a path of 1 to 100 bytes");
              }
            }},
           {"listen",
            [](Config& c, const toml::node& n, const std::string& at) {
              auto parsed = parseListenAddress(require<std::string>(n, at, "a string"));
              if (!parsed) throw ConfigError(at + ": expected HOST:PORT, e.g. 127.0.0.1:3000");
              c.listen = *parsed;
            }},
           {"log_level",
            [](Config& c, const toml::node& n, const std::string& at) {
              if (!parseLogLevel(require<std::string>(n, at, "a string"), c.logLevel)) {
                throw ConfigError(at + ": expected one of debug, info, warn, error");
              }
            }},
           {"shutdown_timeout_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.shutdownTimeoutMs = static_cast<int>(requireRange(n, at, 0, 60000));
            }},
       }},
      {"store",
       {
           {"sync",
            [](Config& c, const toml::node& n, const std::string& at) {
              auto v = require<std::string>(n, at, "a string");
              if (v == "normal")
                c.sync = SyncLevel::NORMAL;
              else if (v == "full")
                c.sync = SyncLevel::FULL;
              else
                throw ConfigError(at + ": expected \"normal\" or \"full\"");
            }},
           {"busy_timeout_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.busyTimeoutMs = static_cast<int>(requireRange(n, at, 0, 600000));
            }},
           {"max_bytes",
            [](Config& c, const toml::node& n, const std::string& at) {
              int64_t bytes = requireRange(n, at, 0, int64_t{1} << 44);
              if (bytes != 0 && bytes < (int64_t{1} << 20)) {
                throw ConfigError(at + ": 0 (no cap) or at least 1048576");
              }
              c.storeMaxBytes = bytes;
            }},
           {"retention_days",
            [](Config& c, const toml::node& n, const std::string& at) {
              int64_t days = require<int64_t>(n, at, "an integer");
              // A year rule looks back up to 366 days: shorter retention would shrink it.
              if (days != 0 && (days < 400 || days > 36500)) {
                throw ConfigError(at + ": 0 (keep forever) or 400 to 36500");
              }
              c.retentionDays = static_cast<int>(days);
            }},
       }},
      {"secrets",
       {
           {"key_file",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.keyFile = require<std::string>(n, at, "a string");
            }},
           {"previous_key_files",
            [](Config& c, const toml::node& n, const std::string& at) {
              auto* list = n.as_array();
              if (list == nullptr) throw ConfigError(at + ": expected an array of paths");
              c.previousKeyFiles.clear();
              for (auto& item : *list) {
                auto path = item.value<std::string>();
                if (!path) throw ConfigError(at + ": expected an array of paths");
                c.previousKeyFiles.push_back(*path);
              }
            }},
       }},
      {"rpc",
       {
           {"admin_uids",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.rpc.adminUids = requireIds(n, at);
            }},
           {"admin_gids",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.rpc.adminGids = requireIds(n, at);
            }},
           {"app",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.rpc.apps = requireAppTables(n, at);
            }},
       }},
      {"http",
       {
           {"max_body_bytes",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.maxBodyBytes = static_cast<uint64_t>(requireRange(n, at, 1024, 64 << 20));
            }},
           {"request_timeout_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.requestTimeoutMs = static_cast<int>(requireRange(n, at, 100, 600000));
            }},
           {"max_connections",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.maxConnections = static_cast<int>(requireRange(n, at, 1, 100000));
            }},
       }},
      {"central",
       {
           {"url",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.url = requireUrl(n, at);
            }},
           {"snapshot_url",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.snapshotUrl = requireUrl(n, at);
            }},
           {"verify_keys",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.verifyKeys = requireStrings(n, at);
            }},
           {"recipient_key",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.recipientKey = require<std::string>(n, at, "a string");
            }},
           {"ca_file",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.caFile = require<std::string>(n, at, "a string");
            }},
           {"host_id",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.hostId = require<std::string>(n, at, "a string");
              if (!isValidTenantId(c.central.hostId)) {
                throw ConfigError(at + ": 1-64 letters, digits, '_', '.', '-'");
              }
            }},
           {"host_key",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.hostKey = require<std::string>(n, at, "a string");
            }},
           {"host_token_file",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.hostTokenFile = require<std::string>(n, at, "a string");
            }},
           {"poll_interval_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.pollIntervalMs = requireRange(n, at, 10, 3'600'000);
            }},
           {"wait_seconds",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.waitSeconds = requireRange(n, at, 0, 60);
            }},
           {"connect_timeout_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.connectTimeoutMs = requireRange(n, at, 10, 600'000);
            }},
           {"timeout_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.timeoutMs = requireRange(n, at, 10, 600'000);
            }},
           {"max_body_bytes",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.maxBodyBytes = requireRange(n, at, 1024, int64_t{1} << 32);
            }},
           {"max_backoff_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.maxBackoffMs = requireRange(n, at, 10, 3'600'000);
            }},
           {"id",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.id = require<std::string>(n, at, "a string");
              if (c.central.id.empty() || c.central.id.size() > 128) {
                throw ConfigError(at + ": must be 1 to 128 bytes");
              }
            }},
           {"signing_key",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.signingKey = require<std::string>(n, at, "a string");
            }},
           {"recipient_public_key",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.central.recipientPublicKey = require<std::string>(n, at, "a string");
            }},
       }},
      {"fleet",
       {
           {"redis",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.redis = require<std::string>(n, at, "a string");
              if (!parseRedisAddress(c.fleet.redis)) {
                throw ConfigError(at + ": expected unix:/path/to/redis.sock or redis://host:port");
              }
            }},
           {"sentinels",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.sentinels = requireStrings(n, at);
              if (c.fleet.sentinels.empty()) throw ConfigError(at + ": at least one sentinel");
              for (auto& s : c.fleet.sentinels) {
                if (!parseRedisAddress(s)) {
                  throw ConfigError(at + ": expected unix:/path or redis://host:port, got \"" + s +
                                    "\"");
                }
              }
            }},
           {"sentinel_master",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.sentinelMaster = require<std::string>(n, at, "a string");
              if (!isValidTenantId(c.fleet.sentinelMaster)) {
                throw ConfigError(at + ": 1-64 letters, digits, '_', '.', '-'");
              }
            }},
           {"password_file",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.passwordFile = require<std::string>(n, at, "a string");
            }},
           {"host_id",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.hostId = require<std::string>(n, at, "a string");
              if (!isValidTenantId(c.fleet.hostId)) {
                throw ConfigError(at + ": 1-64 letters, digits, '_', '.', '-'");
              }
            }},
           {"key_prefix",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.keyPrefix = require<std::string>(n, at, "a string");
              if (!isValidTenantId(c.fleet.keyPrefix)) {
                throw ConfigError(at + ": 1-64 letters, digits, '_', '.', '-'");
              }
            }},
           {"flush_interval_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.flushIntervalMs = requireRange(n, at, 1, 60'000);
            }},
           {"on_unavailable",
            [](Config& c, const toml::node& n, const std::string& at) {
              auto text = require<std::string>(n, at, "a string");
              if (text == "local") {
                c.fleet.onUnavailable = FleetPolicy::LOCAL;
              } else if (text == "open") {
                c.fleet.onUnavailable = FleetPolicy::OPEN;
              } else if (text == "closed") {
                c.fleet.onUnavailable = FleetPolicy::CLOSED;
              } else {
                throw ConfigError(at + ": one of \"local\", \"open\", \"closed\"");
              }
            }},
           {"connect_timeout_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.connectTimeoutMs = requireRange(n, at, 10, 600'000);
            }},
           {"timeout_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.timeoutMs = requireRange(n, at, 10, 600'000);
            }},
           {"max_backoff_ms",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.maxBackoffMs = requireRange(n, at, 10, 3'600'000);
            }},
           {"grace_seconds",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.fleet.graceSeconds = requireRange(n, at, 0, 86'400 * 366);
            }},
       }},
      {"metrics",
       {
           {"listen",
            [](Config& c, const toml::node& n, const std::string& at) {
              auto parsed = parseListenAddress(require<std::string>(n, at, "a string"));
              if (!parsed) throw ConfigError(at + ": expected HOST:PORT, e.g. 127.0.0.1:9464");
              c.metricsListen = *parsed;
            }},
       }},
      {"bounds",
       {
           // Each from 1 to the schema's constant, its default: a host may only tighten them.
           {"json_depth",
            [](Config& c, const toml::node& n, const std::string& at) {
              // Our own documents nest 4 deep (config.rateLimit.routes[...]).
              c.bounds.jsonDepth =
                  static_cast<int>(requireRange(n, at, 4, contract::MAX_JSON_DEPTH));
            }},
           {"rules",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.rules = static_cast<size_t>(requireRange(n, at, 1, contract::MAX_RULES));
            }},
           {"tiers_per_rule",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.tiersPerRule =
                  static_cast<size_t>(requireRange(n, at, 1, contract::MAX_TIERS_PER_RULE));
            }},
           {"roles",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.roles = static_cast<size_t>(requireRange(n, at, 1, contract::MAX_ROLES));
            }},
           {"permissions_per_role",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.permissionsPerRole =
                  static_cast<size_t>(requireRange(n, at, 1, contract::MAX_PERMISSIONS_PER_ROLE));
            }},
           {"config_bytes",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.configBytes =
                  static_cast<size_t>(requireRange(n, at, 2, contract::MAX_CONFIG_BYTES));
            }},
           {"rbac_bytes",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.rbacBytes =
                  static_cast<size_t>(requireRange(n, at, 2, contract::MAX_RBAC_BYTES));
            }},
           {"config_routes",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.configRoutes =
                  static_cast<size_t>(requireRange(n, at, 1, contract::MAX_CONFIG_ROUTES));
            }},
           {"webhooks",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.bounds.webhooks =
                  static_cast<size_t>(requireRange(n, at, 1, contract::MAX_WEBHOOKS));
            }},
       }},
      {"quotas",
       {
           {"track_ids",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.quotas.trackIds = static_cast<size_t>(requireRange(n, at, 1, 100'000'000));
            }},
           {"user_counters",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.quotas.userCounters = static_cast<size_t>(requireRange(n, at, 1, 100'000'000));
            }},
           {"reservations",
            [](Config& c, const toml::node& n, const std::string& at) {
              c.quotas.reservations = static_cast<size_t>(requireRange(n, at, 1, 100'000'000));
            }},
       }},
  };
  return table;
}

}  // namespace

Config applyConfigText(Config base, std::string_view text, std::string_view sourceName) {
  toml::table doc;
  try {
    doc = toml::parse(text, sourceName);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << sourceName << ":" << e.source().begin.line << ": " << e.description();
    throw ConfigError(out.str());
  }
  for (auto&& [sectionKey, sectionNode] : doc) {
    std::string section(sectionKey.str());
    auto known = schema().find(section);
    if (known == schema().end()) {
      throw ConfigError(where(sourceName, sectionNode, "[" + section + "]") + ": unknown section");
    }
    auto* table = sectionNode.as_table();
    if (table == nullptr) {
      throw ConfigError(where(sourceName, sectionNode, section) + ": expected a [section]");
    }
    for (auto&& [key, node] : *table) {
      std::string name = section + "." + std::string(key.str());
      auto setter = known->second.find(std::string(key.str()));
      if (setter == known->second.end()) {
        throw ConfigError(where(sourceName, node, name) + ": unknown key");
      }
      setter->second(base, node, where(sourceName, node, name));
    }
  }
  const FleetConfig& f = base.fleet;
  if (!f.redis.empty() && !f.sentinels.empty()) {
    throw ConfigError(std::string(sourceName) + ": [fleet] takes redis or sentinels, not both");
  }
  if (f.sentinels.empty() != f.sentinelMaster.empty()) {
    throw ConfigError(std::string(sourceName) +
                      ": [fleet] sentinels and sentinel_master go together");
  }
  return base;
}

Config applyConfigFile(Config base, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the config file");
  std::ostringstream text;
  text << in.rdbuf();
  return applyConfigText(std::move(base), text.str(), path);
}

std::string describeRedisAddress(const RedisAddress& a) {
  return !a.unixPath.empty() ? "unix:" + a.unixPath : a.host + ":" + std::to_string(a.port);
}

std::optional<RedisAddress> parseRedisAddress(std::string_view text) {
  RedisAddress out;
  if (text.starts_with("unix:/")) {
    out.unixPath = std::string(text.substr(5));
    return out;
  }
  if (!text.starts_with("redis://")) return std::nullopt;
  std::string_view rest = text.substr(8);
  size_t colon = rest.rfind(':');
  if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
  std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || host.find_first_of("/@") != std::string_view::npos) {
    return std::nullopt;
  }
  int value = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return std::nullopt;
    value = value * 10 + (ch - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  out.host = std::string(host);
  out.port = value;
  return out;
}

}  // namespace tenantd
