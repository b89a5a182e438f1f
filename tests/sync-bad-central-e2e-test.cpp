// End to end: a sidecar against a central that misbehaves on purpose (docs/SYNC.md, "When the
// central fails"). The fake central is a loopback TCP listener that answers each request with
// bytes this test chose: a good signed payload first, then garbage, truncation, an oversized
// body, wrong or missing signatures, a replayed version, an invalid document, a stall and a
// reset mid-body. Each is refused or timed out with a log line and a metric naming why, and the
// sidecar keeps serving exactly what it had.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "auth/token.h"
#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "sync/document.h"
#include "sync/envelope.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// What the fake central does with the next request.
enum class Act {
  ANSWER,  // Writes the response and closes.
  RESET,   // Writes the response's first half, then resets the connection (RST).
  STALL,   // Reads the request and never answers.
};

class FakeCentral {
public:
  FakeCentral() : listener_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(listener_, 16) == 0);
    socklen_t len = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this]() { serve(); });
  }
  ~FakeCentral() {
    shutdown(listener_, SHUT_RDWR);  // accept() returns: the thread ends.
    thread_.join();
    close(listener_);
    for (int fd : stalled_) close(fd);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set(Act act, std::string response) {
    std::lock_guard<std::mutex> lock(mutex_);
    act_ = act;
    response_ = std::move(response);
  }

  // A whole HTTP/1.1 response with `body` (Content-Length true unless `claimed` says more).
  static std::string response(int status, const std::string& body,
                              std::optional<size_t> claimed = std::nullopt) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
           "Connection: close\r\nContent-Length: " + std::to_string(claimed.value_or(body.size())) +
           "\r\n\r\n" + body;
  }

private:
  void serve() {
    for (;;) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      // The request: read until its blank line (a GET has no body). Only its end matters here.
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) break;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      Act act;
      std::string response;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        act = act_;
        response = response_;
      }
      if (act == Act::STALL) {
        stalled_.push_back(fd);  // Closed when the test ends: the sidecar must time out first.
        continue;
      }
      size_t length = act == Act::RESET ? response.size() / 2 : response.size();
      for (size_t at = 0; at < length;) {
        ssize_t n = write(fd, response.data() + at, length - at);
        if (n <= 0) break;
        at += static_cast<size_t>(n);
      }
      if (act == Act::RESET) {
        linger l{1, 0};  // Close with RST instead of FIN.
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      }
      close(fd);
    }
  }

  int listener_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  Act act_ = Act::STALL;
  std::string response_;
  std::vector<int> stalled_;  // Only the server thread touches it until the destructor.
};

// The signing key the sidecar trusts, and one it does not.
std::unique_ptr<SecretKey> seed(uint8_t fill) {
  auto key = std::make_unique<SecretKey>();
  std::memset(key->data(), fill, MASTER_KEY_BYTES);
  return key;
}

struct Feed {
  sync::SigningKey trusted{seed(7)};
  sync::SigningKey stranger{seed(9)};
  IssuedToken token = issueToken();

  // acme's complete document with configuration `ttl` and `rules`.
  std::string payload(int64_t version, int ttl, std::string rules = "[]") const {
    sync::StoredDocuments d;
    d.info = Tenant{"acme", "Acme", "pro", "UTC", 0, std::nullopt, std::nullopt, std::nullopt};
    d.config = std::make_pair(json{{"cache", {{"ttl", ttl}}}}.dump(), int64_t{ttl});
    d.rules = std::make_pair(std::move(rules), int64_t{1});
    TokenRecord record;
    record.id = token.id;
    record.tenantId = "acme";
    record.role = Role::ADMIN;
    d.tokens.emplace_back(token.hash, record);
    return sync::writePayload("fake", version, true, {d}, {});
  }
  std::string signedBy(const sync::SigningKey& key, const std::string& payload) const {
    const sync::SigningKey* keys[] = {&key};
    return sync::sealEnvelope(payload, keys);
  }
};

size_t fileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<size_t>(size);
}

// tenantd_sync_failures_total{reason="..."} now.
double failures(const RunningDaemon& d, const std::string& reason) {
  auto text = httpRequest("GET", d.restUrl + "/metrics").body;
  std::string series = "tenantd_sync_failures_total{reason=\"" + reason + "\"} ";
  auto at = text.find(series);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size()));
}
}  // namespace

