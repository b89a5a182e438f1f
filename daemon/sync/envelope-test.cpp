#include "sync/envelope.h"

#include <sodium.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "testing/temp-dir.h"

namespace tenantd::sync {

namespace {

SigningKey keyFrom(uint8_t fill) {
  auto seed = std::make_unique<SecretKey>();
  std::memset(seed->data(), fill, MASTER_KEY_BYTES);
  return SigningKey(std::move(seed));
}

std::string payloadOf(const std::variant<std::string, EnvelopeError>& opened) {
  if (auto* e = std::get_if<EnvelopeError>(&opened)) FAIL(e->reason << ": " << e->message);
  return std::get<std::string>(opened);
}

std::string reasonOf(const std::variant<std::string, EnvelopeError>& opened) {
  REQUIRE(std::holds_alternative<EnvelopeError>(opened));
  return std::get<EnvelopeError>(opened).reason;
}

}  // namespace

TEST_CASE("An envelope signed by a trusted key opens to its exact payload bytes") {
  REQUIRE(sodium_init() >= 0);
  auto key = keyFrom(1);
  const SigningKey* keys[] = {&key};
  std::string payload = "{\"version\":42}\n\x01\xff binary too";
  std::string body = sealEnvelope(payload, keys);
  VerifyKey trusted[] = {key.verifyKey()};
  CHECK(payloadOf(openEnvelope(body, trusted)) == payload);
  CHECK(key.verifyKey().id.size() == 16);
  CHECK(key.verifyKey().id == keyIdOf(key.verifyKey().key));
}

TEST_CASE("During a key roll either key alone is enough, and a stranger's signature is skipped") {
  REQUIRE(sodium_init() >= 0);
  auto oldKey = keyFrom(1), newKey = keyFrom(2), stranger = keyFrom(3);
  const SigningKey* both[] = {&stranger, &oldKey, &newKey};
  std::string body = sealEnvelope("p", both);
  VerifyKey onlyOld[] = {oldKey.verifyKey()};
  VerifyKey onlyNew[] = {newKey.verifyKey()};
  CHECK(payloadOf(openEnvelope(body, onlyOld)) == "p");
  CHECK(payloadOf(openEnvelope(body, onlyNew)) == "p");
}

TEST_CASE("Unsigned, unknown-key and tampered envelopes are refused with their reason") {
  REQUIRE(sodium_init() >= 0);
  auto key = keyFrom(1), other = keyFrom(2);
  VerifyKey trusted[] = {key.verifyKey()};

  CHECK(reasonOf(openEnvelope(sealEnvelope("p", {}), trusted)) == "unsigned");
  const SigningKey* byOther[] = {&other};
  CHECK(reasonOf(openEnvelope(sealEnvelope("p", byOther), trusted)) == "unknown_key");

  // The payload changed after signing: the trusted key's signature no longer verifies.
  const SigningKey* byKey[] = {&key};
  auto doc = nlohmann::json::parse(sealEnvelope("{\"version\":1}", byKey));
  auto forged = nlohmann::json::parse(sealEnvelope("{\"version\":9}", byOther));
  doc["payload"] = forged["payload"];
  auto opened = openEnvelope(doc.dump(), trusted);
  CHECK(reasonOf(opened) == "bad_signature");
  CHECK(std::get<EnvelopeError>(opened).message.find(key.verifyKey().id) != std::string::npos);
}

TEST_CASE("Malformed envelopes are refused without quoting the payload back") {
  REQUIRE(sodium_init() >= 0);
  auto key = keyFrom(1);
  VerifyKey trusted[] = {key.verifyKey()};
  const char* bodies[] = {
      "",
      "not json",
      "[]",
      "{\"payload\":\"cA==\"}",
      "{\"signatures\":[]}",
      "{\"payload\":1,\"signatures\":[]}",
      "{\"payload\":\"c@cret==\",\"signatures\":[]}",
      "{\"payload\":\"cA==\",\"signatures\":{}}",
      "{\"payload\":\"cA==\",\"signatures\":[{\"keyid\":\"x\"}]}",
      "{\"payload\":\"cA==\",\"signatures\":[{\"keyid\":\"x\",\"sig\":\"cA==\"}]}",
      "{\"payload\":\"cA==\",\"signatures\":[],\"extra\":true}",
      "{\"payload\":\"cA==\",\"payload\":\"cQ==\",\"signatures\":[]}",
  };
  for (const char* body : bodies) {
    INFO(body);
    auto opened = openEnvelope(body, trusted);
    CHECK(reasonOf(opened) == "malformed");
    CHECK(std::get<EnvelopeError>(opened).message.find("c@cret") == std::string::npos);
  }
}

TEST_CASE("Without trusted keys (dev) the payload is taken unsigned, but still well-formed") {
  REQUIRE(sodium_init() >= 0);
  CHECK(payloadOf(openEnvelope(sealEnvelope("p", {}), {})) == "p");
  CHECK(reasonOf(openEnvelope("{\"payload\":\"!!\",\"signatures\":[]}", {})) == "malformed");
}

TEST_CASE("Public key files: 64 hex characters, anything else refused with the path") {
  REQUIRE(sodium_init() >= 0);
  testing::TempDir dir;
  auto key = keyFrom(7);
  std::string good = (dir.path() / "central.pub").string();
  std::ofstream(good) << toHex(key.verifyKey().key) << "\n";
  auto read = readPublicKeyFile(good);
  REQUIRE(std::holds_alternative<PublicKey>(read));
  CHECK(std::get<PublicKey>(read) == key.verifyKey().key);

  std::string bad = (dir.path() / "short.pub").string();
  std::ofstream(bad) << "abcd\n";
  auto refused = readPublicKeyFile(bad);
  REQUIRE(std::holds_alternative<KeyError>(refused));
  CHECK(std::get<KeyError>(refused).message.find(bad) != std::string::npos);
  CHECK(std::holds_alternative<KeyError>(readPublicKeyFile((dir.path() / "missing.pub").string())));
}

}  // namespace tenantd::sync
