#pragma once
// Seals and opens tenant secret values. XChaCha20-Poly1305 (IETF AEAD) with a fresh random
// 24-byte nonce per write, under a per-tenant key derived from a master key, with associated
// data that binds the tenant, the secret's name, its version, its expiry and the key id: a
// sealed value copied to another tenant, name or version, given another expiry, or changed in
// any byte, fails to open.

#include "keyring.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd {

// Plaintext in guarded memory, zeroed when released. Never logged, never copied to std::string
// outside the narrow spot that hands it to a caller.
class SecretValue {
public:
  explicit SecretValue(size_t size);
  SecretValue(const void* data, size_t size);
  ~SecretValue();
  SecretValue(SecretValue&& other) noexcept;
  SecretValue& operator=(SecretValue&& other) noexcept;
  SecretValue(const SecretValue&) = delete;

  uint8_t* data() { return bytes_; }
  const uint8_t* data() const { return bytes_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_), size_}; }

private:
  uint8_t* bytes_;
  size_t size_;
};

struct SealedValue {
  std::string keyId;
  std::vector<uint8_t> nonce;
  std::vector<uint8_t> ciphertext;  // Includes the 16-byte tag.
};

// Format 2 binds expiresAt as well; format 1 (before it) is read only to re-seal old rows once.
constexpr int SEAL_FORMAT = 2;

struct SecretLabel {
  std::string_view tenantId;
  std::string_view name;
  int64_t version;
  std::optional<int64_t> expiresAt = std::nullopt;  // Unix ms; nullopt: never expires.
  int format = SEAL_FORMAT;
};

SealedValue seal(const SecretKey& master, const SecretLabel& label, const SecretValue& plaintext);
// nullopt if the value was tampered with, moved, or sealed under another key.
std::optional<SecretValue> open(const SecretKey& master, const SecretLabel& label,
                                const SealedValue& sealed);

}  // namespace tenantd
