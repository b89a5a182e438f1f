// Fuzzes the envelope every body from a central arrives in (docs/SYNC.md): any bytes through
// openEnvelope() with one trusted key, under ASan and UBSan. Every refusal names its reason; an
// input starting with '!' also has its remaining bytes sealed by the key as a payload, which
// must open to exactly those bytes. The seed corpus holds validly signed envelopes, so the
// fuzzer mutates from bodies that open.

#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sync/envelope.h"

namespace {

using namespace tenantd;
using namespace tenantd::sync;

const SigningKey& signer() {
  static SigningKey* k = []() {
    if (sodium_init() < 0) std::abort();
    auto seed = std::make_unique<SecretKey>();
    // A fixed key: inputs replay the same way in every run.
    for (size_t i = 0; i < MASTER_KEY_BYTES; ++i) seed->data()[i] = static_cast<uint8_t>(i * 5);
    return new SigningKey(std::move(seed));
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const SigningKey& key = signer();
  VerifyKey trusted[] = {key.verifyKey()};
  std::string body(reinterpret_cast<const char*>(data), size);
  auto opened = openEnvelope(body, trusted);
  if (auto* e = std::get_if<EnvelopeError>(&opened); e != nullptr && e->reason.empty()) {
    std::abort();
  }
  if (size > 0 && data[0] == '!') {
    std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);
    const SigningKey* keys[] = {&key};
    auto roundTrip = openEnvelope(sealEnvelope(payload, keys), trusted);
    if (!std::holds_alternative<std::string>(roundTrip) ||
        std::get<std::string>(roundTrip) != payload) {
      std::abort();
    }
  }
  return 0;
}
