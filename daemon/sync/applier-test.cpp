#include "sync/applier.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstring>

#include "testing/service-stack.h"

namespace tenantd::sync {

namespace {
using nlohmann::json;

std::shared_ptr<const RecipientKey> recipient(uint8_t fill) {
  auto key = std::make_unique<SecretKey>();
  std::memset(key->data(), fill, MASTER_KEY_BYTES);
  return std::make_shared<const RecipientKey>(std::move(key));
}

// A payload of tenant `id` with a rule on llm/tokens at `limit` and one secret sealed to `to`.
// Its configuration is {"cache":{"ttl":N}} as version N, N = `configVersion` or `version`.
SyncPayload payload(int64_t version, const std::string& id, int64_t limit, const PublicKey& to,
                    const std::string& secretValue = "s3cr3t", bool full = false,
                    std::optional<int64_t> configVersion = std::nullopt) {
  int64_t config = configVersion.value_or(version);
  StoredDocuments d;
  d.info = Tenant{id, "Tenant " + id, "pro", "UTC", 0, std::nullopt, std::nullopt, std::nullopt};
  d.config = std::make_pair(R"({"cache":{"ttl":)" + std::to_string(config) + "}}", config);
  d.rules = std::make_pair(json::array({{{"resource", "llm"},
                                         {"metric", "tokens"},
                                         {"period", "day"},
                                         {"limit", limit},
                                         {"gateAction", "block"}}})
                               .dump(),
                           version);
  d.secrets.push_back(
      {"api_key", version, std::nullopt, keyIdOf(to), sealTo(to, testing::value(secretValue))});
  auto parsed = parsePayload(writePayload("central-1", version, full, {d}, {}), {});
  if (auto* e = std::get_if<PayloadError>(&parsed)) FAIL(e->describe());
  return std::get<SyncPayload>(std::move(parsed));
}

ApplyOutcome apply(testing::ServiceStack& s, Applier& a, SyncPayload p) {
  return a.apply(kj::mv(p)).wait(s.waitScope);
}

std::optional<AppliedSync> storedApplied(testing::ServiceStack& s) {
  return s.writer
      ->submit<std::optional<AppliedSync>>([](WriterContext& ctx) { return ctx.sync().applied(); })
      .wait(s.waitScope);
}

Decision check(testing::ServiceStack& s, const char* tenant, int64_t amount) {
  return s.limits->check(s.tenant(tenant), UsageQuery{"", "llm", "tokens", amount});
}

// A sidecar's services over a fresh store holding `tenants`, and its applier with key 3.
struct Sidecar {
  explicit Sidecar(std::initializer_list<const char*> tenants = {}) : s(ws, tenants) {}
  kj::EventLoop loop;
  kj::WaitScope ws{loop};
  testing::ServiceStack s;
  std::shared_ptr<const RecipientKey> key = recipient(3);
  Applier a{*s.services, *s.writer, s.keyring, {key}, std::nullopt, s.log};

