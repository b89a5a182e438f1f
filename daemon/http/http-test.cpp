#include "router.h"
#include "server.h"

#include <kj/async-io.h>
#include <kj/compat/http.h>
#include <kj/debug.h>
#include <catch2/catch.hpp>

#include "loop/uv-bridge.h"

#include <functional>

namespace tenantd {
namespace {

constexpr auto DEADLINE = 10 * kj::SECONDS;

// The daemon's loop arrangement, a server on an ephemeral loopback port, and kj's HTTP client
// in the same thread: a real request over TCP, with no second thread to coordinate.
struct Fixture {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  uv_loop_t uv;
  kj::Own<UvBridge> bridge;
  kj::Promise<void> running = nullptr;
  Log log{Log::Sink::STDERR, LogLevel::ERROR};
  Router router;
  kj::Own<HttpServer> server;
  ListenAddress bound;
  kj::HttpHeaderTable::Builder headerBuilder;
  kj::HttpHeaderId authorizationId = headerBuilder.add("Authorization");
  kj::HttpHeaderId allowId = headerBuilder.add("Allow");
  kj::Own<kj::HttpHeaderTable> headerTable = headerBuilder.build();
  kj::Own<kj::HttpClient> client;

  explicit Fixture(HttpOptions options = {}) {
    io.waitScope.setBusyPollInterval(UvBridge::BUSY_POLL_INTERVAL);
    KJ_ASSERT(uv_loop_init(&uv) == 0);
    bridge = kj::heap<UvBridge>(io.unixEventPort, io.provider->getTimer(), uv);
    router.add("GET", "/healthz", [](const HttpRequest&) {
      return HttpResponse{200, R"({"status":"ok"})"};
    });
    router.add("POST", "/echo", [](const HttpRequest& r) {
      auto auth = r.header("authorization");
      return HttpResponse(200, std::string(r.body) + "|" + std::string(r.query) + "|" +
                                   std::string(auth.value_or("-")));
    });
    router.add("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
      KJ_FAIL_ASSERT("handler bug with internal detail");
    });
    // Answers from a kj timer, outside any uv pass: the path of writes that wait for a commit.
    router.add("POST", "/later", [this](const HttpRequest& r) -> HttpResult {
      std::string body(r.body);
      return io.provider->getTimer().afterDelay(1 * kj::MILLISECONDS).then([body]() {
        return HttpResponse(201, "later:" + body);
      });
    });
    router.add("GET", "/later-fails", [this](const HttpRequest&) -> HttpResult {
      return io.provider->getTimer().afterDelay(1 * kj::MILLISECONDS).then([]() -> HttpResponse {
        KJ_FAIL_ASSERT("deferred bug with internal detail");
      });
    });
    server = kj::heap<HttpServer>(
        uv, options, [this](const HttpRequest& r) { return router.handle(r); }, log,
        [this]() { bridge->kick(); });
    bound = server->listen({"127.0.0.1", 0});
    running = bridge->run().eagerlyEvaluate([](kj::Exception&& e) { KJ_FAIL_ASSERT(e); });
    client = kj::newHttpClient(io.provider->getTimer(), *headerTable, io.provider->getNetwork(),
                               nullptr);
  }

  ~Fixture() {
    client = nullptr;
    wait(server->shutdown());
    server = nullptr;
    running = nullptr;
    bridge = nullptr;
    REQUIRE(UvBridge::closeAll(uv) == 0);
  }

  template <typename T>
  T wait(kj::Promise<T> p) {
    return p
        .exclusiveJoin(io.provider->getTimer().afterDelay(DEADLINE).then(
            []() -> T { KJ_FAIL_ASSERT("timed out"); }))
        .wait(io.waitScope);
  }

  // Runs both loops until `done()` holds; fails after DEADLINE. For states with no promise.
  void waitUntil(const std::function<bool()>& done) {
    auto until = io.provider->getTimer().now() + DEADLINE;
    while (!done()) {
      REQUIRE(io.provider->getTimer().now() < until);
      io.provider->getTimer().afterDelay(1 * kj::MILLISECONDS).wait(io.waitScope);
    }
  }

