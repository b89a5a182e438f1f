#include "sync/envelope.h"

#include "service/json-input.h"
#include "sync/base64.h"

#include <sodium.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace tenantd::sync {

namespace {

EnvelopeError malformed(std::string what) {
  return {"malformed", "the envelope is malformed: " + std::move(what)};
}

struct Signature {
  std::string keyId;
  std::string sig;  // SIGNATURE_BYTES bytes
};

}  // namespace

std::string keyIdOf(const PublicKey& key) {
  uint8_t digest[32];
  crypto_generichash(digest, sizeof(digest), key.data(), key.size(), nullptr, 0);
  char hex[8 * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, 8);
  return hex;
}

std::string toHex(const PublicKey& key) {
  char hex[PUBLIC_KEY_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), key.data(), key.size());
  return hex;
}

// The expanded secret key, in guarded memory for as long as the caller holds it, and the public
// half, both from the seed.
static std::unique_ptr<uint8_t, void (*)(void*)> expandSeed(const SecretKey& seed, PublicKey& pk) {
  static_assert(MASTER_KEY_BYTES == crypto_sign_SEEDBYTES);
  std::unique_ptr<uint8_t, void (*)(void*)> sk(
      static_cast<uint8_t*>(sodium_malloc(crypto_sign_SECRETKEYBYTES)), sodium_free);
  if (sk == nullptr) throw std::bad_alloc();
  crypto_sign_seed_keypair(pk.data(), sk.get(), seed.data());
  return sk;
}

SigningKey::SigningKey(std::unique_ptr<SecretKey> seed) : seed_(std::move(seed)) {
  PublicKey pk{};
  expandSeed(*seed_, pk);
  verify_ = VerifyKey::of(pk);
}

std::array<uint8_t, SIGNATURE_BYTES> SigningKey::sign(std::string_view bytes) const {
  PublicKey pk{};
  auto sk = expandSeed(*seed_, pk);  // Only while it signs.
  std::array<uint8_t, SIGNATURE_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(bytes.data()),
                       bytes.size(), sk.get());
  return sig;
}

std::string sealEnvelope(std::string_view payload, std::span<const SigningKey* const> keys) {
  nlohmann::json signatures = nlohmann::json::array();
  for (const SigningKey* key : keys) {
    auto sig = key->sign(payload);
    signatures.push_back(
        {{"keyid", key->verifyKey().id}, {"sig", toBase64(sig.data(), sig.size())}});
  }
  nlohmann::json envelope = {
      {"payload", toBase64(reinterpret_cast<const uint8_t*>(payload.data()), payload.size())},
      {"signatures", std::move(signatures)}};
  return envelope.dump();
}

std::variant<std::string, EnvelopeError> openEnvelope(std::string_view body,
                                                      std::span<const VerifyKey> trusted) {
  auto parsed = parseJsonInput(body);
  if (auto* e = std::get_if<JsonInputError>(&parsed)) return malformed("the body is " + e->message);
  const auto& doc = std::get<nlohmann::json>(parsed);
  if (!doc.is_object()) return malformed("not a JSON object");
  for (const auto& [name, value] : doc.items()) {
    if (name != "payload" && name != "signatures") {
      return malformed("unknown field \"" + shortName(name) + "\"");
    }
  }
  auto payloadField = doc.find("payload");
  if (payloadField == doc.end() || !payloadField->is_string()) {
    return malformed("\"payload\" must be a base64 string");
  }
  auto payload = fromBase64(payloadField->get_ref<const std::string&>());
  if (!payload) return malformed("\"payload\" is not valid base64");

  auto signaturesField = doc.find("signatures");
  if (signaturesField == doc.end() || !signaturesField->is_array()) {
    return malformed("\"signatures\" must be an array");
  }
  std::vector<Signature> signatures;
  for (const auto& entry : *signaturesField) {
    if (!entry.is_object() || entry.size() != 2 || !entry.contains("keyid") ||
        !entry.contains("sig") || !entry["keyid"].is_string() || !entry["sig"].is_string()) {
      return malformed("each signature must be {\"keyid\": string, \"sig\": base64 string}");
    }
    auto sig = fromBase64(entry["sig"].get_ref<const std::string&>());
    if (!sig || sig->size() != SIGNATURE_BYTES) {
      return malformed("a signature is not 64 bytes of base64");
    }
    signatures.push_back({entry["keyid"].get<std::string>(), std::move(*sig)});
  }
  if (trusted.empty()) return std::move(*payload);  // --dev: the caller warned at start.
  if (signatures.empty()) return EnvelopeError{"unsigned", "the envelope carries no signature"};

  bool verified = false;
  for (const auto& s : signatures) {
    for (const auto& key : trusted) {
      if (key.id != s.keyId) continue;
      if (crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(s.sig.data()),
                                      reinterpret_cast<const uint8_t*>(payload->data()),
                                      payload->size(), key.key.data()) != 0) {
        return EnvelopeError{"bad_signature",
                             "the signature by trusted key " + key.id + " does not verify"};
      }
      verified = true;
    }
  }
  if (!verified) {
    return EnvelopeError{"unknown_key", "no signature is by a trusted key (" +
                                            std::to_string(signatures.size()) + " signature" +
                                            (signatures.size() == 1 ? "" : "s") + ")"};
  }
  return std::move(*payload);
}

std::variant<PublicKey, KeyError> readPublicKeyFile(const std::string& path) {
  // The same format as a master key file: the one reader parses both. A public key needs no
  // private mode, and only passes through the guarded copy.
  auto read = readKeyFile(path, false);
  if (auto* e = std::get_if<KeyError>(&read)) return *e;
  PublicKey key{};
  std::memcpy(key.data(), std::get<std::unique_ptr<SecretKey>>(read)->data(), key.size());
  return key;
}

}  // namespace tenantd::sync
