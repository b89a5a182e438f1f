#pragma once
// Master keys for sealing tenant secrets. Key bytes live only in libsodium's guarded memory
// (sodium_malloc: guard pages, mlock'ed, excluded from core dumps) and are zeroed on release.
// The primary key seals new values; previous keys only open values sealed before a rotation.
// Each key has a public id (derived from the key, never revealing it) stored beside every value.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tenantd {

constexpr size_t MASTER_KEY_BYTES = 32;

// Owns one key in guarded memory.
class SecretKey {
public:
  SecretKey();  // Guarded, zeroed storage.
  ~SecretKey();
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  uint8_t* data() { return bytes_; }
  const uint8_t* data() const { return bytes_; }
  // "k_" + 16 hex chars of a keyed hash of a fixed label: identifies, does not reveal.
  std::string id() const;

private:
  uint8_t* bytes_;
};

class Keyring {
public:
  void setPrimary(std::unique_ptr<SecretKey> key);
  void addPrevious(std::unique_ptr<SecretKey> key);
  bool empty() const { return primary_ == nullptr; }
  const SecretKey& primary() const { return *primary_; }
  // The key with this id (primary or previous), or null.
  const SecretKey* find(std::string_view id) const;
  std::vector<std::string> ids() const;

private:
  std::unique_ptr<SecretKey> primary_;
  std::vector<std::unique_ptr<SecretKey>> previous_;
};

// Why a key could not be loaded, in words an operator can act on.
struct KeyError {
  std::string message;
};

// Reads a key file: 64 hex characters (whitespace ignored) or exactly 32 raw bytes. Refuses a
// file readable or writable by group or others unless `checkMode` is false (systemd credentials
// are private to the service by construction).
std::variant<std::unique_ptr<SecretKey>, KeyError> readKeyFile(const std::string& path,
                                                               bool checkMode);
// Writes a fresh random key as hex, mode 0600; refuses to overwrite.
std::optional<KeyError> generateKeyFile(const std::string& path);

}  // namespace tenantd
