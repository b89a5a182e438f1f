// End to end: the tenantd binary's command line and offline maintenance commands.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "support/process.h"
#include "testing/temp-dir.h"

namespace tenantd::testing {

namespace {
std::string lastLine(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}
int lineCount(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}
}  // namespace

TEST_CASE("tenantd --version and --help exit 0") {
  TempDir dir;
  auto version = run(TENANTD_BIN, {"--version"}, dir.path());
  CHECK(version.exitCode == 0);
  CHECK(version.out.rfind("tenantd ", 0) == 0);
  auto help = run(TENANTD_BIN, {"--help"}, dir.path());
  CHECK(help.exitCode == 0);
  CHECK(help.out.find("--data-dir") != std::string::npos);
  CHECK(help.out.find("check-db") != std::string::npos);
}

TEST_CASE("Unknown flags and bad values exit 2 with one line naming the flag") {
  TempDir dir;
  auto unknown = run(TENANTD_BIN, {"--frobnicate"}, dir.path());
  CHECK(unknown.exitCode == 2);
  CHECK(lineCount(unknown.err) == 1);
  CHECK(unknown.err.find("--frobnicate") != std::string::npos);
  auto bad = run(TENANTD_BIN, {"--listen", "everywhere"}, dir.path());
  CHECK(bad.exitCode == 2);
  CHECK(lineCount(bad.err) == 1);
  CHECK(bad.err.find("--listen") != std::string::npos);
}

TEST_CASE("Tenants and tokens are managed offline and token create prints the token last") {
  TempDir dir;
  auto data = dir.file("var");
  auto create =
      run(TENANTD_BIN,
          {"tenant", "create", "t-1", "--name", "Tee One", "--plan", "free", "--data-dir", data},
          dir.path());
  CHECK(create.exitCode == 0);
  auto again = run(TENANTD_BIN,
                   {"tenant", "create", "t-1", "--name", "X", "--plan", "free", "--data-dir", data},
                   dir.path());
  CHECK(again.exitCode == 1);
  CHECK(again.err.find("already exists") != std::string::npos);

  auto list = run(TENANTD_BIN, {"tenant", "list", "--data-dir", data}, dir.path());
  CHECK(list.exitCode == 0);
  CHECK(list.out.find("t-1\tfree\t") == 0);
  CHECK(list.out.find("Tee One") != std::string::npos);

  auto token = run(
      TENANTD_BIN,
      {"token", "create", "--tenant", "t-1", "--role", "reader", "--ttl", "1h", "--data-dir", data},
      dir.path());
  REQUIRE(token.exitCode == 0);
  std::string secret = lastLine(token.out);
  CHECK(secret.rfind("tnt_", 0) == 0);
  CHECK(secret.size() == 47);
  auto idAt = token.out.find("tok_");
  REQUIRE(idAt != std::string::npos);
  std::string id = token.out.substr(idAt, 20);

  // The secret itself is never stored: only its hash.
  CHECK(readFile(data + "/tenantd.db").find(secret) == std::string::npos);

  CHECK(run(TENANTD_BIN, {"token", "revoke", id, "--data-dir", data}, dir.path()).exitCode == 0);
  auto missing = run(TENANTD_BIN, {"token", "revoke", "tok_nope", "--data-dir", data}, dir.path());
  CHECK(missing.exitCode == 1);
  auto orphan =
      run(TENANTD_BIN, {"token", "create", "--tenant", "ghost", "--data-dir", data}, dir.path());
  CHECK(orphan.exitCode == 1);
  CHECK(orphan.err.find("no such tenant") != std::string::npos);

  // Every offline change left an audit row naming the CLI's uid, never the token.
  auto audit = run("/usr/bin/sqlite3",
                   {data + "/tenantd.db",
                    "SELECT action || ' ' || target || ' ' || actor FROM audit ORDER BY id"},
                   dir.path());
  CHECK(audit.out.find("tenant.create t-1 cli:uid:") != std::string::npos);
  CHECK(audit.out.find("token.create " + id + " cli:uid:") != std::string::npos);
  CHECK(audit.out.find("token.revoke " + id) != std::string::npos);
  CHECK(audit.out.find(secret) == std::string::npos);
}

TEST_CASE("Invalid tenant fields are refused before touching the store") {
  TempDir dir;
  auto data = dir.file("var");
  auto bad =
      run(TENANTD_BIN,
          {"tenant", "create", "has space", "--name", "X", "--plan", "free", "--data-dir", data},
          dir.path());
  CHECK(bad.exitCode == 2);
  CHECK(bad.err.find("invalid tenant id") != std::string::npos);
}

TEST_CASE("check-db passes a healthy store and fails a broken one") {
  TempDir dir;
  auto data = dir.file("var");
  CHECK(run(TENANTD_BIN, {"check-db", "--data-dir", data}, dir.path()).exitCode == 1);
  run(TENANTD_BIN, {"tenant", "create", "t-1", "--name", "T", "--plan", "free", "--data-dir", data},
      dir.path());
  auto ok = run(TENANTD_BIN, {"check-db", "--data-dir", data}, dir.path());
  CHECK(ok.exitCode == 0);
  CHECK(ok.out.rfind("ok: ", 0) == 0);
  auto broken = run("/usr/bin/sqlite3",
                    {data + "/tenantd.db", "UPDATE tenants SET plan = 'Not A Plan'"}, dir.path());
  REQUIRE(broken.exitCode == 0);
  auto bad = run(TENANTD_BIN, {"check-db", "--data-dir", data}, dir.path());
  CHECK(bad.exitCode == 1);
  CHECK(bad.err.find("tenant t-1: invalid plan") != std::string::npos);
}

TEST_CASE("A config error at start is fatal and names the key and line") {
  TempDir dir;
  auto path = dir.file("tenantd.toml");
  std::ofstream(path) << "[daemon]\n# comment\nlog_level = \"chatty\"\n";
  auto r = run(TENANTD_BIN, {"--config", path, "--data-dir", dir.file("var")}, dir.path());
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("tenantd.toml:3: daemon.log_level") != std::string::npos);
}

}  // namespace tenantd::testing
