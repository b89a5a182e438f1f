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
[secrets]
key_file = "/etc/tenantd/master.key"
previous_key_files = ["/etc/tenantd/old.key"]
[http]
max_body_bytes = 2048
request_timeout_ms = 500
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
  CHECK(c.maxBodyBytes == 2048);
  CHECK(c.keyFile == "/etc/tenantd/master.key");
  CHECK(c.previousKeyFiles == std::vector<std::string>{"/etc/tenantd/old.key"});
  CHECK(c.requestTimeoutMs == 500);
}

TEST_CASE("A bad value names the file, line and key") {
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[daemon]\n\nlog_level = \"loud\"\n", "t.toml"),
                    "t.toml:3: daemon.log_level: expected one of debug, info, warn, error");
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[store]\nretention_days = 30\n", "t.toml"),
                    "t.toml:2: store.retention_days: 0 (keep forever) or 400 to 36500");
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

TEST_CASE("TOML syntax errors carry the line") {
  CHECK_THROWS_WITH(applyConfigText(Config{}, "[daemon]\nlisten = \n", "t.toml"),
                    Catch::StartsWith("t.toml:2: "));
}

TEST_CASE("A missing config file is reported by path") {
  CHECK_THROWS_WITH(applyConfigFile(Config{}, "/nonexistent/t.toml"),
                    "/nonexistent/t.toml: cannot read the config file");
}

TEST_CASE("Listen addresses parse IPv4, names and bracketed IPv6") {
  auto a = parseListenAddress("127.0.0.1:3000");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 3000);
  auto b = parseListenAddress("[::1]:0");
  REQUIRE(b);
  CHECK(b->host == "::1");
  CHECK(formatListenAddress(*b) == "[::1]:0");
  CHECK(parseListenAddress("localhost:80"));
  CHECK_FALSE(parseListenAddress("::1:80"));
  CHECK_FALSE(parseListenAddress("host:"));
  CHECK_FALSE(parseListenAddress(":80"));
  CHECK_FALSE(parseListenAddress("host:65536"));
  CHECK_FALSE(parseListenAddress("host:8o"));
  CHECK_FALSE(parseListenAddress("[::1]80"));
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
}

}  // namespace tenantd
