#include "config.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("An empty config file keeps the defaults") {
  Config c = applyConfigText(Config{}, "", "t.toml");
  CHECK(c.dataDir == "/var/lib/tenantd");
  CHECK(c.listen.port == 3000);
  CHECK(c.sync == SyncLevel::NORMAL);
}

TEST_CASE("Every documented key is applied") {
  Config c = applyConfigText(Config{}, R"(
[daemon]
data_dir = "/srv/t"
socket = "/run/t.sock"
listen = "[::1]:8080"
log_level = "debug"
shutdown_timeout_ms = 2000
[store]
sync = "full"
busy_timeout_ms = 100
retention_days = 0
max_bytes = 67108864
[secrets]
key_file = "/etc/tenantd/master.key"
previous_key_files = ["/etc/tenantd/old.key"]
[http]
max_body_bytes = 2048
request_timeout_ms = 500
[metrics]
listen = "127.0.0.1:9464"
)",
                             "t.toml");
  CHECK(c.dataDir == "/srv/t");
  CHECK(c.socketPath == "/run/t.sock");
  CHECK(c.listen.host == "::1");
  CHECK(c.listen.port == 8080);
  CHECK(c.logLevel == LogLevel::DEBUG);
  CHECK(c.shutdownTimeoutMs == 2000);
  CHECK(c.sync == SyncLevel::FULL);
  CHECK(c.busyTimeoutMs == 100);
  CHECK(c.retentionDays == 0);
  CHECK(c.storeMaxBytes == 64 << 20);
  CHECK(c.maxBodyBytes == 2048);
  CHECK(c.keyFile == "/etc/tenantd/master.key");
  CHECK(c.previousKeyFiles == std::vector<std::string>{"/etc/tenantd/old.key"});
  CHECK(c.requestTimeoutMs == 500);
  REQUIRE(c.metricsListen);
  CHECK(formatListenAddress(*c.metricsListen) == "127.0.0.1:9464");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[metrics]\nlisten = \"nowhere\"\n", "t.toml"),
                    Catch::Contains("metrics.listen"));
}

TEST_CASE("Document bounds may be tightened, never loosened past the schema's") {
  Config c = applyConfigText(Config{}, R"(
[bounds]
json_depth = 8
rules = 16
tiers_per_rule = 2
roles = 4
permissions_per_role = 10
config_bytes = 4096
rbac_bytes = 2048
config_routes = 5
webhooks = 3
)",
                             "t.toml");
  CHECK(c.bounds == DocumentBounds{8, 16, 2, 4, 10, 4096, 2048, 5, 3});
  CHECK(Config{}.bounds.rules == contract::MAX_RULES);
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[bounds]\nrules = 257\n", "t.toml"),
                    "t.toml:2: bounds.rules: must be between 1 and 256");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[bounds]\njson_depth = 3\n", "t.toml"),
                    "t.toml:2: bounds.json_depth: must be between 4 and 32");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[bounds]\nconfig_bytes = 1048576\n", "t.toml"),
                    "t.toml:2: bounds.config_bytes: must be between 2 and 65536");
}

TEST_CASE("A bad value names the file, line and key") {
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[daemon]\n\nlog_level = \"loud\"\n", "t.toml"),
                    "t.toml:3: daemon.log_level: expected one of debug, info, warn, error");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[store]\nretention_days = 30\n", "t.toml"),
                    "t.toml:2: store.retention_days: 0 (keep forever) or 400 to 36500");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[store]\nmax_bytes = 4096\n", "t.toml"),
                    "t.toml:2: store.max_bytes: 0 (no cap) or at least 1048576");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[store]\nsync = 1\n", "t.toml"),
                    "t.toml:2: store.sync: expected a string");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[http]\nmax_body_bytes = 1\n", "t.toml"),
                    Catch::StartsWith("t.toml:2: http.max_body_bytes: must be between"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[daemon]\nlisten = \"nope\"\n", "t.toml"),
                    Catch::StartsWith("t.toml:2: daemon.listen: expected HOST:PORT"));
}

TEST_CASE("Unknown keys and sections are errors, not silently ignored") {
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[daemon]\ndata_dri = \"x\"\n", "t.toml"),
                    "t.toml:2: daemon.data_dri: unknown key");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[deamon]\n", "t.toml"),
                    "t.toml:1: [deamon]: unknown section");
}