  // A raw keep-alive connection with one GET /healthz sent on it.
  kj::Own<kj::AsyncIoStream> connectAndAsk() {
    auto address = wait(io.provider->getNetwork().parseAddress("127.0.0.1", bound.port));
    auto stream = wait(address->connect());
    static const kj::StringPtr REQUEST = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    wait(stream->write(REQUEST.begin(), REQUEST.size()));
    return stream;
  }
  // Reads until a whole response to GET /healthz has arrived; returns its status line.
  std::string statusLine(kj::AsyncIoStream& stream) {
    std::string got;
    char buf[512];
    while (got.find(R"({"status":"ok"})") == std::string::npos) {
      size_t n = wait(stream.tryRead(buf, 1, sizeof buf));
      REQUIRE(n > 0);
      got.append(buf, n);
    }
    return got.substr(0, got.find("\r\n"));
  }

  // Sends `request` as it is on a new connection and reads until the server closes it.
  std::string exchangeRaw(kj::StringPtr request) {
    auto address = wait(io.provider->getNetwork().parseAddress("127.0.0.1", bound.port));
    auto stream = wait(address->connect());
    wait(stream->write(request.begin(), request.size()));
    return wait(stream->readAllText()).cStr();
  }

  struct Result {
    uint status;
    std::string body;
    std::string contentType;
    std::string allow;
  };

