#pragma once
// The central's signed envelope (docs/SYNC.md, "The feed"): every body a sidecar takes from a
// central, or from a snapshot file on any HTTP server, is
//   {"payload": "<base64 of the payload bytes>",
//    "signatures": [{"keyid": "<16 hex>", "sig": "<base64 Ed25519 signature>"}]}
// The signature covers the payload's exact bytes, so nothing has to be canonicalised; several
// signatures let a central roll a new key in before the old one is dropped. A sidecar trusts a
// list of public keys and needs one good signature from one of them.

#include "secrets/keyring.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tenantd::sync {

constexpr size_t PUBLIC_KEY_BYTES = 32;
constexpr size_t SIGNATURE_BYTES = 64;
using PublicKey = std::array<uint8_t, PUBLIC_KEY_BYTES>;

// "<16 hex>": the first 8 bytes of BLAKE2b-256 of the public key. Names a key in signatures,
// logs and metrics without being the key.
std::string keyIdOf(const PublicKey& key);

struct VerifyKey {
  std::string id;  // keyIdOf(key)
  PublicKey key;

  static VerifyKey of(const PublicKey& key) { return {keyIdOf(key), key}; }
};

// An Ed25519 signing key: its 32-byte seed in guarded memory (a SecretKey, so the same key
// files and `tenantd keys generate` serve), its public half beside it.
class SigningKey {
public:
  explicit SigningKey(std::unique_ptr<SecretKey> seed);
  const VerifyKey& verifyKey() const { return verify_; }
  std::array<uint8_t, SIGNATURE_BYTES> sign(std::string_view bytes) const;

private:
  std::unique_ptr<SecretKey> seed_;
  VerifyKey verify_;
};

// Why an envelope was refused. `reason` is a fixed word for the metric's label
// (tenantd_sync_rejected_total{reason}); `message` says what was wrong in words for the log. No
// part of the payload is ever quoted back.
struct EnvelopeError {
  std::string reason;  // "malformed", "unsigned", "unknown_key", "bad_signature"
  std::string message;
};

// The envelope for `payload`, signed by each key.
std::string sealEnvelope(std::string_view payload, std::span<const SigningKey* const> keys);

// The payload's bytes, when `body` is a well-formed envelope with at least one signature that a
// key of `trusted` verifies. Signatures by keys not in `trusted` are skipped (a key being rolled
// in); a signature by a trusted key that fails refuses the whole envelope. With `trusted` empty
// (only `--dev`), signatures are not checked at all, and the caller says so at start.
std::variant<std::string, EnvelopeError> openEnvelope(std::string_view body,
                                                      std::span<const VerifyKey> trusted);

// A public key file: 64 hex characters (whitespace ignored), the format of key files
// (secrets/keyring.h: readKeyFile), as `tenantd central` will write them.
std::variant<PublicKey, KeyError> readPublicKeyFile(const std::string& path);
std::string toHex(const PublicKey& key);

}  // namespace tenantd::sync
