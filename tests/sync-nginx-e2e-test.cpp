// End to end: a static snapshot is a central too (docs/SYNC.md). `tenantd central snapshot`
// writes the signed file, Debian's nginx (started here on loopback) serves it with its own
// ETag, and a sidecar polls it with If-None-Match: it applies each new snapshot and refuses an
// older one put back.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "support/daemon-fixture.h"
#include "support/http-client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {
constexpr const char* NGINX = "/usr/sbin/nginx";

// A loopback port free now (the kernel's pick), for a server that takes its port from a file.
int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// nginx in the foreground, one process, everything under `dir`, serving `dir`/www.
class Nginx {
public:
  explicit Nginx(const TempDir& dir) : port_(freePort()) {
    std::filesystem::create_directories(dir.file("www"));
    std::filesystem::create_directories(dir.file("nginx"));
    std::string conf = dir.file("nginx/nginx.conf");
    std::ofstream(conf) << "daemon off;\nmaster_process off;\npid " << dir.file("nginx/pid")
                        << ";\nerror_log " << dir.file("nginx/error.log") << ";\n"
                        << "events {}\nhttp {\n  access_log off;\n"
                        << "  client_body_temp_path " << dir.file("nginx") << ";\n"
                        << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    root "
                        << dir.file("www") << ";\n  }\n}\n";
    process_ = std::make_unique<Process>(
        NGINX,
        Process::Options{{"-p", dir.file("nginx"), "-e", dir.file("nginx/error.log"), "-c", conf},
                         dir.path().string(),
                         {},
                         dir.file("nginx/stdout"),
                         dir.file("nginx/stderr")});
    // nginx writes its pid file after it has bound and is listening on the port.
    if (!waitForFileText(dir.file("nginx/pid"), "\n", 10s)) {
      FAIL("nginx did not start: " << readFile(dir.file("nginx/error.log")) << process_->err());
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
  int port_;
  std::unique_ptr<Process> process_;  // SIGKILLed by its destructor.
};
}  // namespace

TEST_CASE("A snapshot file served by nginx syncs a sidecar, and an older one put back is refused") {
  TempDir dir;
  std::string central = dir.file("central");
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--dev", "--data-dir", central});
    auto r = run(TENANTD_BIN, args, dir.path().string());
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    return r.out;
  };
  cli({"tenant", "create", "acme", "--name", "Acme", "--plan", "pro"});
  std::string out = cli({"token", "create", "--tenant", "acme"});
  std::string token = out.substr(out.rfind("tnt_"));
  token.erase(token.find_last_not_of("\n") + 1);
  Nginx nginx(dir);
  std::string file = dir.file("www/snapshot.json");
  REQUIRE(cli({"central", "snapshot", file}).find("wrote " + file) != std::string::npos);
  std::filesystem::copy_file(file, dir.file("first.json"));

  RunningDaemon sidecar({}, [&](RunningDaemon& d) {
    std::string config = d.dir.file("tenantd.toml");
    std::ofstream(config) << "[central]\nsnapshot_url = \"" << nginx.url() << "/snapshot.json\"\n"
                          << "verify_keys = [\"" << central << "/central.pub\"]\n"
                          << "recipient_key = \"" << central << "/fleet.key\"\n"
                          << "poll_interval_ms = 50\n";
    d.args.push_back("--config");
    d.args.push_back(config);
  });
  std::string log = sidecar.dir.file("stderr");
  REQUIRE(waitForFileText(log, "applied version 2", 5s));  // The tenant, then its token.
  auto info = [&]() {
    return httpRequest("GET", sidecar.restUrl + "/tenant/info",
                       {{"Authorization", "Bearer " + token}});
  };
  CHECK(json::parse(info().body)["name"] == "Acme");

  // A new snapshot: nginx's ETag changes, the sidecar applies it.
  cli({"tenant", "update", "acme", "--name", "Acme Two"});
  REQUIRE(cli({"central", "snapshot", file}).find("version 3") != std::string::npos);
  REQUIRE(waitForFileText(log, "applied version 3", 5s));
  CHECK(json::parse(info().body)["name"] == "Acme Two");

  // The first snapshot put back (a stale mirror, a replay): refused, the newer copy kept.
  std::filesystem::copy_file(dir.file("first.json"), file,
                             std::filesystem::copy_options::overwrite_existing);
  REQUIRE(waitForFileText(log, "version 2 is older than the applied 3", 5s));
  CHECK(json::parse(info().body)["name"] == "Acme Two");
}

}  // namespace tenantd::testing
