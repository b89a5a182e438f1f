#pragma once
// Small helpers for tests of sealed secrets.

#include "secrets/keyring.h"
#include "secrets/sealer.h"

#include <sodium.h>

#include <memory>
#include <string_view>

namespace tenantd::testing {

inline std::unique_ptr<SecretKey> randomKey() {
  auto k = std::make_unique<SecretKey>();
  randombytes_buf(k->data(), MASTER_KEY_BYTES);
  return k;
}

inline SecretValue value(std::string_view s) {
  return SecretValue(s.data(), s.size());
}

}  // namespace tenantd::testing
