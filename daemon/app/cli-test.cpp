#include "cli.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <vector>

#include "testing/temp-dir.h"

namespace tenantd {

namespace {
Command parse(std::vector<const char*> args) {
  args.insert(args.begin(), "tenantd");
  return parseCommandLine(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("No subcommand runs the daemon with the given overrides") {
  auto cmd = parse({"--dev", "--listen", "[::1]:4000", "--socket", "/tmp/x.sock"});
  CHECK(cmd.kind == CommandKind::RUN_DAEMON);
  CHECK(cmd.overrides.dev);
  REQUIRE(cmd.overrides.listen);
  CHECK(cmd.overrides.listen->host == "::1");
  CHECK(cmd.overrides.socketPath == "/tmp/x.sock");
}

TEST_CASE("The central role, its snapshot command and a sidecar's central flags") {
  auto central = parse({"central", "--dev", "--data-dir", "/c"});
  CHECK(central.kind == CommandKind::RUN_DAEMON);
  CHECK(central.overrides.centralRole);
  CHECK(central.overrides.dev);
  CHECK(buildConfig(central.overrides).centralRole);

  auto snapshot = parse({"central", "snapshot", "/srv/s.json", "--data-dir", "/c"});
  CHECK(snapshot.kind == CommandKind::CENTRAL_SNAPSHOT);
  CHECK(snapshot.outputFile == "/srv/s.json");

  auto sidecar =
      parse({"--central-url", "http://c:4000/", "--central-key", "/k1", "--central-key", "/k2"});
  CHECK_FALSE(sidecar.overrides.centralRole);
  Config config = buildConfig(sidecar.overrides);
  CHECK(config.central.url == "http://c:4000");
  CHECK(config.central.verifyKeys == std::vector<std::string>{"/k1", "/k2"});
  CHECK_THROWS_WITH(buildConfig(parse({"--central-url", "c:4000"}).overrides),
                    Catch::Contains("--central-url"));
}

TEST_CASE("Subcommands parse their arguments, with global flags before or after") {
  auto create =
      parse({"tenant", "create", "t1", "--name", "T One", "--plan", "free", "--data-dir", "/d"});
  CHECK(create.kind == CommandKind::TENANT_CREATE);
  CHECK(create.tenantId == "t1");
  CHECK(create.tenantName == "T One");
  CHECK(create.plan == "free");
  CHECK(create.overrides.dataDir == "/d");

  auto token = parse({"--data-dir", "/d", "token", "create", "--tenant", "t1", "--role", "reader",
                      "--ttl", "12h"});
  CHECK(token.kind == CommandKind::TOKEN_CREATE);
  CHECK(token.role == "reader");
  CHECK(token.ttlSeconds == 12 * 3600);

  CHECK(parse({"token", "revoke", "tok_1"}).tokenId == "tok_1");
  CHECK(parse({"check-db"}).kind == CommandKind::CHECK_DB);
  CHECK(parse({"tenant", "list"}).kind == CommandKind::TENANT_LIST);
}

TEST_CASE("Usage errors exit 2 while help and version exit 0") {
  CHECK(parse({"--no-such-flag"}).exitCode == 2);
  CHECK(parse({"--listen", "nonsense"}).exitCode == 2);
  CHECK(parse({"token", "create", "--tenant", "t", "--role", "root"}).exitCode == 2);
  CHECK(parse({"token", "create", "--tenant", "t", "--ttl", "soon"}).exitCode == 2);
  CHECK(parse({"tenant", "create", "t1"}).exitCode == 2);  // --name and --plan are required.
  auto version = parse({"--version"});
  CHECK(version.kind == CommandKind::EXIT);
  CHECK(version.exitCode == 0);
  CHECK(parse({"--help"}).exitCode == 0);
}

TEST_CASE("Durations take one unit suffix and must be positive") {
  CHECK(parseDuration("90s") == 90);
  CHECK(parseDuration("15m") == 900);
  CHECK(parseDuration("30d") == 30 * 86400);
  CHECK_FALSE(parseDuration("0h"));
  CHECK_FALSE(parseDuration("12"));
  CHECK_FALSE(parseDuration("h"));
  CHECK_FALSE(parseDuration("-5m"));
  CHECK_FALSE(parseDuration("99999999999999999d"));
}

TEST_CASE("Flags override the config file, which overrides the defaults") {
  testing::TempDir dir;
  auto path = dir.file("t.toml");
  std::ofstream(path) << "[daemon]\ndata_dir = \"/from/file\"\nsocket = \"/file.sock\"\n";
  Overrides o;
  o.configFile = path;
  o.socketPath = "/flag.sock";
  Config c = buildConfig(o);
  CHECK(c.dataDir == "/from/file");
  CHECK(c.socketPath == "/flag.sock");
  CHECK(c.listen.port == 3000);
  o.dev = true;
  o.configFile.reset();
  CHECK(buildConfig(o).dataDir == "./var");
}

}  // namespace tenantd
