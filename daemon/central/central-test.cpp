#include "central/central-api.h"

#include <kj/timer.h>
#include <sodium.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstring>

#include "auth/token.h"
#include "sync/applier.h"
#include "sync/base64.h"
#include "sync/document.h"
#include "testing/service-stack.h"

namespace tenantd::central {

namespace {
using nlohmann::json;

std::unique_ptr<SecretKey> filled(uint8_t fill) {
  REQUIRE(sodium_init() >= 0);  // Guarded memory needs libsodium, before any ServiceStack.
  auto key = std::make_unique<SecretKey>();
  std::memset(key->data(), fill, MASTER_KEY_BYTES);
  return key;
}

// A central's /v1 over a real store, with a timer the test moves.
struct Central {
  explicit Central(kj::WaitScope& ws, bool dev, std::optional<sync::PublicKey> fleet = {})
      : s(ws, {"acme"}),
        feed(*s.writer, SnapshotSource{"c1", s.keyring, fleet, {signer}}, timer, s.clock, s.log),
        api(feed, *s.writer, dev, s.clock, s.log) {}
  testing::ServiceStack s;
  std::shared_ptr<const sync::SigningKey> signer =
      std::make_shared<const sync::SigningKey>(filled(1));
  kj::TimerImpl timer{kj::origin<kj::TimePoint>()};
  Feed feed;
  CentralApi api;

  HttpResponse call(std::string_view method, std::string_view target, std::string token = "",
                    std::string_view body = "") {
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query =
        target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);
    std::string authorization = "Bearer " + token;
    std::pair<std::string_view, std::string_view> headers[] = {{"authorization", authorization}};
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.query = query;
    r.body = body;
    if (!token.empty()) r.headers = headers;
    HttpResult result = api.handle(r);
    if (result.is<HttpResponse>()) return kj::mv(result.get<HttpResponse>());
    return result.get<kj::Promise<HttpResponse>>().wait(s.waitScope);
  }

  std::string hostToken(const std::string& host) {
    IssuedToken issued = issueToken();
    std::string token = "tnh_" + issued.secret.substr(4);
    s.writer
        ->submit<bool>([host, hash = hashToken(token), now = s.clock.now()](WriterContext& ctx) {
          return ctx.sync().createHost(host, hash, now);
        })
        .wait(s.waitScope);
    return token;
  }
};

std::string registration(const std::string& host, const sync::PublicKey& key) {
  return json{{"host", host}, {"recipientKey", sync::toBase64(key.data(), key.size())}}.dump();
}
}  // namespace

TEST_CASE("Outside --dev every /v1 call needs its host's token, and a key to seal secrets to") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  Central c(ws, false);
  CHECK(c.call("GET", "/v1/sync").status == 401);
  CHECK(c.call("GET", "/v1/sync", "tnh_unknown").status == 401);
  std::string token = c.hostToken("edge-1");
  CHECK(c.call("GET", "/v1/sync?host=edge-2", token).status == 403);

  // No key registered and no fleet key: no payload, rather than one without the secrets.
  CHECK(c.call("GET", "/v1/sync", token).status == 409);
  sync::RecipientKey key(filled(5));
  CHECK(c.call("POST", "/v1/hosts", token, registration("edge-2", key.publicKey())).status == 403);
  CHECK(c.call("POST", "/v1/hosts", token, registration("edge-1", key.publicKey())).status == 200);
  auto sync = c.call("GET", "/v1/sync", token);
  REQUIRE(sync.status == 200);
  sync::VerifyKey trusted[] = {c.signer->verifyKey()};
  auto payload = sync::openEnvelope(sync.body, trusted);
  REQUIRE(std::holds_alternative<std::string>(payload));

  CHECK(c.call("POST", "/v1/status", token,
               R"({"host":"edge-1","appliedVersion":3,"lastError":null,"lastSuccessAt":7})")
            .status == 204);
  auto hosts = json::parse(c.call("GET", "/v1/hosts", token).body)["hosts"];
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0]["host"] == "edge-1");
  CHECK(hosts[0]["appliedVersion"] == 3);
  CHECK(hosts[0]["registered"] == true);
  CHECK(hosts[0]["stale"] == false);
  c.s.clock.advance(CentralApi::STALE_MS + 1);
  CHECK(json::parse(c.call("GET", "/v1/hosts", token).body)["hosts"][0]["stale"] == true);
}

