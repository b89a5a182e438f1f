#include "sealer.h"

#include <sodium.h>

#include <cstring>
#include <new>

namespace tenantd {

SecretValue::SecretValue(size_t size) : size_(size) {
  bytes_ = static_cast<uint8_t*>(sodium_malloc(size == 0 ? 1 : size));
  if (bytes_ == nullptr) throw std::bad_alloc();
}

SecretValue::SecretValue(const void* data, size_t size) : SecretValue(size) {
  memcpy(bytes_, data, size);
}

SecretValue::~SecretValue() {
  if (bytes_ != nullptr) sodium_free(bytes_);
}

SecretValue::SecretValue(SecretValue&& other) noexcept : bytes_(other.bytes_), size_(other.size_) {
  other.bytes_ = nullptr;
  other.size_ = 0;
}

SecretValue& SecretValue::operator=(SecretValue&& other) noexcept {
  if (this != &other) {
    if (bytes_ != nullptr) sodium_free(bytes_);  // Zeroes first.
    bytes_ = other.bytes_;
    size_ = other.size_;
    other.bytes_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

namespace {
struct TenantKey {
  uint8_t bytes[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  ~TenantKey() { sodium_memzero(bytes, sizeof(bytes)); }
};

// The per-tenant key: BLAKE2b keyed with the master key over a domain-separated tenant id. This
// is the primitive under libsodium's crypto_kdf, which takes only a 64-bit subkey id; tenant ids
// are strings, and hashing them to 64 bits could collide.
void deriveTenantKey(const SecretKey& master, std::string_view tenantId, TenantKey& out) {
  static const char DOMAIN[] = "tenantd secrets v1\0";
  crypto_generichash_state state;
  crypto_generichash_init(&state, master.data(), MASTER_KEY_BYTES, sizeof(out.bytes));
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(DOMAIN), sizeof(DOMAIN));
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(tenantId.data()),
                            tenantId.size());
  crypto_generichash_final(&state, out.bytes, sizeof(out.bytes));
  sodium_memzero(&state, sizeof(state));
}

void appendField(std::vector<uint8_t>& out, std::string_view field) {
  uint32_t n = static_cast<uint32_t>(field.size());
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), field.begin(), field.end());
}

// Length-prefixed fields, so ("ab", "c") and ("a", "bc") never produce the same bytes.
std::vector<uint8_t> associatedData(const SecretLabel& label, std::string_view keyId) {
  std::vector<uint8_t> ad;
  auto appendInt = [&ad](int64_t v) {
    for (int i = 7; i >= 0; --i) ad.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  appendField(ad, label.format == 1 ? "tenantd-secret-v1" : "tenantd-secret-v2");
  appendField(ad, label.tenantId);
  appendField(ad, label.name);
  appendInt(label.version);
  appendField(ad, keyId);
  if (label.format >= 2) {
    // Whoever can write the database cannot extend or remove an expiry without the seal failing.
    ad.push_back(label.expiresAt ? 1 : 0);
    appendInt(label.expiresAt.value_or(0));
  }
  return ad;
}
}  // namespace

SealedValue seal(const SecretKey& master, const SecretLabel& label, const SecretValue& plaintext) {
  SealedValue out;
  out.keyId = master.id();
  out.nonce.resize(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  randombytes_buf(out.nonce.data(), out.nonce.size());
  out.ciphertext.resize(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  auto ad = associatedData(label, out.keyId);
  TenantKey key;
  deriveTenantKey(master, label.tenantId, key);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.ciphertext.data(), &written, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr,
                                             out.nonce.data(), key.bytes);
  out.ciphertext.resize(written);
  return out;
}

std::optional<SecretValue> open(const SecretKey& master, const SecretLabel& label,
                                const SealedValue& sealed) {
  if (sealed.keyId != master.id() ||
      sealed.nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      sealed.ciphertext.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return std::nullopt;
  }
  auto ad = associatedData(label, sealed.keyId);
  TenantKey key;
  deriveTenantKey(master, label.tenantId, key);
  SecretValue plain(sealed.ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), &written, nullptr, sealed.ciphertext.data(), sealed.ciphertext.size(),
          ad.data(), ad.size(), sealed.nonce.data(), key.bytes) != 0) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace tenantd
