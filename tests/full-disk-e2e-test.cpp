// A full disk, end to end: the data directory on a small tmpfs filled until ENOSPC, and the
// database at its `[store] max_bytes` cap (SQLITE_FULL). Writes must fail with 503 and change
// nothing, checks and reads go on from memory, /readyz says degraded, and once there is room
// again writes recover by themselves, with no restart. (SQLITE_IOERR is injected below SQLite
// in writer-test: no file system here fails on demand.)

#include <signal.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>

#include "support/daemon-fixture.h"
#include "support/http-client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string LIMITS = "/tenant/limits/resources";

// A tmpfs of `bytes` mounted over `path` for the life of this object (root only).
class Tmpfs {
public:
  Tmpfs(const std::string& path, size_t bytes) : path_(path) {
    std::string options = "size=" + std::to_string(bytes);
    if (mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      error_ = std::strerror(errno);
    }
  }
  ~Tmpfs() {
    if (error_.empty()) umount2(path_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  // Empty when mounted.
  const std::string& error() const { return error_; }

private:
  std::string path_;
  std::string error_;
};

struct Api {
  RunningDaemon& d;
  std::string token;

  HttpResult call(const std::string& method, const std::string& path, const json& body = nullptr) {
    std::map<std::string, std::string> headers{{"Authorization", "Bearer " + token}};
    std::string text;
    if (!body.is_null()) {
      headers.emplace("Content-Type", "application/json");
      text = body.dump();
    }
    return httpRequest(method, d.restUrl + path, headers, text);
  }
  int64_t used() {
    auto r = call("GET", LIMITS + "/usage");
    REQUIRE(r.status == 200);
    return json::parse(r.body)[0]["current"];
  }
  json secretNames() {
    auto r = call("GET", "/tenant/secrets");
    REQUIRE(r.status == 200);
    return json::parse(r.body)["secrets"];
  }
};

std::string refusalCode(const HttpResult& r) {
  auto body = json::parse(r.body, nullptr, false);
  return body.is_object() && body.contains("error") ? body["error"].value("code", "") : "";
}

const json TRACK = {{"resource", "api"}, {"metric", "calls"}, {"amount", 1}};

// Fills the store with secrets until a write is refused; returns how many were stored.
int fillUntilRefused(Api& api) {
  std::string value(3000, 'x');
  for (int i = 0; i < 20000; ++i) {
    value.replace(0, 8, std::to_string(10000000 + i));
    auto r = api.call("POST", "/tenant/secrets",
                      {{"key", "FILL_" + std::to_string(i)}, {"value", value}});
    if (r.status == 503) {
      INFO(r.body);
      CHECK(refusalCode(r) == "unavailable");
      return i;
    }
    REQUIRE(r.status == 200);
  }
  FAIL("20,000 secrets of 3 KB were stored: the store never filled");
  return -1;
}

// While writes fail: /readyz degraded, refused writes change nothing, checks and reads answer.
// On a full file system every write is refused (the WAL cannot grow); at max_bytes only those
// that need a new page, so a track that updates its row in place may still commit there.
void proveDegraded(RunningDaemon& d, Api& api, int64_t usedBefore, bool everyWriteRefused) {
  auto ready = httpRequest("GET", d.restUrl + "/readyz");
  INFO(ready.body);
  CHECK(ready.status == 200);
  CHECK(json::parse(ready.body)["status"] == "degraded");
  CHECK(json::parse(ready.body)["reason"].get<std::string>().find("writes are failing") == 0);

  size_t secretsBefore = api.secretNames().size();
  auto secret =
      api.call("POST", "/tenant/secrets", {{"key", "REFUSED"}, {"value", std::string(3000, 'r')}});
  CHECK(secret.status == 503);
  CHECK(refusalCode(secret) == "unavailable");
  CHECK(api.secretNames().size() == secretsBefore);
  if (everyWriteRefused) {
    auto track = api.call("POST", LIMITS + "/track", TRACK);
    INFO(track.body);
    CHECK(track.status == 503);
    CHECK(refusalCode(track) == "unavailable");
    CHECK(api.used() == usedBefore);
    CHECK(api.call("POST", "/tenant/config", json{{"cache", {{"ttl", 1}}}}).status == 503);
    CHECK(api.call("GET", "/tenant/config").body == "{}");
  }

  CHECK(api.call("POST", LIMITS + "/check", TRACK).status == 200);
  CHECK(api.call("GET", "/tenant/info").status == 200);
  CHECK(api.call("GET", "/tenant/rbac").status == 200);
  CHECK(api.call("GET", "/tenant/secrets").status == 200);
}

// Room again: the daemon's write probe (or the next write) turns it ready; writes count.
void proveRecovered(RunningDaemon& d, Api& api) {
  REQUIRE(waitForFileText(d.dir.file("stderr"), "writes commit again", 10s));
  auto ready = httpRequest("GET", d.restUrl + "/readyz");
  CHECK(json::parse(ready.body)["status"] == "ready");
  int64_t used = api.used();
  REQUIRE(api.call("POST", LIMITS + "/track", TRACK).status == 200);
  CHECK(api.used() == used + 1);
  REQUIRE(api.call("POST", "/tenant/secrets", {{"key", "AFTER"}, {"value", "v"}}).status == 200);
  d.process->signal(SIGTERM);
  REQUIRE(d.process->waitForExit(10s) == 0);
  auto checked = d.cli({"check-db", "--dev"});
  INFO(checked.out << checked.err);
  CHECK(checked.exitCode == 0);
}

void putRules(Api& api) {
  REQUIRE(api.call("PUT", LIMITS,
                   json::array({{{"resource", "api"},
                                 {"metric", "calls"},
                                 {"period", "lifetime"},
                                 {"limit", 1000000}}}))
              .status == 200);
}

}  // namespace

TEST_CASE(
    "On a full disk writes are refused and nothing else and with room again they recover alone") {
  std::optional<Tmpfs> disk;
  RunningDaemon d({}, [&](RunningDaemon& self) {
    std::filesystem::create_directories(self.dataDir());
    disk.emplace(self.dataDir(), 4 << 20);
  });
  if (!disk->error().empty()) {
    WARN("skipped: cannot mount a tmpfs for the data directory (" << disk->error()
                                                                  << "); run as root");
    return;
  }
  Api api{d, d.demoToken()};
  putRules(api);
  for (int i = 0; i < 5; ++i) REQUIRE(api.call("POST", LIMITS + "/track", TRACK).status == 200);

  // Fill the file system itself: the database cannot grow, nor its WAL.
  std::string filler = d.dataDir() + "/filler";
  {
    std::ofstream out(filler, std::ios::binary);
    std::string block(64 << 10, 'f');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) out.flush();
  }
  int stored = fillUntilRefused(api);
  INFO("secrets stored before ENOSPC: " << stored);
  proveDegraded(d, api, 5, true);

  std::filesystem::remove(filler);
  proveRecovered(d, api);
  disk.reset();
}

TEST_CASE("At the store max_bytes cap only writes are refused and freed rows make room again") {
  RunningDaemon d({"--config", "tenantd.toml"}, [](RunningDaemon& self) {
    std::ofstream(self.dir.file("tenantd.toml")) << "[store]\nmax_bytes = 1048576\n";
  });
  Api api{d, d.demoToken()};
  putRules(api);
  for (int i = 0; i < 5; ++i) REQUIRE(api.call("POST", LIMITS + "/track", TRACK).status == 200);
  int stored = fillUntilRefused(api);
  INFO("secrets stored under the 1 MiB cap: " << stored);
  CHECK(stored > 100);
  proveDegraded(d, api, 5, false);

  // Deleting rows frees pages the next writes reuse, within the same cap.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(api.call("DELETE", "/tenant/secrets/FILL_" + std::to_string(i)).status == 200);
  }
  proveRecovered(d, api);
}

}  // namespace tenantd::testing