TEST_CASE("The rpc section maps uids and gids to admin and app peers") {
  Config c = applyConfigText(Config{}, R"(
[rpc]
admin_uids = [1000]
admin_gids = [27, 4294967294]

[[rpc.app]]
uids = [1001, 1002]
tenants = ["acme", "globex"]

[[rpc.app]]
gids = [2000]
)",
                             "t.toml");
  CHECK(c.rpc.adminUids == std::vector<uint32_t>{1000});
  CHECK(c.rpc.adminGids == std::vector<uint32_t>{27, 4294967294u});
  REQUIRE(c.rpc.apps.size() == 2);
  CHECK(c.rpc.apps[0].uids == std::vector<uint32_t>{1001, 1002});
  CHECK(c.rpc.apps[0].gids.empty());
  CHECK(c.rpc.apps[0].tenants == std::vector<std::string>{"acme", "globex"});
  CHECK(c.rpc.apps[1].gids == std::vector<uint32_t>{2000});
  CHECK_FALSE(c.rpc.apps[1].tenants);  // Absent: any tenant.
  // An empty list is kept apart from an absent one: it grants no tenant.
  auto none = applyConfigText(Config{}, "[[rpc.app]]\nuids = [7]\ntenants = []\n", "t.toml");
  REQUIRE(none.rpc.apps.size() == 1);
  REQUIRE(none.rpc.apps[0].tenants);
  CHECK(none.rpc.apps[0].tenants->empty());
  CHECK(applyConfigText(Config{}, "", "t.toml").rpc == RpcAccess{});
  CHECK(applyConfigText(Config{}, "[rpc]\napp = []\n", "t.toml").rpc == RpcAccess{});
}

TEST_CASE("Errors in the rpc section name the file, line and key") {
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[rpc]\nadmin_uids = 1000\n", "t.toml"),
                    "t.toml:2: rpc.admin_uids: expected an array of numeric ids");
  CHECK_THROWS_WITH(
      applyConfigText(Config{}, "[rpc]\nadmin_gids = [\"wheel\"]\n", "t.toml"),
      Catch::StartsWith("t.toml:2: rpc.admin_gids: expected an array of numeric ids"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[rpc]\nadmin_uids = [-1]\n", "t.toml"),
                    Catch::StartsWith("t.toml:2: rpc.admin_uids: expected an array"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[rpc]\nadmin_uids = [4294967295]\n", "t.toml"),
                    Catch::StartsWith("t.toml:2: rpc.admin_uids: expected an array"));
  // A float where an integer goes is refused before toml++ would convert it (1e99 overflows).
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[rpc]\nadmin_uids = [1e99]\n", "t.toml"),
                    Catch::StartsWith("t.toml:2: rpc.admin_uids: expected an array"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[bounds]\nconfig_bytes = 3e99\n", "t.toml"),
                    Catch::StartsWith("t.toml:2: bounds.config_bytes: expected"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[rpc]\nadmins = [0]\n", "t.toml"),
                    "t.toml:2: rpc.admins: unknown key");
  CHECK_THROWS_WITH(
      applyConfigText(Config{}, "[[rpc.app]]\nuids = [1]\n\n[[rpc.app]]\nuid = [2]\n", "t.toml"),
      "t.toml:5: rpc.app[1].uid: unknown key");
  CHECK_THROWS_WITH(
      applyConfigText(Config{}, "[[rpc.app]]\nuids = [1]\ntenants = [\"no space\"]\n", "t.toml"),
      Catch::StartsWith("t.toml:3: rpc.app[0].tenants: expected an array of tenant ids"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[[rpc.app]]\ntenants = [\"acme\"]\n", "t.toml"),
                    "t.toml:1: rpc.app[0]: needs uids or gids");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[rpc]\napp = [1]\n", "t.toml"),
                    "t.toml:2: rpc.app: expected [[rpc.app]] tables");
}

TEST_CASE("TOML syntax errors carry the line") {
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[daemon]\nlisten = \n", "t.toml"),
                    Catch::StartsWith("t.toml:2: "));
}

TEST_CASE("A missing config file is reported by path") {
  CHECK_THROWS_WITH(applyConfigFile(Config{}, "/nonexistent/t.toml"),
                    "/nonexistent/t.toml: cannot read the config file");
}

TEST_CASE("devDefaults keeps everything under the working directory") {
  Config c = devDefaults();
  CHECK(c.dev);
  CHECK(c.databasePath() == "./var/tenantd.db");
  CHECK(c.socketPath == "./run/tenantd.sock");
}

}  // namespace tenantd

namespace tenantd {

TEST_CASE("The shipped example config parses and states every default") {
  Config fromExample = applyConfigFile(Config{}, TENANTD_EXAMPLE_CONFIG);
  Config defaults;
  CHECK(fromExample.dataDir == defaults.dataDir);
  CHECK(fromExample.socketPath == defaults.socketPath);
  CHECK(formatListenAddress(fromExample.listen) == formatListenAddress(defaults.listen));
  CHECK(fromExample.logLevel == defaults.logLevel);
  CHECK(fromExample.shutdownTimeoutMs == defaults.shutdownTimeoutMs);
  CHECK(fromExample.sync == defaults.sync);
  CHECK(fromExample.busyTimeoutMs == defaults.busyTimeoutMs);
  CHECK(fromExample.retentionDays == defaults.retentionDays);
  CHECK(fromExample.maxBodyBytes == defaults.maxBodyBytes);
  CHECK(fromExample.requestTimeoutMs == defaults.requestTimeoutMs);
  CHECK(fromExample.maxConnections == defaults.maxConnections);
  CHECK(fromExample.quotas == defaults.quotas);
  CHECK(fromExample.bounds == defaults.bounds);
  CHECK(fromExample.rpc == defaults.rpc);
  CHECK(fromExample.central == defaults.central);
  CHECK(fromExample.fleet == defaults.fleet);
  CHECK_FALSE(fromExample.fleet.enabled());
  CHECK_FALSE(fromExample.metricsListen);
}

TEST_CASE("[central] is read whole and its mistakes are named") {
  Config c = applyConfigText(Config{}, R"(
[central]
url = "http://127.0.0.1:4000/"
verify_keys = ["/a.pub", "/b.pub"]
recipient_key = "/fleet.key"
wait_seconds = 5
max_body_bytes = 2048
)",
                             "t.toml");
  CHECK(c.central.url == "http://127.0.0.1:4000");  // No trailing slash: paths are appended.
  CHECK(c.central.verifyKeys == std::vector<std::string>{"/a.pub", "/b.pub"});
  CHECK(c.central.waitSeconds == 5);
  CHECK(c.central.managed());
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[central]\nurl = \"ftp://x\"\n", "t.toml"),
                    Catch::Contains("central.url") && Catch::Contains("http://"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[central]\nwait_seconds = 61\n", "t.toml"),
                    Catch::Contains("between 0 and 60"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[central]\nverify_keys = [1]\n", "t.toml"),
                    Catch::Contains("verify_keys[0]"));
}

