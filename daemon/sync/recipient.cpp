#include "sync/recipient.h"

#include <sodium.h>

namespace tenantd::sync {

RecipientKey::RecipientKey(std::unique_ptr<SecretKey> privateKey)
    : private_(std::move(privateKey)) {
  static_assert(MASTER_KEY_BYTES == crypto_box_SECRETKEYBYTES);
  static_assert(PUBLIC_KEY_BYTES == crypto_box_PUBLICKEYBYTES);
  crypto_scalarmult_base(public_.data(), private_->data());
  id_ = keyIdOf(public_);
}

std::optional<SecretValue> RecipientKey::open(std::string_view sealed) const {
  if (sealed.size() < crypto_box_SEALBYTES) return std::nullopt;
  SecretValue value(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(value.data(), reinterpret_cast<const uint8_t*>(sealed.data()),
                           sealed.size(), public_.data(), private_->data()) != 0) {
    return std::nullopt;
  }
  return value;
}

std::string sealTo(const PublicKey& recipient, const SecretValue& value) {
  std::string sealed(value.size() + crypto_box_SEALBYTES, '\0');
  crypto_box_seal(reinterpret_cast<uint8_t*>(sealed.data()), value.data(), value.size(),
                  recipient.data());
  return sealed;
}

}  // namespace tenantd::sync
