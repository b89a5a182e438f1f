// End to end: the real daemon's lifecycle — readiness, health on both listeners, signals, the
// socket file, drain.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <capnp/ez-rpc.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "tenantd.capnp.h"

namespace tenantd::testing {

using namespace std::chrono_literals;

namespace {
// An idle HTTP/1.1 keep-alive connection: one request answered, then left open.
int openKeepAlive(const std::string& restUrl) {
  auto port = std::stoi(restUrl.substr(restUrl.rfind(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
  char buf[512];
  REQUIRE(read(fd, buf, sizeof(buf)) > 0);
  return fd;
}
}  // namespace

TEST_CASE("tenantd --dev becomes ready, answers /healthz and prints the demo token") {
  RunningDaemon d;
  auto health = httpRequest("GET", d.restUrl + "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == R"({"status":"ok"})");
  CHECK(health.headers["content-type"] == "application/json");
  std::string out = d.process->out();
  CHECK(out.find(d.restUrl) != std::string::npos);
  CHECK(out.find(d.socketPath) != std::string::npos);
  CHECK(d.demoToken().size() == 47);
  // The token is shown to the operator once, never written to the log.
  CHECK(d.process->err().find(d.demoToken()) == std::string::npos);

  auto list = run(TENANTD_BIN, {"tenant", "list", "--data-dir", d.dataDir()}, d.dir.path());
  CHECK(list.out.find("tenant-123\tpro\t") == 0);
  CHECK(list.out.find("Acme Corp") != std::string::npos);
}

TEST_CASE("Each dev-mode start revokes the previous demo token, leaving one live") {
  // Found by the tenant-bounds review: every --dev start minted a never-expiring admin token and
  // the old ones stayed valid.
  RunningDaemon d;
  std::string first = d.demoToken();
  auto info = [&](const std::string& token) {
    return httpRequest("GET", d.restUrl + "/tenant/info", {{"Authorization", "Bearer " + token}})
        .status;
  };
  CHECK(info(first) == 200);
  d.process->signal(SIGTERM);
  REQUIRE(d.process->waitForExit(5s) == 0);
  d.restart();
  std::string second = d.demoToken();
  CHECK(second != first);
  CHECK(info(second) == 200);
  CHECK(info(first) == 401);
  // The id is kept beside the store, never the token.
  CHECK(d.process->err().find("revoked the previous demo token tok_") != std::string::npos);
}

TEST_CASE("A data directory others may read is tightened to 0700 before the store opens") {
  RunningDaemon d({}, [](RunningDaemon& r) {
    std::filesystem::create_directories(r.dataDir());
    REQUIRE(chmod(r.dataDir().c_str(), 0755) == 0);
  });
  struct stat st;
  REQUIRE(stat(d.dataDir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(d.process->err().find("was mode 0755 (others could read it); tightened") !=
        std::string::npos);
}

TEST_CASE("SIGTERM drains and exits 0 within 5 s, even with an idle keep-alive connection") {
  RunningDaemon d;
  int idle = openKeepAlive(d.restUrl);
  d.process->signal(SIGTERM);
  auto code = d.process->waitForExit(5s);
  close(idle);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(d.process->err().find("stopped") != std::string::npos);
  CHECK(access(d.socketPath.c_str(), F_OK) != 0);  // The socket file is removed.
}

TEST_CASE("The RPC socket answers Sidecar.health and is group-only") {
  RunningDaemon d;
  struct stat st;
  REQUIRE(stat(d.socketPath.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  capnp::EzRpcClient client("unix:" + d.socketPath);
  auto sidecar = client.getMain<rpc::Sidecar>();
  auto reply = sidecar.healthRequest().send().wait(client.getWaitScope());
  CHECK(reply.getStatus() == "ok");
  CHECK(reply.getVersion().size() > 0);
}

TEST_CASE("A second daemon refuses a live socket but replaces a stale one after kill -9") {
  RunningDaemon first;
  auto second = run(TENANTD_BIN,
                    {"--dev", "--listen", "127.0.0.1:0", "--socket", first.socketPath, "--data-dir",
                     first.dataDir()},
                    first.dir.path());
  CHECK(second.exitCode == 1);
  CHECK(second.err.find("another process is serving this socket") != std::string::npos);
  // The first is untouched.
  CHECK(httpRequest("GET", first.restUrl + "/healthz").status == 200);

  first.process->signal(SIGKILL);
  CHECK(first.process->waitForExit(5s) == 128 + SIGKILL);
  REQUIRE(access(first.socketPath.c_str(), F_OK) == 0);  // Left behind by the crash.
  NotifySocket notify(first.dir.file("notify2.sock"));
  Process third(TENANTD_BIN, {{"--dev", "--listen", "127.0.0.1:0", "--socket", first.socketPath,
                               "--data-dir", first.dataDir()},
                              first.dir.path(),
                              {{"NOTIFY_SOCKET", notify.path()}},
                              first.dir.file("out3"),
                              first.dir.file("err3")});
  CHECK(notify.waitFor("READY=1", READY_DEADLINE).has_value());
  third.signal(SIGTERM);
  CHECK(third.waitForExit(5s) == 0);
}

TEST_CASE("systemd hears READY once both listeners accept, then WATCHDOG, RELOADING and STOPPING") {
  TempDir dir;
  std::string cfg = dir.file("tenantd.toml");
  std::ofstream(cfg) << "[daemon]\nlog_level = \"info\"\n";
  NotifySocket notify(dir.file("notify.sock"));
  std::string socketPath = dir.file("t.sock");
  // WATCHDOG_USEC as systemd sets it for WatchdogSec=200ms: a ping every 100 ms.
  Process daemon(TENANTD_BIN, {{"--dev", "--config", cfg, "--listen", "127.0.0.1:0", "--socket",
                                socketPath, "--data-dir", dir.file("var")},
                               dir.path().string(),
                               {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "200000"}},
                               dir.file("out"),
                               dir.file("err")});
  auto ready = notify.waitFor("READY=1", READY_DEADLINE, &daemon);
  REQUIRE(ready.has_value());
  // Both listeners already accept when READY is sent: REST (its address is in STATUS) and RPC.
  auto at = ready->find("REST http://");
  REQUIRE(at != std::string::npos);
  std::string rest = ready->substr(at + 5, ready->find(' ', at + 5) - at - 5);
  CHECK(httpRequest("GET", rest + "/healthz").status == 200);
  {
    capnp::EzRpcClient rpc("unix:" + socketPath);
    auto reply = rpc.getMain<rpc::Sidecar>().healthRequest().send().wait(rpc.getWaitScope());
    CHECK(reply.getStatus() == "ok");
  }
  // The watchdog is pinged (after each self-check of the store writer).
  CHECK(notify.waitFor("WATCHDOG=1", 10s, &daemon).has_value());
  CHECK(notify.waitFor("WATCHDOG=1", 10s, &daemon).has_value());
  daemon.signal(SIGHUP);
  CHECK(notify.waitFor("RELOADING=1", 10s, &daemon).has_value());
  CHECK(notify.waitFor("READY=1", 10s, &daemon).has_value());
  daemon.signal(SIGTERM);
  CHECK(notify.waitFor("STOPPING=1", 10s).has_value());
  CHECK(daemon.waitForExit(10s) == 0);
}

TEST_CASE("SIGHUP applies a good config and keeps the running one when the new one is bad") {
  TempDir cfgDir;
  auto cfg = cfgDir.file("tenantd.toml");
  std::ofstream(cfg) << "[daemon]\nlog_level = \"info\"\n";
  RunningDaemon d({"--config", cfg});

  std::ofstream(cfg) << "[daemon]\nlog_level = \"debug\"\n";
  d.process->signal(SIGHUP);
  REQUIRE(d.notify->waitFor("RELOADING=1", 10s));
  REQUIRE(d.notify->waitFor("READY=1", 10s));
  CHECK(d.process->err().find("log_level is now debug") != std::string::npos);

  std::ofstream(cfg) << "[daemon]\nlog_level = 7\n";
  d.process->signal(SIGHUP);
  REQUIRE(d.notify->waitFor("RELOADING=1", 10s));
  REQUIRE(d.notify->waitFor("READY=1", 10s));
  auto err = d.process->err();
  CHECK(err.find("reload failed, keeping the running config") != std::string::npos);
  CHECK(err.find("tenantd.toml:2: daemon.log_level") != std::string::npos);
  CHECK(httpRequest("GET", d.restUrl + "/healthz").status == 200);

  d.process->signal(SIGTERM);
  CHECK(d.process->waitForExit(5s) == 0);
}

TEST_CASE("Wrong HTTP method and unknown path get JSON errors from the real daemon") {
  RunningDaemon d;
  auto wrong = httpRequest("POST", d.restUrl + "/healthz");
  CHECK(wrong.status == 405);
  CHECK(wrong.headers["allow"] == "GET");
  auto missing = httpRequest("GET", d.restUrl + "/nope");
  CHECK(missing.status == 404);
  CHECK(missing.body.find(R"("code":"not_found")") != std::string::npos);
}

}  // namespace tenantd::testing

namespace tenantd::testing {

namespace {
// A loopback port that is free now, below the kernel's ephemeral range (32768+ by default), so
// daemons of tests running in parallel, which listen on port 0, cannot take it meanwhile.
int freePort() {
  std::random_device seed;
  std::uniform_int_distribution<int> pick(20000, 29999);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int port = pick(seed);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return port;
  }
  FAIL("no free port in 20000-29999");
  return 0;
}
}  // namespace

TEST_CASE("Under socket activation tenantd serves the sockets systemd passes, by name") {
  TempDir dir;
  std::string rpcPath = dir.file("activated.sock");
  std::string httpAddr = "127.0.0.1:" + std::to_string(freePort());
  std::string metricsAddr = "127.0.0.1:" + std::to_string(freePort());
  NotifySocket notify(dir.file("notify.sock"));
  // systemd-socket-activate binds all three, then execs tenantd with LISTEN_FDS/LISTEN_FDNAMES on
  // the first connection, the same protocol systemd uses.
  Process daemon("/usr/bin/systemd-socket-activate", {{"-l",
                                                       rpcPath,
                                                       "-l",
                                                       httpAddr,
                                                       "-l",
                                                       metricsAddr,
                                                       "--fdname=rpc:http:metrics",
                                                       "-E",
                                                       "NOTIFY_SOCKET=" + notify.path(),
                                                       "-E",
                                                       "ASAN_OPTIONS",
                                                       "-E",
                                                       "UBSAN_OPTIONS",
                                                       "--",
                                                       TENANTD_BIN,
                                                       "--dev",
                                                       "--data-dir",
                                                       dir.file("var"),
                                                       "--socket",
                                                       dir.file("unused/never.sock"),
                                                       "--listen",
                                                       "127.0.0.1:1"},
                                                      dir.path().string(),
                                                      {},
                                                      dir.file("out"),
                                                      dir.file("err")});
  // The activator logs "Listening on …" after listen() on each socket (the metrics one last);
  // then a first connection makes it exec tenantd. The socket file alone appears at bind(), too
  // early.
  REQUIRE(waitForFileText(dir.file("err"), "Listening on " + metricsAddr, 10s));
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, rpcPath.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    close(fd);
  }
  auto ready = notify.waitFor("READY=1", READY_DEADLINE);
  REQUIRE(ready.has_value());
  CHECK(ready->find("REST http://" + httpAddr) != std::string::npos);
  CHECK(access(dir.file("unused/never.sock").c_str(), F_OK) != 0);

  capnp::EzRpcClient rpc("unix:" + rpcPath);
  auto reply = rpc.getMain<rpc::Sidecar>().healthRequest().send().wait(rpc.getWaitScope());
  CHECK(reply.getStatus() == "ok");
  CHECK(httpRequest("GET", "http://" + httpAddr + "/healthz").status == 200);
  auto scrape = httpRequestOutsideApi("GET", "http://" + metricsAddr + "/metrics");
  CHECK(scrape.status == 200);
  CHECK(scrape.body.find("tenantd_build_info") != std::string::npos);

  daemon.signal(SIGTERM);
  CHECK(daemon.waitForExit(5s) == 0);
  // The socket belongs to systemd: tenantd must not remove it.
  CHECK(access(rpcPath.c_str(), F_OK) == 0);
}

}  // namespace tenantd::testing
