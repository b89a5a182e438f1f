#include "tenantctl/cli.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <vector>

#include "support/rpc-server-thread.h"
#include "testing/temp-dir.h"

namespace tenantd::ctl {

using tenantd::testing::limitRule;
using tenantd::testing::storeSecret;

namespace {
struct Outcome {
  int code;
  std::string out, err;
};

Outcome tenantctl(std::vector<std::string> args, const std::string& input = "") {
  std::vector<const char*> argv{"tenantctl"};
  for (auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  std::istringstream in(input);
  int code = run(static_cast<int>(argv.size()), argv.data(), out, err, in);
  return {code, out.str(), err.str()};
}

// A real daemon RPC server (tenants t1 and t2) on its own thread.
struct Server {
  tenantd::testing::TempDir dir;
  std::string socket = dir.file("tenantd.sock");
  tenantd::testing::RpcServerThread thread{socket};
};
}  // namespace

TEST_CASE("tenantctl --help lists the commands and exits 0") {
  auto r = tenantctl({"--help"});
  CHECK(r.code == EXIT_OK);
  for (const char* command :
       {"status", "tenant", "token", "limits", "usage", "secret", "config", "audit", "bench"}) {
    CHECK(r.out.find(command) != std::string::npos);
  }
  CHECK(r.out.find("never from arguments") != std::string::npos);
}

TEST_CASE("Command-line mistakes exit 2 with one tenantctl line and connect nowhere") {
  for (auto args : std::vector<std::vector<std::string>>{
           {},
           {"tenant"},
           {"frobnicate"},
           {"limits", "check", "-r", "api", "-m", "calls"},
           {"token", "create", "--tenant", "t1", "--ttl", "3 weeks"},
           {"token", "create", "--tenant", "t1", "--role", "owner"},
           {"usage", "--tenant", "t1", "--period", "2024-01"},
           {"secret", "put", "--tenant", "t1", "K", "--file", "/nonexistent/file"},
           {"status", "--timeout", "0"},
       }) {
    INFO(nlohmann::json(args).dump());
    auto r = tenantctl(args);
    CHECK(r.code == EXIT_USAGE);
    CHECK(r.err.rfind("tenantctl: ", 0) == 0);
    CHECK(r.out.empty());
  }
}

TEST_CASE("A socket nobody serves exits 1 with unavailable") {
  tenantd::testing::TempDir dir;
  auto r = tenantctl({"--socket", dir.file("nobody.sock"), "status"});
  CHECK(r.code == EXIT_FAILED);
  CHECK(r.err.rfind("tenantctl: unavailable: cannot connect to " + dir.file("nobody.sock"), 0) ==
        0);
}

TEST_CASE("limits check and track act as the tenant's app and print text or JSON") {
  Server s;
  s.thread.run(
      [](tenantd::testing::RpcFixture& f) { return limitRule(f, "t1", "api", "calls", 10); });
  auto tracked = tenantctl({"--socket", s.socket, "limits", "track", "--tenant", "t1", "-r", "api",
                            "-m", "calls", "-a", "4", "--id", "req-1", "--json"});
  REQUIRE(tracked.code == EXIT_OK);
  auto t = nlohmann::json::parse(tracked.out);
  CHECK(t["duplicate"] == false);
  CHECK(t["usage"][0]["current"] == 4);
  auto again = tenantctl({"--socket", s.socket, "limits", "track", "-t", "t1", "-r", "api", "-m",
                          "calls", "-a", "4", "--id", "req-1"});
  CHECK(again.code == EXIT_OK);
  CHECK(again.out.rfind("duplicate: already counted\n", 0) == 0);

  auto check = tenantctl(
      {"limits", "check", "-t", "t1", "-r", "api", "-m", "calls", "-a", "7", "--socket", s.socket});
  CHECK(check.code == EXIT_OK);
  CHECK(check.out ==
        "not allowed: 4 used of 10 per day (tenant scope, block), 6 remaining, "
        "resets 1970-01-02T00:00:00Z\n");
  auto json = tenantctl(
      {"--json", "--socket", s.socket, "limits", "check", "-t", "t1", "-r", "api", "-m", "calls"});
  auto d = nlohmann::json::parse(json.out);
  CHECK(d["allowed"] == true);
  CHECK(d["remaining"] == 6);
}

TEST_CASE("secret get prints the exact bytes and unknown names exit 3") {
  Server s;
  s.thread.run([](tenantd::testing::RpcFixture& f) { return storeSecret(f, "t1", "K", "v\n1"); });
  auto got = tenantctl({"--socket", s.socket, "secret", "get", "-t", "t1", "K"});
  CHECK(got.code == EXIT_OK);
  CHECK(got.out == "v\n1");
  auto json = tenantctl({"--socket", s.socket, "--json", "secret", "get", "-t", "t1", "K"});
  CHECK(nlohmann::json::parse(json.out) ==
        nlohmann::json{{"name", "K"}, {"version", 1}, {"value", "v\n1"}});
  auto missing = tenantctl({"--socket", s.socket, "secret", "get", "-t", "t1", "NOPE"});
  CHECK(missing.code == EXIT_NOT_FOUND);
  CHECK(missing.err == "tenantctl: not-found: no such secret\n");
  auto tenant =
      tenantctl({"--socket", s.socket, "limits", "check", "-t", "nobody", "-r", "a", "-m", "b"});
  CHECK(tenant.code == EXIT_NOT_FOUND);
}

TEST_CASE("bench runs every mode and prints a table") {
  Server s;
  auto r = tenantctl({"--socket", s.socket, "--json", "bench", "--tenant", "t1", "--duration",
                      "0.1", "--threads", "2", "--depth", "4", "--batch", "8"});
  REQUIRE(r.code == EXIT_OK);
  auto rows = nlohmann::json::parse(r.out);
  REQUIRE(rows.size() == 4);
  for (auto& row : rows) {
    CHECK(row["calls"].get<uint64_t>() > 0);
    CHECK(row["checks"].get<uint64_t>() >= row["calls"].get<uint64_t>());
  }
  auto human = tenantctl({"--socket", s.socket, "bench", "-t", "t1", "-d", "0.1"});
  CHECK(human.code == EXIT_OK);
  CHECK(human.out.rfind("MODE", 0) == 0);
  CHECK(human.out.find("sequential") != std::string::npos);
  auto unknown = tenantctl({"--socket", s.socket, "bench", "-t", "nobody", "-d", "0.1"});
  CHECK(unknown.code == EXIT_NOT_FOUND);
}

}  // namespace tenantd::ctl
