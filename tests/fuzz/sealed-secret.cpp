// Fuzzes the opening of sealed secrets, as rows read from the store reach it: key id, nonce and
// ciphertext of any length, both seal formats, with and without an expiry. Nothing forged may
// open; a value sealed here must open again only under the label it was sealed with.

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "secrets/keyring.h"
#include "secrets/sealer.h"

namespace {

using namespace tenantd;

const SecretKey& key() {
  static SecretKey* k = []() {
    if (sodium_init() < 0) std::abort();
    auto* made = new SecretKey();
    // A fixed key: inputs replay the same way in every run.
    for (size_t i = 0; i < MASTER_KEY_BYTES; ++i) made->data()[i] = static_cast<uint8_t>(i * 7);
    return made;
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const SecretKey& master = key();
  int format = data[0] % 2 == 0 ? SEAL_FORMAT : 1;
  bool expires = data[0] & 2;
  size_t nonceBytes = data[1] % 40;
  size_t keyIdBytes = data[2] % 24;
  data += 3, size -= 3;
  SecretLabel label{"t1", "K", 1,
                    expires ? std::optional<int64_t>(1'700'000'000'000) : std::nullopt, format};
  SealedValue forged;
  if (size < keyIdBytes || (size > 0 && data[0] == 'k')) {
    forged.keyId = master.id();  // The real key id: the AEAD alone must refuse.
  } else {
    forged.keyId.assign(reinterpret_cast<const char*>(data), keyIdBytes);
    data += keyIdBytes, size -= keyIdBytes;
  }
  size_t n = std::min(nonceBytes, size);
  forged.nonce.assign(data, data + n);
  forged.ciphertext.assign(data + n, data + size);
  if (open(master, label, forged)) std::abort();  // Forging needs the key.

  // The round trip: sealed under the label, opened under it, and under no other.
  std::string plain(reinterpret_cast<const char*>(data), size);
  SecretValue value(plain.data(), plain.size());
  SealedValue sealed = seal(master, label, value);
  auto opened = open(master, label, sealed);
  if (!opened || opened->size() != plain.size() ||
      (plain.size() > 0 && std::memcmp(opened->data(), plain.data(), plain.size()) != 0)) {
    std::abort();
  }
  SecretLabel moved = label;
  moved.version = 2;
  if (open(master, moved, sealed)) std::abort();
  return 0;
}