TEST_CASE("In --dev a host without a token names itself and is served") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  sync::RecipientKey fleet(filled(6));
  Central c(ws, true, fleet.publicKey());
  CHECK(c.call("GET", "/v1/sync?host=lab-1").status == 200);
  CHECK(c.call("GET", "/v1/sync?host=bad%20id").status == 400);
  CHECK(c.call("GET", "/v1/sync", "tnh_unknown").status == 401);  // A token is still checked.
}

TEST_CASE("The central's snapshot applies on a sidecar to the same documents and secrets") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  Central c(ws, false);
  c.s.saveConfig("acme", json{{"cache", {{"ttl", 9}}}});
  c.s.secrets->put("acme", "api_key", testing::value("v4lue"), std::nullopt, "test").wait(ws);
  std::string token = c.hostToken("edge-1");
  sync::RecipientKey key(filled(5));
  REQUIRE(c.call("POST", "/v1/hosts", token, registration("edge-1", key.publicKey())).status ==
          200);
  std::string body = c.call("GET", "/v1/sync", token).body;

  sync::VerifyKey trusted[] = {c.signer->verifyKey()};
  auto bytes = std::get<std::string>(sync::openEnvelope(body, trusted));
  auto parsed = sync::parsePayload(bytes, {});
  REQUIRE(std::holds_alternative<sync::SyncPayload>(parsed));

  testing::ServiceStack sidecar(ws, {});
  sync::Applier applier(*sidecar.services, *sidecar.writer, sidecar.keyring,
                        {std::make_shared<const sync::RecipientKey>(filled(5))}, std::nullopt,
                        sidecar.log);
  auto out = applier.apply(std::get<sync::SyncPayload>(kj::mv(parsed))).wait(ws);
  REQUIRE(out.kind == sync::ApplyOutcome::Kind::APPLIED);
  TenantState& there = sidecar.tenant("acme");
  TenantState& here = c.s.tenant("acme");
  CHECK(there.config.doc == here.config.doc);
  CHECK(there.configVersion == here.configVersion);
  CHECK(there.info.name == here.info.name);
  auto opened = sidecar.secrets->open("acme", "api_key", "test").wait(ws);
  REQUIRE(opened.outcome == OpenedSecret::Outcome::OK);
  CHECK(opened.value->view() == "v4lue");
  CHECK(body.find("v4lue") == std::string::npos);
}

TEST_CASE("A request at the current version waits for the next change or for its wait") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  sync::RecipientKey fleet(filled(6));
  Central c(ws, true, fleet.publicKey());
  int64_t now = c.feed.version().wait(ws);

  auto expired = c.feed.sync(now, 1000);
  c.s.writer->submit<void>([](WriterContext&) {}).wait(ws);  // Its version read: it waits now.
  c.timer.advanceTo(c.timer.now() + 1000 * kj::MILLISECONDS);
  auto answer = expired.wait(ws);
  CHECK(answer.kind == FeedAnswer::Kind::NOT_MODIFIED);
  CHECK(answer.version == now);

  auto woken = c.feed.sync(now, 60'000);
  c.s.writer->submit<void>([](WriterContext&) {}).wait(ws);
  c.s.saveConfig("acme", json{{"cache", {{"ttl", 1}}}});
  c.timer.advanceTo(c.timer.now() + Feed::POLL_MS * kj::MILLISECONDS);  // The counter's poll.
  auto changed = woken.wait(ws);
  CHECK(changed.kind == FeedAnswer::Kind::CHANGES);
  CHECK(changed.version > now);
}

}  // namespace tenantd::central
