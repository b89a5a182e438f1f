#include "keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tenantd {

SecretKey::SecretKey() {
  bytes_ = static_cast<uint8_t*>(sodium_malloc(MASTER_KEY_BYTES));
  if (bytes_ == nullptr) throw std::bad_alloc();
  sodium_memzero(bytes_, MASTER_KEY_BYTES);
}

SecretKey::~SecretKey() {
  sodium_free(bytes_);
}  // Zeroes before unmapping.

std::string SecretKey::id() const {
  static const char LABEL[] = "tenantd key id v1";
  uint8_t digest[8];
  crypto_generichash(digest, sizeof(digest), reinterpret_cast<const uint8_t*>(LABEL),
                     sizeof(LABEL) - 1, bytes_, MASTER_KEY_BYTES);
  char hex[sizeof(digest) * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return std::string("k_") + hex;
}

void Keyring::setPrimary(std::unique_ptr<SecretKey> key) {
  primary_ = std::move(key);
}

void Keyring::addPrevious(std::unique_ptr<SecretKey> key) {
  previous_.push_back(std::move(key));
}

const SecretKey* Keyring::find(std::string_view id) const {
  if (primary_ != nullptr && primary_->id() == id) return primary_.get();
  for (auto& k : previous_) {
    if (k->id() == id) return k.get();
  }
  return nullptr;
}

std::vector<std::string> Keyring::ids() const {
  std::vector<std::string> out;
  if (primary_ != nullptr) out.push_back(primary_->id());
  for (auto& k : previous_) out.push_back(k->id());
  return out;
}

std::variant<std::unique_ptr<SecretKey>, KeyError> readKeyFile(const std::string& path,
                                                               bool checkMode) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return KeyError{path + ": cannot open the key file: " + strerror(errno)};
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return KeyError{path + ": not a regular file"};
  }
  if (checkMode && (st.st_mode & 077) != 0) {
    close(fd);
    return KeyError{path + ": the key file is accessible to group or others; run chmod 600 " +
                    path};
  }
  // Read into guarded memory only; the plain stack buffer is zeroed before returning.
  uint8_t raw[130];
  ssize_t n = read(fd, raw, sizeof(raw));
  close(fd);
  auto key = std::make_unique<SecretKey>();
  std::optional<KeyError> error;
  if (n == static_cast<ssize_t>(MASTER_KEY_BYTES)) {
    memcpy(key->data(), raw, MASTER_KEY_BYTES);
  } else {
    size_t decoded = 0;
    if (n <= 0 ||
        sodium_hex2bin(key->data(), MASTER_KEY_BYTES, reinterpret_cast<const char*>(raw),
                       static_cast<size_t>(n), " \t\r\n", &decoded, nullptr) != 0 ||
        decoded != MASTER_KEY_BYTES) {
      error = KeyError{path + ": expected 64 hex characters (tenantd keys generate FILE)"};
    }
  }
  sodium_memzero(raw, sizeof(raw));
  if (error) return *error;
  return key;
}

std::optional<KeyError> generateKeyFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return KeyError{path + ": cannot create the key file: " + strerror(errno)};
  SecretKey key;
  randombytes_buf(key.data(), MASTER_KEY_BYTES);
  char hex[MASTER_KEY_BYTES * 2 + 2];
  sodium_bin2hex(hex, sizeof(hex) - 1, key.data(), MASTER_KEY_BYTES);
  hex[MASTER_KEY_BYTES * 2] = '\n';
  ssize_t written = write(fd, hex, MASTER_KEY_BYTES * 2 + 1);
  sodium_memzero(hex, sizeof(hex));
  bool ok = written == static_cast<ssize_t>(MASTER_KEY_BYTES * 2 + 1) && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    unlink(path.c_str());
    return KeyError{path + ": could not write the key file"};
  }
  return std::nullopt;
}

}  // namespace tenantd