  // acme at `version` with a limit of 100 on llm/tokens, applied.
  void startAt(int64_t version) {
    REQUIRE(apply(s, a, payload(version, "acme", 100, key->publicKey())).kind ==
            ApplyOutcome::Kind::APPLIED);
  }
};
}  // namespace

TEST_CASE("A payload is applied to the store and to memory: tenant, rules, config, secret") {
  Sidecar side;
  auto& s = side.s;
  auto& key = side.key;
  auto& a = side.a;

  auto out = apply(s, a, payload(5, "acme", 100, key->publicKey()));
  REQUIRE(out.kind == ApplyOutcome::Kind::APPLIED);
  CHECK(out.tenants == 1);
  CHECK(a.applied()->version == 5);
  CHECK(storedApplied(s)->version == 5);
  CHECK(storedApplied(s)->central == "central-1");

  TenantState& t = s.tenant("acme");
  CHECK(t.configVersion == 5);
  CHECK(t.config.doc == json::parse(R"({"cache":{"ttl":5}})"));
  CHECK(t.rulesVersion == 5);
  CHECK_FALSE(check(s, "acme", 101).allowed);
  auto opened = s.secrets->open("acme", "api_key", "test").wait(s.waitScope);
  REQUIRE(opened.outcome == OpenedSecret::Outcome::OK);
  CHECK(opened.value->view() == "s3cr3t");
  CHECK(opened.version == 5);
}

TEST_CASE("Older, equal and foreign payloads change nothing") {
  Sidecar side;
  auto& s = side.s;
  auto& key = side.key;
  auto& a = side.a;
  side.startAt(5);

  auto older = apply(s, a, payload(4, "acme", 7, key->publicKey()));
  CHECK(older.kind == ApplyOutcome::Kind::REFUSED);
  CHECK(older.reason == "replayed");
  CHECK(apply(s, a, payload(5, "acme", 7, key->publicKey())).kind == ApplyOutcome::Kind::UNCHANGED);
  auto foreign = payload(9, "acme", 7, key->publicKey());
  foreign.central = "someone-else";
  auto other = apply(s, a, kj::mv(foreign));
  CHECK(other.reason == "other_central");
  CHECK(check(s, "acme", 100).allowed);  // Still the limit of version 5.
  CHECK(storedApplied(s)->version == 5);
}

TEST_CASE("A secret this host cannot open refuses the whole payload before anything is written") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"old"});
  auto mine = recipient(3);
  auto theirs = recipient(4);
  Applier a(*s.services, *s.writer, s.keyring, {mine}, std::nullopt, s.log);

  // Sealed to another key: refused on sight.
  auto wrongKey = apply(s, a, payload(5, "acme", 100, theirs->publicKey(), "x", true));
  CHECK(wrongKey.reason == "secret");
  CHECK(wrongKey.message.find("sealed to key " + theirs->id()) != std::string::npos);

  // Named for this host but not openable (a forged id): refused by the job, nothing written,
  // and the tenant a full snapshot would have deleted is served again.
  auto forged = payload(6, "acme", 100, theirs->publicKey(), "x", true);
  forged.tenants[0].secrets[0].recipient = mine->id();
  auto refused = apply(s, a, kj::mv(forged));
  CHECK(refused.reason == "secret");
  CHECK(refused.message.find("does not open") != std::string::npos);
  CHECK(s.tenants->find("acme") == nullptr);
  CHECK(s.tenants->find("old") != nullptr);
  CHECK_FALSE(storedApplied(s).has_value());
  CHECK_FALSE(a.applied().has_value());
}

TEST_CASE("A full snapshot deletes the tenants it does not name, usage recorded just before too") {
  Sidecar side({"old"});
  auto& s = side.s;
  auto& key = side.key;
  auto& a = side.a;
  // Usage of the doomed tenant still in the batcher: it must reach the store before the delete.
  auto tracked = s.limits->track(s.tenant("old"), TrackRequest{{"", "api", "calls", 1}, "", {}});

  auto out = apply(s, a, payload(5, "acme", 100, key->publicKey(), "x", true));
  REQUIRE(out.kind == ApplyOutcome::Kind::APPLIED);
  CHECK(out.deleted == 1);
  tracked.wait(s.waitScope);
  CHECK(s.tenants->find("old") == nullptr);
  CHECK(s.tenants->find("acme") != nullptr);
  auto gone = s.writer
                  ->submit<bool>([](WriterContext& ctx) {
                    return ctx.catalog().findTenant("old").has_value();
                  })
                  .wait(s.waitScope);
  CHECK_FALSE(gone);
}

TEST_CASE("New rules from the central keep the usage already counted in their window") {
  Sidecar side;
  auto& s = side.s;
  auto& key = side.key;
  auto& a = side.a;
  side.startAt(5);
  s.limits->track(s.tenant("acme"), TrackRequest{{"", "llm", "tokens", 60}, "", {}})
      .wait(s.waitScope);

  REQUIRE(apply(s, a, payload(6, "acme", 80, key->publicKey())).kind ==
          ApplyOutcome::Kind::APPLIED);
  CHECK(s.tenant("acme").rulesVersion == 6);
  CHECK(check(s, "acme", 20).allowed);
  CHECK_FALSE(check(s, "acme", 21).allowed);  // 60 counted + 21 > 80.
}

TEST_CASE("A configuration from the central reaches config watchers, once per change") {
  Sidecar side;
  auto& s = side.s;
  auto& key = side.key;
  auto& a = side.a;
  side.startAt(5);
  struct Counter final : ConfigListener {
    int told = 0;
    void configChanged() override { ++told; }
  } counter;
  auto subscription = s.settings->watchConfig("acme", counter);
  REQUIRE(apply(s, a, payload(6, "acme", 100, key->publicKey())).kind ==
          ApplyOutcome::Kind::APPLIED);
  CHECK(counter.told == 1);
  CHECK(s.tenant("acme").config.doc == json::parse(R"({"cache":{"ttl":6}})"));
  // The same configuration again (another tenant changed): watchers are not told.
  REQUIRE(apply(s, a, payload(7, "acme", 100, key->publicKey(), "s3cr3t", false, 6)).kind ==
          ApplyOutcome::Kind::APPLIED);
  CHECK(counter.told == 1);
}

}  // namespace tenantd::sync
