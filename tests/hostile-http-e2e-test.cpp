// End to end: hostile HTTP over raw sockets against the real daemon. Whatever one connection
// sends, it gets a clear answer or is closed, and a well-behaved client is served beside it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "support/daemon-fixture.h"
#include "support/http-client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

int portOf(const RunningDaemon& d) {
  return std::stoi(d.restUrl.substr(d.restUrl.rfind(':') + 1));
}

// A TCP connection to the daemon's REST listener, closed when dropped.
class RawConnection {
public:
  explicit RawConnection(const RunningDaemon& d) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(portOf(d));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      bytes.remove_prefix(n);
    }
  }
  // Reads until the server closes the connection; fails if it has not within `deadline`.
  std::string readUntilClosed(std::chrono::milliseconds deadline = 10s) {
    std::string got;
    auto until = std::chrono::steady_clock::now() + deadline;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      REQUIRE(left.count() > 0);
      pollfd p{fd_, POLLIN, 0};
      REQUIRE(poll(&p, 1, static_cast<int>(left.count())) == 1);
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return got;  // Closed, or reset (a close with our bytes still unread).
      got.append(buf, n);
    }
  }

private:
  int fd_;
};

// The status codes of every response in `raw`, in order.
std::vector<int> statuses(const std::string& raw) {
  std::vector<int> out;
  for (size_t at = raw.find("HTTP/1."); at != std::string::npos; at = raw.find("HTTP/1.", at + 1)) {
    out.push_back(std::stoi(raw.substr(at + 9, 3)));
  }
  return out;
}

std::string bodyOf(const std::string& raw) {
  return raw.substr(raw.find("\r\n\r\n") + 4);
}

}  // namespace

TEST_CASE("A thousand half-open connections leave a well-behaved client served at once") {
  RunningDaemon d;
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 1000; ++i) {
    slow.push_back(std::make_unique<RawConnection>(d));
    slow.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  auto start = std::chrono::steady_clock::now();
  auto answer = httpRequest("GET", d.restUrl + "/tenant/info",
                            {{"Authorization", "Bearer " + d.demoToken()}});
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(answer.status == 200);
  // An idle check answers in well under a millisecond; a second is far past any queueing.
  CHECK(took < 1s);
}

