#include "rpc-server.h"
#include "sidecar.h"
#include "unix-listener.h"

#include <sys/stat.h>

#include <capnp/rpc.capnp.h>
#include <capnp/serialize-async.h>

#include <fstream>

#include "rpc/rpc-fixture.h"
#include "util/version.h"

namespace tenantd {

using Fixture = testing::RpcFixture;

TEST_CASE("Sidecar.health answers ok with the version") {
  Fixture f;
  auto response = f.sidecar().healthRequest().send().wait(f.io.waitScope);
  CHECK(response.getStatus() == "ok");
  CHECK(response.getVersion() == TENANTD_VERSION);
  CHECK(response.getUptimeSeconds() == 6);
}

TEST_CASE("getSecret pipelined through tenant() returns the value and version in one call") {
  Fixture f;
  f.store("t1", "STRIPE_SECRET_KEY", "sk_live_1");
  f.store("t1", "STRIPE_SECRET_KEY", "sk_live_2");
  auto request = f.sidecar().tenantRequest();
  request.setId("t1");
  auto tenant = request.send().getTenant();  // Not awaited: pipelined.
  auto get = tenant.getSecretRequest();
  get.setName("STRIPE_SECRET_KEY");
  auto reply = get.send().wait(f.io.waitScope);
  auto value = reply.getValue();
  CHECK(std::string(reinterpret_cast<const char*>(value.begin()), value.size()) == "sk_live_2");
  CHECK(reply.getVersion() == 2);
  CHECK(f.metrics.render().find(R"(tenantd_secret_reads_total{outcome="ok"} 1)") !=
        std::string::npos);
}

TEST_CASE("A tenant capability sees only its own tenant's secrets") {
  Fixture f;
  f.store("t2", "ONLY_T2", "x");
  auto request = f.sidecar().tenantRequest();
  request.setId("t1");
  auto get = request.send().getTenant().getSecretRequest();
  get.setName("ONLY_T2");
  CHECK(f.errorOf(get.send().ignoreResult()).find("not-found: no such secret") !=
        std::string::npos);
}

TEST_CASE("Errors carry their kind: not-found, invalid-argument") {
  Fixture f;
  auto unknown = f.sidecar().tenantRequest();
  unknown.setId("nobody");
  CHECK(f.errorOf(unknown.send().ignoreResult()).find("not-found: no such tenant") !=
        std::string::npos);
  auto bad = f.sidecar().tenantRequest();
  bad.setId("bad id");
  CHECK(f.errorOf(bad.send().ignoreResult()).find("invalid-argument:") != std::string::npos);
  auto request = f.sidecar().tenantRequest();
  request.setId("t1");
  auto badName = request.send().getTenant().getSecretRequest();
  badName.setName("no/slash");
  CHECK(f.errorOf(badName.send().ignoreResult()).find("invalid-argument:") != std::string::npos);
}

TEST_CASE("A tampered secret is refused as unavailable, audited and counted, never returned") {
  Fixture f;
  f.store("t1", "K", "value-before-tampering");
  {
    Db other(f.path, {});
    other.exec("UPDATE secrets SET ciphertext = zeroblob(length(ciphertext)) WHERE name = 'K'");
  }
  auto request = f.sidecar().tenantRequest();
  request.setId("t1");
  auto get = request.send().getTenant().getSecretRequest();
  get.setName("K");
  std::string error = f.errorOf(get.send().ignoreResult());
  CHECK(error.find("unavailable: the stored secret failed its integrity check") !=
        std::string::npos);
  CHECK(error.find("value-before") == std::string::npos);
  auto audit = f.secrets->audit("t1", 10, std::nullopt).wait(f.io.waitScope);
  REQUIRE_FALSE(audit.empty());
  CHECK(audit[0].action == "secret.open_failed");
  CHECK(audit[0].target == "K");
  CHECK(f.metrics.render().find(R"(tenantd_secret_reads_total{outcome="open_failed"} 1)") !=
        std::string::npos);
}

TEST_CASE("A peer without a role may check health but not act for a tenant") {
  Fixture f;
  rpc::Sidecar::Client stranger = kj::heap<SidecarImpl>(
      f.server->context(),
      kj::refcounted<ConnectionGrant>(PeerCredentials{1, 4242, 4242, {}}, PeerGrant{}));
  CHECK(stranger.healthRequest().send().wait(f.io.waitScope).getStatus() == "ok");
  auto request = stranger.tenantRequest();
  request.setId("t1");
  CHECK(f.errorOf(request.send().ignoreResult()).find("permission-denied:") != std::string::npos);
}

namespace {
rpc::Tenant::Client tenantCap(Fixture& f, const char* id) {
  return f.tenant(id);
}
void setUsage(rpc::UsageRequest::Builder b, const char* user, const char* resource,
              const char* metric, int64_t amount) {
  b.setUserId(user);
  b.setResource(resource);
  b.setMetric(metric);
  b.setAmount(amount);
}
void limitRules(Fixture& f, int64_t limit) {
  Rule r;
  r.resource = "api";
  r.metric = "calls";
  r.period = Period::DAY;
  r.limit = limit;
  f.limits->putRules(*f.tenants->find("t1"), newRules({r}), "test").wait(f.io.waitScope);
}
}  // namespace

TEST_CASE("Tenant.consume allows up to the limit and check reports the rule") {
  Fixture f;
  limitRules(f, 2);
  auto t = tenantCap(f, "t1");
  for (int i = 0; i < 2; ++i) {
    auto c = t.consumeRequest();
    setUsage(c.initRequest(), "", "api", "calls", 1);
    CHECK(c.send().wait(f.io.waitScope).getDecision().getAllowed());
  }
  auto check = t.checkRequest();
  setUsage(check.initRequest(), "", "api", "calls", 1);
  auto response = check.send().wait(f.io.waitScope);  // Owns the message the readers point into.
  auto d = response.getDecision();
  CHECK_FALSE(d.getAllowed());
  CHECK(d.getMatched());
  CHECK(d.getCurrent() == 2);
  CHECK(d.getLimit() == 2);
  CHECK(d.getGateAction() == "block");
  CHECK(d.getPeriod() == "day");
  CHECK(d.getResetAtMs() > 0);
}

TEST_CASE("Tenant.track is idempotent by id and answers with the rule usage") {
  Fixture f;
  limitRules(f, 100);
  auto t = tenantCap(f, "t1");
  for (int i = 0; i < 2; ++i) {
    auto req = t.trackRequest();
    auto r = req.initRequest();
    setUsage(r.initUsage(), "u", "api", "calls", 5);
    r.setId("req-1");
    auto response = req.send().wait(f.io.waitScope);
    auto result = response.getResult();
    CHECK(result.getDuplicate() == (i == 1));
    REQUIRE(result.getUsage().size() == 1);
    CHECK(result.getUsage()[0].getCurrent() == 5);
  }
}

TEST_CASE("Batch calls answer each item in order in one round trip") {
  Fixture f;
  limitRules(f, 3);
  auto t = tenantCap(f, "t1");
  auto consume = t.consumeBatchRequest();
  auto items = consume.initRequests(5);
  for (uint i = 0; i < 5; ++i) setUsage(items[i], "", "api", "calls", 1);
  auto consumed = consume.send().wait(f.io.waitScope);
  auto decisions = consumed.getDecisions();
  REQUIRE(decisions.size() == 5);
  for (uint i = 0; i < 5; ++i) CHECK(decisions[i].getAllowed() == (i < 3));
  auto check = t.checkBatchRequest();
  auto checks = check.initRequests(128);
  for (uint i = 0; i < 128; ++i) setUsage(checks[i], "", "api", "calls", 1);
  auto checked = check.send().wait(f.io.waitScope);
  auto answers = checked.getDecisions();
  REQUIRE(answers.size() == 128);
  CHECK_FALSE(answers[127].getAllowed());
  auto track = t.trackBatchRequest();
  auto tracks = track.initRequests(3);
  for (uint i = 0; i < 3; ++i) setUsage(tracks[i].initUsage(), "", "api", "calls", 2);
  auto tracked = track.send().wait(f.io.waitScope);
  auto results = tracked.getResults();
  REQUIRE(results.size() == 3);
  CHECK(results[2].getError() == "");
  CHECK(results[2].getUsage()[0].getCurrent() == 9);
}

TEST_CASE("Reservations over RPC hold capacity and settle once") {
  Fixture f;
  limitRules(f, 10);
  auto t = tenantCap(f, "t1");
  auto reserve = t.reserveRequest();
  setUsage(reserve.initRequest(), "", "api", "calls", 8);
  auto held = reserve.send().wait(f.io.waitScope);
  CHECK(held.getDecision().getAllowed());
  std::string id = held.getReservationId();
  auto check = t.checkRequest();
  setUsage(check.initRequest(), "", "api", "calls", 3);
  CHECK_FALSE(check.send().wait(f.io.waitScope).getDecision().getAllowed());
  auto commit = t.commitRequest();
  commit.setReservationId(id);
  commit.setAmount(4);
  commit.send().wait(f.io.waitScope);
  auto again = t.commitRequest();
  again.setReservationId(id);
  CHECK(f.errorOf(again.send().ignoreResult()).find("not-found:") != std::string::npos);
  auto release = t.releaseRequest();
  release.setReservationId("rsv_nope");
  CHECK(f.errorOf(release.send().ignoreResult()).find("not-found:") != std::string::npos);
}

TEST_CASE("Tenant.info, config and hasPermission answer from the tenant's state") {
  Fixture f;
  auto t = tenantCap(f, "t1");
  auto info = t.infoRequest().send().wait(f.io.waitScope);
  CHECK(info.getId() == "t1");
  CHECK(info.getName() == "Tenant t1");
  CHECK(info.getPlan() == "pro");
  auto config = t.configRequest().send().wait(f.io.waitScope);
  CHECK(config.getJson() == "{}");
  CHECK(config.getVersion() == 0);
  auto perm = t.hasPermissionRequest();
  perm.setRole("admin");
  perm.setPermission("delete");
  CHECK(perm.send().wait(f.io.waitScope).getAllowed());
  auto denied = t.hasPermissionRequest();
  denied.setRole("viewer");
  denied.setPermission("write");
  CHECK_FALSE(denied.send().wait(f.io.waitScope).getAllowed());
}

namespace {
struct RateAnswer {
  bool allowed, limited;
  int64_t limit, remaining, reset, retryAfter;
  bool operator==(const RateAnswer&) const = default;
};
RateAnswer rateLimit(Fixture& f, rpc::Tenant::Client& t, const std::string& route,
                     const std::string& key) {
  auto request = t.rateLimitRequest();
  request.setRoute(route);
  request.setKey(key);
  auto response = request.send().wait(f.io.waitScope);
  auto r = response.getResult();
  return {r.getAllowed(),   r.getLimited(),      r.getLimit(),
          r.getRemaining(), r.getResetSeconds(), r.getRetryAfterSeconds()};
}
const nlohmann::json ITEMS_TWO_PER_MINUTE = {
    {"rateLimit",
     {{"enabled", true}, {"routes", {{"GET /v1/items", {{"max", 2}, {"windowSeconds", 60}}}}}}}};
}  // namespace

TEST_CASE("Tenant.rateLimit allows up to the route's limit, then refuses with the REST fields") {
  Fixture f;
  f.stack.saveConfig("t1", ITEMS_TWO_PER_MINUTE);
  f.stack.saveConfig("t2", ITEMS_TWO_PER_MINUTE);
  auto t1 = f.tenant("t1");
  // allowed, limited, RateLimit-Limit, -Remaining, -Reset, Retry-After.
  CHECK(rateLimit(f, t1, "GET /v1/items", "alice") == RateAnswer{true, true, 2, 1, 30, 0});
  CHECK(rateLimit(f, t1, "GET /v1/items", "alice") == RateAnswer{true, true, 2, 0, 60, 0});
  CHECK(rateLimit(f, t1, "GET /v1/items", "alice") == RateAnswer{false, true, 2, 0, 30, 30});
  // Another key, and another tenant with the same route and key, have their own budgets.
  CHECK(rateLimit(f, t1, "GET /v1/items", "bob").allowed);
  auto t2 = f.tenant("t2");
  CHECK(rateLimit(f, t2, "GET /v1/items", "alice").allowed);
  // A route with no limit is always allowed and says so.
  CHECK(rateLimit(f, t1, "POST /v1/items", "alice") == RateAnswer{true, false, 0, 0, 0, 0});
  f.clock.advance(30'000);
  CHECK(rateLimit(f, t1, "GET /v1/items", "alice").allowed);
  CHECK(f.rateLimits.buckets() == 3);
}

TEST_CASE("Tenant.rateLimit refuses malformed or oversized routes and keys") {
  Fixture f;
  auto t = f.tenant("t1");
  auto errorFor = [&](const std::string& route, const std::string& key) {
    auto request = t.rateLimitRequest();
    request.setRoute(route);
    request.setKey(key);
    return f.errorOf(request.send().ignoreResult());
  };
  CHECK(errorFor("GET /" + std::string(251, 'a'), std::string(256, 'k')) == "");
  CHECK(errorFor("", "").find("invalid-argument: route") != std::string::npos);
  CHECK(errorFor("/v1/items", "").find("invalid-argument: route") != std::string::npos);
  CHECK(errorFor("GET /" + std::string(252, 'a'), "").find("invalid-argument: route") !=
        std::string::npos);
  CHECK(errorFor("GET /", std::string(257, 'k')).find("invalid-argument: key") !=
        std::string::npos);
}

TEST_CASE("Bad usage requests over RPC are invalid-argument and change nothing") {
  Fixture f;
  limitRules(f, 10);
  auto t = tenantCap(f, "t1");
  auto bad = t.consumeRequest();
  setUsage(bad.initRequest(), "", "API", "calls", 1);
  CHECK(f.errorOf(bad.send().ignoreResult()).find("invalid-argument:") != std::string::npos);
  auto zero = t.trackRequest();
  setUsage(zero.initRequest().initUsage(), "", "api", "calls", 0);
  CHECK(f.errorOf(zero.send().ignoreResult()).find("invalid-argument:") != std::string::npos);
  CHECK(f.limits->usage(*f.tenants->find("t1"), "")[0].current == 0);
}

TEST_CASE("Each bound of the request contract, at and past it, over RPC") {
  Fixture f;
  limitRules(f, 1'000'000);
  auto t = tenantCap(f, "t1");
  const int64_t maxAmount = contract::MAX_AMOUNT;
  std::string longName(contract::MAX_NAME_BYTES + 1, 'r');
  auto check = [&](std::string user, std::string resource, int64_t amount) {
    auto request = t.checkRequest();
    setUsage(request.initRequest(), user.c_str(), resource.c_str(), "calls", amount);
    return f.errorOf(request.send().ignoreResult());
  };
  // errorOf() gives the description as the client sees it, after capnp's "remote exception: ".
  auto refusal = [](std::string error) {
    auto at = error.find("invalid-argument:");
    return at == std::string::npos ? error : error.substr(at);
  };
  CHECK(check("", "api", maxAmount) == "");
  CHECK(check("", "api", maxAmount + 1).find("invalid-argument: amount: an integer from 1") !=
        std::string::npos);
  CHECK(check("", "api", 0).find("invalid-argument: amount:") != std::string::npos);
  CHECK(check(std::string(128, 'u'), "api", 1) == "");
  CHECK(refusal(check(std::string(129, 'u'), "api", 1)) ==
        "invalid-argument: userId: at most 128 bytes");
  CHECK(check("", std::string(64, 'r'), 1) == "");
  CHECK(check("", longName, 1).find("invalid-argument: resource: must match") != std::string::npos);

  f.clock.set(contract::EARLIEST_TIMESTAMP_MS + 86'400'000);
  auto track = [&](std::string id, int64_t timestampMs) {
    auto request = t.trackRequest();
    auto r = request.initRequest();
    setUsage(r.initUsage(), "", "api", "calls", 1);
    r.setId(id);
    r.setTimestampMs(timestampMs);
    return f.errorOf(request.send().ignoreResult());
  };
  CHECK(track(std::string(128, 'i'), 0) == "");
  CHECK(refusal(track(std::string(129, 'i'), 0)) == "invalid-argument: id: at most 128 bytes");
  CHECK(track("", contract::EARLIEST_TIMESTAMP_MS) == "");
  CHECK(track("", contract::EARLIEST_TIMESTAMP_MS - 1).find("invalid-argument: timestamp:") !=
        std::string::npos);
  CHECK(track("", f.clock.now() + contract::MAX_FUTURE_MS) == "");
  CHECK(refusal(track("", f.clock.now() + contract::MAX_FUTURE_MS + 1)) ==
        "invalid-argument: timestamp: more than 5 minutes in the future");

  auto reserve = [&](uint32_t ttl) {
    auto request = t.reserveRequest();
    setUsage(request.initRequest(), "", "api", "calls", 1);
    request.setTtlSeconds(ttl);
    return f.errorOf(request.send().ignoreResult());
  };
  CHECK(reserve(0) == "");  // The default, 300 s.
  CHECK(reserve(contract::MAX_RESERVE_TTL_SECONDS) == "");
  CHECK(refusal(reserve(contract::MAX_RESERVE_TTL_SECONDS + 1)) ==
        "invalid-argument: ttlSeconds: an integer from 1 to 86400");

  auto commit = [&](std::string id, int64_t amount) {
    auto request = t.commitRequest();
    request.setReservationId(id);
    request.setAmount(amount);
    return f.errorOf(request.send().ignoreResult());
  };
  CHECK(commit(std::string(128, 'r'), 0).find("not-found:") != std::string::npos);
  CHECK(commit(std::string(129, 'r'), 0).find("invalid-argument: reservationId:") !=
        std::string::npos);
  CHECK(commit("rsv_x", -1).find("invalid-argument: amount:") != std::string::npos);
  CHECK(commit("rsv_x", maxAmount + 1).find("invalid-argument: amount:") != std::string::npos);
}

TEST_CASE("A batch with one malformed item fails whole, naming it, and records none of it") {
  Fixture f;
  limitRules(f, 10);
  auto t = tenantCap(f, "t1");
  auto track = t.trackBatchRequest();
  auto tracks = track.initRequests(3);
  for (uint i = 0; i < 3; ++i) setUsage(tracks[i].initUsage(), "", "api", "calls", 1);
  tracks[1].getUsage().setResource("API");
  auto trackError = f.errorOf(track.send().ignoreResult());
  CHECK(trackError.find("invalid-argument: requests[1]:") != std::string::npos);
  auto consume = t.consumeBatchRequest();
  auto items = consume.initRequests(3);
  for (uint i = 0; i < 3; ++i) setUsage(items[i], "", "api", "calls", 1);
  items[2].setAmount(0);
  CHECK(f.errorOf(consume.send().ignoreResult()).find("invalid-argument: requests[2]:") !=
        std::string::npos);
  CHECK(f.limits->usage(*f.tenants->find("t1"), "")[0].current == 0);
}

namespace {
// A second, raw connection to the same RpcServer: for bytes no well-behaved client would send.
struct RawPeer {
  kj::Own<kj::AsyncIoStream> stream;
  explicit RawPeer(Fixture& f) {
    int fds[2];
    KJ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    f.server->serve(
        f.io.lowLevelProvider->wrapSocketFd(fds[0], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP));
    stream =
        f.io.lowLevelProvider->wrapSocketFd(fds[1], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  }
  void send(kj::ArrayPtr<const capnp::word> words, Fixture& f) {
    stream->write(words.begin(), words.size() * sizeof(capnp::word)).wait(f.io.waitScope);
  }
  void sendMessage(capnp::MessageBuilder& message, Fixture& f) {
    capnp::writeMessage(*stream, message).wait(f.io.waitScope);
  }
  // Bootstrap (question 0), as a client's first message.
  void bootstrap(Fixture& f) {
    capnp::MallocMessageBuilder message;
    message.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(0);
    sendMessage(message, f);
  }
  // A Call (question 1) on the bootstrap capability, for the caller to fill in.
  static capnp::rpc::Call::Builder callOnBootstrap(capnp::MessageBuilder& message) {
    auto call = message.initRoot<capnp::rpc::Message>().initCall();
    call.setQuestionId(1);
    call.initTarget().initPromisedAnswer().setQuestionId(0);
    return call;
  }
  // True once the server has closed this connection (EOF within the deadline).
  bool closedByServer(Fixture& f) {
    char buf[4096];
    auto read = stream->tryRead(buf, 1, sizeof(buf));
    for (;;) {
      size_t n = read.exclusiveJoin(
                         f.io.provider->getTimer().afterDelay(5 * kj::SECONDS).then([]() -> size_t {
                           return 9999;
                         }))
                     .wait(f.io.waitScope);
      if (n == 0) return true;
      if (n == 9999) return false;
      read = stream->tryRead(buf, 1, sizeof(buf));
    }
  }
};

// Health over the well-behaved connection: the server is still up and serving others.
void stillServes(Fixture& f) {
  CHECK(f.sidecar().healthRequest().send().wait(f.io.waitScope).getStatus() == "ok");
}
}  // namespace

TEST_CASE("A truncated frame ends only that connection") {
  Fixture f;
  stillServes(f);
  RawPeer raw(f);
  uint32_t header[2] = {0, 10};  // One segment of 10 words, then nothing.
  raw.stream->write(header, sizeof(header)).wait(f.io.waitScope);
  raw.stream->shutdownWrite();
  CHECK(raw.closedByServer(f));
  stillServes(f);
}

TEST_CASE("A 4 GiB segment-size claim is refused without allocating it") {
  Fixture f;
  RawPeer raw(f);
  uint32_t header[2] = {0, 0xffffffffu};  // 32 GiB in words: far over the reader's limit.
  raw.stream->write(header, sizeof(header)).wait(f.io.waitScope);
  CHECK(raw.closedByServer(f));
  stillServes(f);
}

TEST_CASE("A 512-deep pointer chain in a call does not hurt the server") {
  Fixture f;
  RawPeer raw(f);
  raw.bootstrap(f);
  capnp::MallocMessageBuilder message;
  auto call = raw.callOnBootstrap(message);
  call.setInterfaceId(capnp::typeId<rpc::Sidecar>());
  call.setMethodId(0);  // health: takes no parameters, so the chain is never needed.
  // A chain of structs with one pointer each, 512 levels deep.
  capnp::AnyPointer::Builder cursor = call.initParams().getContent();
  for (int depth = 0; depth < 512; ++depth) {
    cursor = cursor.initAsAnyStruct(0, 1).getPointerSection()[0];
  }
  raw.sendMessage(message, f);
  stillServes(f);
}

TEST_CASE("A call on an unknown interface fails that call and nothing else") {
  Fixture f;
  RawPeer raw(f);
  raw.bootstrap(f);
  capnp::MallocMessageBuilder message;
  auto call = raw.callOnBootstrap(message);
  call.setInterfaceId(0x1234567812345678ull);
  call.setMethodId(7);
  call.initParams();
  raw.sendMessage(message, f);
  // The server answers with a Return carrying an exception; the connection stays open.
  auto reply = capnp::readMessage(*raw.stream).wait(f.io.waitScope);  // Bootstrap's return.
  auto second = capnp::readMessage(*raw.stream).wait(f.io.waitScope);
  auto ret = second->getRoot<capnp::rpc::Message>();
  REQUIRE(ret.isReturn());
  CHECK(ret.getReturn().isException());
  (void)reply;
  stillServes(f);
}

TEST_CASE("bindUnixSocket creates a 0660 socket in a 0750 directory") {
  testing::TempDir dir;
  auto path = dir.file("run/t.sock");
  int fd = bindUnixSocket(path);
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
  REQUIRE(stat(dir.file("run").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0750);
  close(fd);
}

TEST_CASE("bindUnixSocket replaces a stale socket but never a live one") {
  testing::TempDir dir;
  auto path = dir.file("t.sock");
  int live = bindUnixSocket(path);
  CHECK_THROWS_WITH(bindUnixSocket(path), Catch::Contains("another process is serving"));
  close(live);  // Now only the file remains, as after a crash.
  int again = bindUnixSocket(path);
  CHECK(again >= 0);
  close(again);
}

TEST_CASE("bindUnixSocket refuses to replace a regular file") {
  testing::TempDir dir;
  auto path = dir.file("t.sock");
  std::ofstream(path) << "not a socket";
  CHECK_THROWS_WITH(bindUnixSocket(path), Catch::Contains("not a socket"));
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
}

}  // namespace tenantd
