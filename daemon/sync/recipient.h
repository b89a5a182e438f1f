#pragma once
// The key secret values travel sealed to (docs/SYNC.md, "What travels"): an X25519 key pair.
// The central seals each value with crypto_box_seal to a recipient's public half; only the
// holder of the private half opens it. For a fleet fed by one static snapshot, every sidecar
// holds the same fleet key (a credential); the private half is a 32-byte key file like the
// master key, so `tenantd keys generate` makes one.

#include "secrets/keyring.h"
#include "secrets/sealer.h"
#include "sync/envelope.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tenantd::sync {

class RecipientKey {
public:
  explicit RecipientKey(std::unique_ptr<SecretKey> privateKey);
  const PublicKey& publicKey() const { return public_; }
  const std::string& id() const { return id_; }  // keyIdOf(publicKey())
  // The plaintext, or nullopt if `sealed` was not sealed to this key or was changed.
  std::optional<SecretValue> open(std::string_view sealed) const;

private:
  std::unique_ptr<SecretKey> private_;
  PublicKey public_;
  std::string id_;
};

// `value` sealed to `recipient`: only its private half opens it.
std::string sealTo(const PublicKey& recipient, const SecretValue& value);

}  // namespace tenantd::sync