TEST_CASE(
    "Garbage pipelined after a valid request: the request is answered, then the connection ends") {
  RunningDaemon d;
  RawConnection c(d);
  c.send(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") + '\0' + "\x01garbage\r\n\r\n");
  auto raw = c.readUntilClosed();
  CHECK(statuses(raw) == std::vector<int>{200, 400});
  // The daemon goes on serving.
  CHECK(httpRequest("GET", d.restUrl + "/healthz").status == 200);
}

TEST_CASE("A body framed two ways is refused and nothing after it on the connection is read") {
  RunningDaemon d;
  std::string auth = "Authorization: Bearer " + d.demoToken() + "\r\n";
  std::string smuggled = "GET /tenant/info HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n";
  {
    // Content-Length and Transfer-Encoding: h2o would read it chunked and answer the GET that
    // a proxy reading by Content-Length took for body bytes.
    RawConnection c(d);
    c.send("POST /tenant/limits/resources/check HTTP/1.1\r\nHost: x\r\n" + auth +
           "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled);
    auto raw = c.readUntilClosed();
    CHECK(statuses(raw) == std::vector<int>{400});
    CHECK(json::parse(bodyOf(raw))["error"]["message"] ==
          "the request has both Content-Length and Transfer-Encoding");
  }
  {
    RawConnection c(d);  // Two lengths that differ: h2o would take the first.
    c.send("POST /tenant/limits/resources/check HTTP/1.1\r\nHost: x\r\n" + auth +
           "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}" + smuggled);
    auto raw = c.readUntilClosed();
    CHECK(statuses(raw) == std::vector<int>{400});
    CHECK(json::parse(bodyOf(raw))["error"]["message"] ==
          "the request has differing Content-Length headers");
  }
  {
    RawConnection c(d);  // The same length twice is no ambiguity (RFC 9112 §6.3): served.
    c.send("POST /tenant/limits/resources/check HTTP/1.1\r\nHost: x\r\n" + auth +
           "Content-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    auto raw = c.readUntilClosed();
    CHECK(statuses(raw) == std::vector<int>{400});
    CHECK(json::parse(bodyOf(raw))["error"]["field"] == "resource");
  }
}

TEST_CASE("HTTP/1.0 without Host is served, and its connection closed") {
  RunningDaemon d;
  RawConnection c(d);
  c.send("GET /healthz HTTP/1.0\r\n\r\n");
  auto raw = c.readUntilClosed();
  CHECK(statuses(raw) == std::vector<int>{200});
  CHECK(json::parse(bodyOf(raw)) == json{{"status", "ok"}});
}

TEST_CASE("Header blocks past h2o's bounds are refused and the connection closed") {
  RunningDaemon d;
  {
    RawConnection c(d);  // More headers than h2o takes (100).
    std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 200; ++i) many += "X-" + std::to_string(i) + ": a\r\n";
    c.send(many + "\r\n");
    CHECK(statuses(c.readUntilClosed()) == std::vector<int>{400});
  }
  {
    // One header past h2o's request-head buffer (8 KiB + 4 KiB per header it takes, 100): the
    // 400 may be lost to the reset of a close with our bytes unread; the connection ends.
    RawConnection c(d);
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(500 << 10, 'a') +
           "\r\n\r\n");
    auto got = statuses(c.readUntilClosed());
    CHECK((got.empty() || got == std::vector<int>{400}));
  }
  CHECK(httpRequest("GET", d.restUrl + "/healthz").status == 200);
}

TEST_CASE("Hostile JSON bodies get 400 naming what is wrong and change nothing") {
  RunningDaemon d;
  std::map<std::string, std::string> auth{{"Authorization", "Bearer " + d.demoToken()},
                                          {"Content-Type", "application/json"}};
  std::string check = d.restUrl + "/tenant/limits/resources/check";
  std::string track = d.restUrl + "/tenant/limits/resources/track";
  for (std::string body :
       {std::string(R"({"resource":"api","metric":"calls","amount":")") + "\xff\xfe\"}",
        std::string(R"({"resource":"api)") + '\0' + R"(","metric":"calls"})",
        std::string(R"({"resource":"api","metric":"calls","amount":18446744073709551617})"),
        std::string(R"({"resource":"api","metric":"calls","amount":1e400})"),
        std::string(100000, '[') + std::string(100000, ']'),
        // A validator in front that reads the first "amount" would see another request.
        std::string(R"({"resource":"api","metric":"calls","amount":1,"amount":1000000})")}) {
    INFO(body.substr(0, 80));
    CHECK(httpRequest("POST", check, auth, body).status == 400);
    CHECK(httpRequest("POST", track, auth, body).status == 400);
  }
  auto usage = httpRequest("GET", d.restUrl + "/tenant/limits/resources/usage", auth);
  CHECK(json::parse(usage.body) == json::array());

  // Documents: a name twice in any object of the config is refused, the saved one stays.
  auto config = d.restUrl + "/tenant/config";
  auto twice = httpRequest("POST", config, auth,
                           R"({"rateLimit":{"enabled":true,"default":{"max":5,"max":100000}}})");
  CHECK(twice.status == 400);
  CHECK(json::parse(twice.body)["error"]["message"] ==
        R"(the body is ambiguous: it names "max" twice in one object)");
  CHECK(httpRequest("GET", config, auth).body == "{}");
}

TEST_CASE("Dot segments and percent-encoded tricks in paths reach nothing else") {
  RunningDaemon d;
  std::string token = d.demoToken();
  // Raw, so no client normalises the path first (curl would remove the dot segments).
  auto ask = [&](std::string method, std::string path, std::string body = "") {
    RawConnection c(d);
    c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body);
    auto raw = c.readUntilClosed();
    auto got = statuses(raw);
    REQUIRE(got.size() == 1);
    return got[0];
  };
  REQUIRE(ask("POST", "/tenant/secrets", R"({"key":"KEEP","value":"v"})") == 200);
  for (std::string path : {"/tenant/secrets/..%2F..%2Ftenant%2Fconfig", "/tenant/secrets/%2e%2e",
                           "/tenant/secrets/..", "/tenant/secrets/%00", "/tenant/secrets/%zz",
                           "/tenant/secrets/KEEP%2F..", "/tenant/secrets/../secrets/KEEP"}) {
    INFO(path);
    int status = ask("DELETE", path);
    CHECK((status == 404 || status == 400));
  }
  for (std::string path : {"/tenant/../tenant/info", "/tenant/./info", "/tenant/%69nfo",
                           "//tenant/info", "/tenant/info/.."}) {
    INFO(path);
    CHECK(ask("GET", path) == 404);
  }
  CHECK(ask("PUT", "/tenant/rbac/roles/..%2fadmin", R"({"permissions":[]})") == 404);
  // Nothing was deleted or changed by any of them.
  auto secrets =
      httpRequest("GET", d.restUrl + "/tenant/secrets", {{"Authorization", "Bearer " + token}});
  CHECK(json::parse(secrets.body)["secrets"] == json{"KEEP"});
}

}  // namespace tenantd::testing
