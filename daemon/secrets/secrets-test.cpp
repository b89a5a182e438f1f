#include "keyring.h"
#include "sealer.h"

#include <sodium.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <fstream>

#include "testing/secret-keys.h"
#include "testing/temp-dir.h"

namespace tenantd {

using testing::randomKey;
using testing::value;

TEST_CASE("A sealed value opens with the same key and label") {
  REQUIRE(sodium_init() >= 0);
  auto key = randomKey();
  auto sealed = seal(*key, {"t1", "STRIPE_SECRET_KEY", 1}, value("sk_live_123"));
  CHECK(sealed.keyId == key->id());
  CHECK(sealed.nonce.size() == 24);
  auto opened = open(*key, {"t1", "STRIPE_SECRET_KEY", 1}, sealed);
  REQUIRE(opened);
  CHECK(opened->view() == "sk_live_123");
  // A fresh nonce every time: the same value never seals to the same bytes.
  CHECK(seal(*key, {"t1", "STRIPE_SECRET_KEY", 1}, value("sk_live_123")).ciphertext !=
        sealed.ciphertext);
}

TEST_CASE("A sealed value moved to another tenant, name or version, or edited, does not open") {
  REQUIRE(sodium_init() >= 0);
  auto key = randomKey();
  auto sealed = seal(*key, {"t1", "KEY", 3}, value("secret"));
  CHECK_FALSE(open(*key, {"t2", "KEY", 3}, sealed));
  CHECK_FALSE(open(*key, {"t1", "KEY2", 3}, sealed));
  CHECK_FALSE(open(*key, {"t1", "KEY", 4}, sealed));
  for (size_t i = 0; i < sealed.ciphertext.size(); ++i) {
    auto edited = sealed;
    edited.ciphertext[i] ^= 0x01;
    CHECK_FALSE(open(*key, {"t1", "KEY", 3}, edited));
  }
  auto nonce = sealed;
  nonce.nonce[0] ^= 0x80;
  CHECK_FALSE(open(*key, {"t1", "KEY", 3}, nonce));
  auto keyId = sealed;
  keyId.keyId = "k_0000000000000000";
  CHECK_FALSE(open(*key, {"t1", "KEY", 3}, keyId));
  CHECK_FALSE(open(*randomKey(), {"t1", "KEY", 3}, sealed));  // The wrong master key.
  // Label fields are length-prefixed: shifting a byte between them changes the label.
  auto shifted = seal(*key, {"ab", "c", 1}, value("x"));
  CHECK_FALSE(open(*key, {"a", "bc", 1}, shifted));
}

TEST_CASE("The expiry is sealed with the value: removing, extending or adding one fails") {
  // Found by the tenant-bounds review: with expires_at outside the associated data, whoever could
  // write the database ran UPDATE secrets SET expires_at = NULL and the value was served again.
  REQUIRE(sodium_init() >= 0);
  auto key = randomKey();
  auto expiring = seal(*key, {"t1", "KEY", 1, 1'000}, value("secret"));
  CHECK(open(*key, {"t1", "KEY", 1, 1'000}, expiring));
  CHECK_FALSE(open(*key, {"t1", "KEY", 1, std::nullopt}, expiring));
  CHECK_FALSE(open(*key, {"t1", "KEY", 1, 2'000}, expiring));
  auto forever = seal(*key, {"t1", "KEY", 1, std::nullopt}, value("secret"));
  CHECK(open(*key, {"t1", "KEY", 1, std::nullopt}, forever));
  CHECK_FALSE(open(*key, {"t1", "KEY", 1, 0}, forever));
  // Format 1 rows (before the expiry was bound) open only as format 1.
  auto old = seal(*key, {"t1", "KEY", 1, std::nullopt, 1}, value("secret"));
  CHECK(open(*key, {"t1", "KEY", 1, std::nullopt, 1}, old));
  CHECK(open(*key, {"t1", "KEY", 1, 5'000, 1}, old));  // Why format 1 is re-sealed at start.
  CHECK_FALSE(open(*key, {"t1", "KEY", 1, std::nullopt}, old));
}

TEST_CASE("Key ids identify keys without revealing them") {
  REQUIRE(sodium_init() >= 0);
  auto a = randomKey();
  auto b = randomKey();
  CHECK(a->id() != b->id());
  CHECK(a->id().size() == 18);
  Keyring ring;
  ring.setPrimary(std::move(a));
  std::string primaryId = ring.primary().id();
  ring.addPrevious(std::move(b));
  CHECK(ring.find(primaryId) == &ring.primary());
  CHECK(ring.ids().size() == 2);
  CHECK(ring.find("k_nope") == nullptr);
}

TEST_CASE("Key files: generated 0600, read back, refused when others can read them") {
  REQUIRE(sodium_init() >= 0);
  testing::TempDir dir;
  auto path = dir.file("master.key");
  REQUIRE_FALSE(generateKeyFile(path));
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(generateKeyFile(path)->message.find("cannot create") != std::string::npos);  // No clobber.
  auto first = readKeyFile(path, true);
  REQUIRE(std::holds_alternative<std::unique_ptr<SecretKey>>(first));
  auto second = readKeyFile(path, true);
  CHECK(std::get<0>(first)->id() == std::get<0>(second)->id());

  chmod(path.c_str(), 0640);
  auto loose = readKeyFile(path, true);
  REQUIRE(std::holds_alternative<KeyError>(loose));
  CHECK(std::get<KeyError>(loose).message.find("chmod 600") != std::string::npos);
  CHECK(std::holds_alternative<std::unique_ptr<SecretKey>>(readKeyFile(path, false)));

  auto bad = dir.file("bad.key");
  std::ofstream(bad) << "not a key\n";
  chmod(bad.c_str(), 0600);
  CHECK(std::get<KeyError>(readKeyFile(bad, true)).message.find("64 hex") != std::string::npos);
  CHECK(std::holds_alternative<KeyError>(readKeyFile(dir.file("missing.key"), true)));
}

}  // namespace tenantd