TEST_CASE("[fleet] is read whole and its mistakes are named") {
  Config c = applyConfigText(Config{}, R"(
[fleet]
redis = "redis://10.0.0.5:6379"
host_id = "edge-1"
flush_interval_ms = 20
on_unavailable = "closed"
)",
                             "t.toml");
  CHECK(c.fleet.enabled());
  CHECK(c.fleet.hostId == "edge-1");
  CHECK(c.fleet.flushIntervalMs == 20);
  CHECK(c.fleet.onUnavailable == FleetPolicy::CLOSED);
  auto tcp = parseRedisAddress(c.fleet.redis);
  REQUIRE(tcp);
  CHECK(tcp->host == "10.0.0.5");
  CHECK(tcp->port == 6379);
  auto unix = parseRedisAddress("unix:/run/redis/redis.sock");
  REQUIRE(unix);
  CHECK(unix->unixPath == "/run/redis/redis.sock");
  for (const char* bad : {"redis://host", "redis://:1", "redis://h:0", "redis://h:70000",
                          "redis://user:pw@h:1", "rediss://h:1", "unix:"}) {
    INFO(bad);
    CHECK_FALSE(parseRedisAddress(bad));
  }
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[fleet]\nredis = \"tcp://x\"\n", "t.toml"),
                    Catch::Contains("fleet.redis") && Catch::Contains("redis://host:port"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[fleet]\non_unavailable = \"maybe\"\n", "t.toml"),
                    Catch::Contains("fleet.on_unavailable"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[fleet]\nhost_id = \"_x\"\n", "t.toml"),
                    Catch::Contains("fleet.host_id"));
}

TEST_CASE("[fleet] sentinels name the master's sentinels and go with sentinel_master") {
  Config c = applyConfigText(Config{}, R"(
[fleet]
sentinels = ["redis://10.0.0.7:26379", "redis://10.0.0.8:26379"]
sentinel_master = "tenantd"
)",
                             "t.toml");
  CHECK(c.fleet.enabled());
  CHECK(c.fleet.sentinels.size() == 2);
  CHECK(c.fleet.sentinelMaster == "tenantd");
  CHECK(c.fleet.where() == "the master \"tenantd\" of Sentinel");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[fleet]\nsentinels = [\"redis://h:1\"]\n", "t.toml"),
                    Catch::Contains("sentinels and sentinel_master go together"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[fleet]\nsentinel_master = \"m\"\n", "t.toml"),
                    Catch::Contains("sentinels and sentinel_master go together"));
  CHECK_THROWS_WITH(applyConfigText(Config{},
                                    "[fleet]\nredis = \"redis://h:1\"\nsentinels = "
                                    "[\"redis://h:2\"]\nsentinel_master = \"m\"\n",
                                    "t.toml"),
                    Catch::Contains("redis or sentinels, not both"));
  CHECK_THROWS_WITH(applyConfigText(Config{},
                                    "[fleet]\nsentinels = [\"h:26379\"]\nsentinel_master = "
                                    "\"m\"\n",
                                    "t.toml"),
                    Catch::Contains("fleet.sentinels") && Catch::Contains("h:26379"));
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[fleet]\nsentinels = []\n", "t.toml"),
                    Catch::Contains("at least one sentinel"));
}

TEST_CASE("The packaged /etc/tenantd/tenantd.toml parses and changes no default") {
  const Config defaults;
  Config packaged = applyConfigFile(defaults, TENANTD_DEFAULT_CONFIG);
  CHECK(packaged.dataDir == defaults.dataDir);
  CHECK(packaged.socketPath == defaults.socketPath);
  CHECK(formatListenAddress(packaged.listen) == formatListenAddress(defaults.listen));
  CHECK(packaged.sync == defaults.sync);
  CHECK(packaged.rpc == defaults.rpc);
  CHECK(packaged.central == defaults.central);
  CHECK(packaged.keyFile.empty());
}

}  // namespace tenantd