TEST_CASE("A misbehaving central changes nothing: each answer is refused and named") {
  REQUIRE(sodium_init() >= 0);
  Feed feed;
  FakeCentral central;
  central.set(Act::ANSWER,
              FakeCentral::response(200, feed.signedBy(feed.trusted, feed.payload(5, 1))));
  RunningDaemon sidecar({}, [&](RunningDaemon& d) {
    std::string pub = d.dir.file("central.pub");
    std::ofstream(pub) << sync::toHex(feed.trusted.verifyKey().key) << "\n";
    std::string config = d.dir.file("tenantd.toml");
    std::ofstream(config) << "[central]\nurl = \"" << central.url() << "\"\n"
                          << "verify_keys = [\"" << pub << "\"]\n"
                          << "wait_seconds = 0\npoll_interval_ms = 20\nmax_backoff_ms = 50\n"
                          << "timeout_ms = 600\nmax_body_bytes = 65536\n";
    d.args.push_back("--config");
    d.args.push_back(config);
  });
  std::string log = sidecar.dir.file("stderr");
  REQUIRE(waitForFileText(log, "applied version 5", 5s));
  auto config = [&]() {
    return httpRequest("GET", sidecar.restUrl + "/tenant/config",
                       {{"Authorization", "Bearer " + feed.token.secret}});
  };
  REQUIRE(config().body == R"({"cache":{"ttl":1}})");

  std::string newer = feed.payload(6, 2);
  struct Case {
    const char* name;
    Act act;
    std::string response;
    std::string reason;
    std::string logged;
  };
  std::string tampered = feed.signedBy(feed.trusted, newer);
  // The payload's first bytes changed under the same signature ("eyJj" is base64 of {"c).
  REQUIRE(tampered.find("\"payload\":\"eyJj") != std::string::npos);
  tampered.replace(tampered.find("\"payload\":\"") + 11, 4, "eyJk");
  std::vector<Case> cases = {
      {"garbage", Act::ANSWER, FakeCentral::response(200, "<html>not json</html>"), "malformed",
       "the envelope is malformed"},
      {"truncated", Act::ANSWER,
       FakeCentral::response(200, feed.signedBy(feed.trusted, newer), 5000).substr(0, 300),
       "unreachable", "could not be reached"},
      {"oversized", Act::ANSWER,
       FakeCentral::response(200, std::string(70000, ' ') + feed.signedBy(feed.trusted, newer)),
       "oversized", "over 65536 bytes"},
      {"unsigned", Act::ANSWER, FakeCentral::response(200, sync::sealEnvelope(newer, {})),
       "unsigned", "carries no signature"},
      {"signed by a stranger", Act::ANSWER,
       FakeCentral::response(200, feed.signedBy(feed.stranger, newer)), "unknown_key",
       "no signature is by a trusted key"},
      {"wrongly signed", Act::ANSWER, FakeCentral::response(200, tampered), "bad_signature",
       "does not verify"},
      {"replayed", Act::ANSWER,
       FakeCentral::response(200, feed.signedBy(feed.trusted, feed.payload(4, 3))), "replayed",
       "version 4 is older than the applied 5"},
      {"invalid document", Act::ANSWER,
       FakeCentral::response(
           200, feed.signedBy(feed.trusted, feed.payload(6, 2,
                                                         R"([{"resource":"llm","metric":"tokens",)"
                                                         R"("period":"day","limit":-1}])"))),
       "invalid_document", "tenant acme: tenants[0].rules.body[0].limit"},
      {"server error", Act::ANSWER, FakeCentral::response(500, "{}"), "http_status",
       "answered HTTP 500"},
      {"stall", Act::STALL, "", "unreachable", "timed out"},
      {"reset mid-body", Act::RESET, FakeCentral::response(200, feed.signedBy(feed.trusted, newer)),
       "unreachable", "could not be reached"},
  };
  for (auto& c : cases) {
    SECTION(c.name) {
      double before = failures(sidecar, c.reason);
      size_t from = fileSize(log);
      central.set(c.act, c.response);
      INFO(readFile(log).substr(from));
      REQUIRE(waitForFileText(log, c.logged, 5s, from));
      CHECK(failures(sidecar, c.reason) > before);
      // Nothing changed, and the host still serves and says why it is degraded.
      CHECK(config().body == R"({"cache":{"ttl":1}})");
      auto ready = httpRequest("GET", sidecar.restUrl + "/readyz");
      CHECK(ready.status == 200);
      CHECK(ready.body.find("degraded") != std::string::npos);
      // No part of a refused body is quoted back into the log.
      CHECK(readFile(log).find("not json") == std::string::npos);
      CHECK(readFile(log).find(feed.token.secret) == std::string::npos);

      // The central mends: the sidecar recovers by itself and takes the next good version.
      from = fileSize(log);
      central.set(Act::ANSWER, FakeCentral::response(200, feed.signedBy(feed.trusted, newer)));
      REQUIRE(waitForFileText(log, "applied version 6", 5s, from));
      CHECK(config().body == R"({"cache":{"ttl":2}})");
      CHECK(httpRequest("GET", sidecar.restUrl + "/readyz").body == R"({"status":"ready"})");
    }
  }
}

}  // namespace tenantd::testing