  Result request(kj::HttpMethod method, kj::StringPtr path, kj::StringPtr body = nullptr,
                 kj::StringPtr authorization = nullptr) {
    kj::HttpHeaders headers(*headerTable);
    if (authorization != nullptr) headers.set(authorizationId, authorization);
    auto url = kj::str("http://127.0.0.1:", bound.port, path);
    kj::Maybe<uint64_t> size;
    if (body != nullptr) size = body.size();
    auto req = client->request(method, url, headers, size);
    kj::Promise<void> sent = kj::READY_NOW;
    if (body != nullptr) {
      sent = req.body->write(body.begin(), body.size()).attach(kj::mv(req.body));
    } else {
      req.body = nullptr;
    }
    auto response = wait(kj::mv(req.response));
    wait(kj::mv(sent));
    Result out;
    out.status = response.statusCode;
    out.body = wait(response.body->readAllText()).cStr();
    KJ_IF_MAYBE (ct, response.headers->get(kj::HttpHeaderId::CONTENT_TYPE)) {
      out.contentType = ct->cStr();
    }
    KJ_IF_MAYBE (allow, response.headers->get(allowId)) {
      out.allow = allow->cStr();
    }
    return out;
  }
};

TEST_CASE("HttpServer answers GET /healthz with ok as JSON") {
  Fixture f;
  auto r = f.request(kj::HttpMethod::GET, "/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"ok"})");
  CHECK(r.contentType == "application/json");
}

TEST_CASE("HttpServer passes body, query and headers to the handler") {
  Fixture f;
  auto r = f.request(kj::HttpMethod::POST, "/echo?period=2024-01", "{\"a\":1}", "Bearer x");
  CHECK(r.status == 200);
  CHECK(r.body == "{\"a\":1}|period=2024-01|Bearer x");
}

TEST_CASE("Unknown paths get 404 and wrong methods 405, in the JSON error shape") {
  Fixture f;
  auto missing = f.request(kj::HttpMethod::GET, "/nope");
  CHECK(missing.status == 404);
  CHECK(missing.body == R"({"error":{"code":"not_found","message":"no such endpoint"}})");
  auto wrong = f.request(kj::HttpMethod::DELETE, "/healthz");
  CHECK(wrong.status == 405);
  CHECK(wrong.body.find("method_not_allowed") != std::string::npos);
  CHECK(wrong.allow == "GET");
}

TEST_CASE("A handler fault answers 500 without its details") {
  Fixture f;
  auto r = f.request(kj::HttpMethod::GET, "/boom");
  CHECK(r.status == 500);
  CHECK(r.body.find("internal detail") == std::string::npos);
  // The connection and server keep working.
  CHECK(f.request(kj::HttpMethod::GET, "/healthz").status == 200);
}

TEST_CASE("A deferred response is sent when its promise resolves, on the same connection") {
  Fixture f;
  auto r = f.request(kj::HttpMethod::POST, "/later", "x");
  CHECK(r.status == 201);
  CHECK(r.body == "later:x");
  auto failed = f.request(kj::HttpMethod::GET, "/later-fails");
  CHECK(failed.status == 500);
  CHECK(failed.body.find("internal detail") == std::string::npos);
  CHECK(f.request(kj::HttpMethod::POST, "/later", "y").body == "later:y");
}

TEST_CASE("A body over the configured limit is refused with 413") {
  HttpOptions small;
  small.maxBodyBytes = 1024;
  Fixture f(small);
  std::string big(4096, 'x');
  // Over twice the limit h2o refuses it while reading; the answer keeps the API's shape.
  auto r = f.request(kj::HttpMethod::POST, "/echo", kj::StringPtr(big.c_str()));
  CHECK(r.status == 413);
  CHECK(r.contentType == "application/json");
  CHECK(r.body ==
        R"({"error":{"code":"payload_too_large","message":"the request body is over the limit"}})");
  std::string over(1025, 'x');  // Just over our limit: our JSON shape.
  auto json = f.request(kj::HttpMethod::POST, "/echo", kj::StringPtr(over.c_str()));
  CHECK(json.status == 413);
  CHECK(json.body.find("payload_too_large") != std::string::npos);
}

TEST_CASE("What h2o refuses before routing is answered in the JSON error shape too") {
  Fixture f;
  auto chunked =
      f.exchangeRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  CHECK(chunked.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(chunked.find("content-type: application/json\r\n") != std::string::npos);
  CHECK(chunked.substr(chunked.find("\r\n\r\n") + 4) ==
        R"({"error":{"code":"invalid_request","message":"broken chunked-encoding"}})");
  auto length = f.exchangeRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n");
  CHECK(length.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(length.find(R"("message":"broken content-length header")") != std::string::npos);
  // HEAD of such an answer: its headers, no body.
  auto head = f.exchangeRaw("HEAD /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n");
  CHECK(head.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(head.size() == head.find("\r\n\r\n") + 4);
}

TEST_CASE("At max connections accepting pauses, and resumes when one closes") {
  // Found by the tenant-bounds review: ~28,000 idle REST connections took the daemon's loop and
  // descriptors, and RPC went unanswered for 3 s.
  HttpOptions two;
  two.maxConnections = 2;
  Fixture f(two);
  auto a = f.connectAndAsk();
  CHECK(f.statusLine(*a) == "HTTP/1.1 200 OK");
  auto b = f.connectAndAsk();
  CHECK(f.statusLine(*b) == "HTTP/1.1 200 OK");
  CHECK(f.server->openConnections() == 2);
  // The third connects (the kernel's backlog) but is not taken while two are open.
  auto c = f.connectAndAsk();
  f.waitUntil([&] { return f.server->acceptPaused(); });
  CHECK(f.server->openConnections() == 2);
  a = nullptr;  // One closes: the waiting one is taken and answered.
  CHECK(f.statusLine(*c) == "HTTP/1.1 200 OK");
  CHECK_FALSE(f.server->acceptPaused());
  CHECK(f.server->openConnections() == 2);
}

TEST_CASE("Shutdown closes idle keep-alive connections and resolves") {
  Fixture f;
  CHECK(f.request(kj::HttpMethod::GET, "/healthz").status == 200);
  CHECK(f.server->openConnections() == 1);  // kj's client keeps the connection alive.
  f.wait(f.server->shutdown());
  CHECK(f.server->openConnections() == 0);
}

}  // namespace
}  // namespace tenantd
