#include "secret-store.h"

#include <sodium.h>

#include <catch2/catch.hpp>

#include <cstring>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "catalog.h"
#include "schema.h"
#include "testing/secret-keys.h"
#include "testing/temp-dir.h"

namespace tenantd {

using testing::randomKey;
using testing::value;

namespace {
std::unique_ptr<SecretKey> copyOf(const SecretKey& key) {
  auto k = std::make_unique<SecretKey>();
  memcpy(k->data(), key.data(), MASTER_KEY_BYTES);
  return k;
}

struct Fixture {
  testing::TempDir dir;
  std::string path = dir.file("s.db");
  Db db{path, {}};
  SecretStore store{(migrate(db), db)};
  Keyring ring;
  Fixture() {
    REQUIRE(sodium_init() >= 0);
    Catalog(db).createTenant(Tenant{"t1", "One", "pro", "UTC", 0, {}, {}, {}});
    Catalog(db).createTenant(Tenant{"t2", "Two", "pro", "UTC", 0, {}, {}, {}});
    ring.setPrimary(randomKey());
  }
  std::optional<std::string> read(std::string_view tenant, std::string_view name) {
    auto s = store.get(tenant, name);
    if (!s) return std::nullopt;
    const SecretKey* key = ring.find(s->sealed.keyId);
    if (key == nullptr) return std::nullopt;
    auto v = open(*key, labelOf(tenant, *s), s->sealed);
    if (!v) return std::nullopt;
    return std::string(v->view());
  }
};

std::string fileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("Each store of a name is a new version and only the latest is kept") {
  Fixture f;
  CHECK(f.store.put("t1", "API_KEY", value("v1"), f.ring.primary(), std::nullopt, 1) == 1);
  CHECK(f.store.put("t1", "API_KEY", value("v2"), f.ring.primary(), std::nullopt, 2) == 2);
  CHECK(f.read("t1", "API_KEY") == "v2");
  CHECK(f.store.put("t1", "B", value("b"), f.ring.primary(), 99, 3) == 1);
  CHECK(f.store.get("t1", "B")->expiresAt == 99);
  CHECK(f.store.names("t1") == std::vector<std::string>{"API_KEY", "B"});
  CHECK(f.store.names("t2").empty());
  CHECK(f.store.remove("t1", "B"));
  CHECK_FALSE(f.store.remove("t1", "B"));
}

TEST_CASE("keyIds lists each key that seals a stored secret, once") {
  Fixture f;
  CHECK(f.store.keyIds().empty());
  f.store.put("t1", "A", value("a"), f.ring.primary(), std::nullopt, 1);
  f.store.put("t2", "B", value("b"), f.ring.primary(), std::nullopt, 1);
  CHECK(f.store.keyIds() == std::vector<std::string>{f.ring.primary().id()});
}

TEST_CASE("No byte sequence of a stored value appears in the database, WAL or shm files") {
  Fixture f;
  std::string plain = "sk_live_51HxYzPLAINTEXTMARKER0123456789";
  f.store.put("t1", "STRIPE_SECRET_KEY", value(plain), f.ring.primary(), std::nullopt, 1);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string bytes = fileBytes(f.path + suffix);
    INFO(suffix);
    // Any 8-byte window of the value would be a leak, not just the whole value.
    for (size_t i = 0; i + 8 <= plain.size(); ++i) {
      REQUIRE(bytes.find(plain.substr(i, 8)) == std::string::npos);
    }
  }
  CHECK(f.read("t1", "STRIPE_SECRET_KEY") == plain);
}

TEST_CASE("Rows swapped between tenants or names, or edited in place, fail to open") {
  Fixture f;
  f.store.put("t1", "A", value("alpha"), f.ring.primary(), std::nullopt, 1);
  f.store.put("t2", "A", value("other"), f.ring.primary(), std::nullopt, 1);
  f.store.put("t1", "B", value("bravo"), f.ring.primary(), std::nullopt, 1);
  // Swap the two tenants' rows for A, in steps so the primary key holds at every moment.
  f.db.exec(
      "UPDATE secrets SET tenant_id = 't2', name = 'A.swap' WHERE tenant_id = 't1' AND "
      "name = 'A'");
  f.db.exec("UPDATE secrets SET tenant_id = 't1' WHERE tenant_id = 't2' AND name = 'A'");
  f.db.exec("UPDATE secrets SET name = 'A' WHERE tenant_id = 't2' AND name = 'A.swap'");
  CHECK_FALSE(f.read("t1", "A"));
  CHECK_FALSE(f.read("t2", "A"));
  f.db.exec("UPDATE secrets SET name = 'C' WHERE tenant_id = 't1' AND name = 'B'");
  CHECK_FALSE(f.read("t1", "C"));
  f.store.put("t1", "D", value("delta"), f.ring.primary(), std::nullopt, 1);
  f.db.exec("UPDATE secrets SET ciphertext = zeroblob(length(ciphertext)) WHERE name = 'D'");
  CHECK_FALSE(f.read("t1", "D"));
  auto problems = f.store.verify(f.ring);
  CHECK(problems.size() == 4);
}

TEST_CASE("An expiry edited in the database fails the seal, and upkeep deletes expired rows") {
  Fixture f;
  f.store.put("t1", "TEMP", value("short-lived"), f.ring.primary(), 5'000, 1);
  f.store.put("t1", "KEEP", value("kept"), f.ring.primary(), std::nullopt, 1);
  CHECK(f.read("t1", "TEMP") == "short-lived");
  f.db.exec("UPDATE secrets SET expires_at = NULL WHERE name = 'TEMP'");
  CHECK_FALSE(f.read("t1", "TEMP"));  // Brought back by hand: does not open.
  f.db.exec("UPDATE secrets SET expires_at = 5000 WHERE name = 'TEMP'");
  CHECK(f.read("t1", "TEMP") == "short-lived");
  CHECK(f.store.verify(f.ring).empty());
  f.db.exec("UPDATE secrets SET expires_at = 9000 WHERE name = 'TEMP'");
  REQUIRE(f.store.verify(f.ring).size() == 1);

  CHECK(f.store.deleteExpired(8'999).empty());
  auto gone = f.store.deleteExpired(9'000);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0] == std::pair<std::string, std::string>{"t1", "TEMP"});
  CHECK_FALSE(f.store.get("t1", "TEMP"));
  CHECK(f.read("t1", "KEEP") == "kept");
}

TEST_CASE("Rows sealed before the expiry was bound are re-sealed once, tampered ones skipped") {
  Fixture f;
  // As an older build stored them: format 1, the expiry outside the seal.
  auto legacy = [&](const char* name, std::optional<int64_t> expires) {
    SealedValue sealed =
        seal(f.ring.primary(), {"t1", name, 1, std::nullopt, 1}, value(std::string("v-") + name));
    Statement insert(f.db,
                     "INSERT INTO secrets (tenant_id, name, version, key_id, nonce, ciphertext, "
                     "created_at, expires_at) VALUES ('t1', ?1, 1, ?2, ?3, ?4, 0, ?5)");
    insert.bind(1, std::string_view(name)).bind(2, sealed.keyId);
    insert.bindBlob(3, sealed.nonce.data(), sealed.nonce.size());
    insert.bindBlob(4, sealed.ciphertext.data(), sealed.ciphertext.size());
    insert.bind(5, expires).run();
  };
  legacy("OLD", std::nullopt);
  legacy("OLD_EXPIRING", 7'000);
  legacy("BROKEN", std::nullopt);
  f.db.exec("UPDATE secrets SET ciphertext = zeroblob(length(ciphertext)) WHERE name = 'BROKEN'");
  CHECK(f.store.get("t1", "OLD")->format == 1);
  CHECK(f.store.verify(f.ring).size() == 3);  // Two old, one broken.

  auto upgraded = f.store.upgradeSeals(f.ring);
  CHECK(upgraded.resealed == 2);
  REQUIRE(upgraded.skipped.size() == 1);
  CHECK(upgraded.skipped[0].name == "BROKEN");
  CHECK(f.store.get("t1", "OLD")->format == SEAL_FORMAT);
  CHECK(f.read("t1", "OLD") == "v-OLD");
  CHECK(f.read("t1", "OLD_EXPIRING") == "v-OLD_EXPIRING");
  f.db.exec("UPDATE secrets SET expires_at = NULL WHERE name = 'OLD_EXPIRING'");
  CHECK_FALSE(f.read("t1", "OLD_EXPIRING"));  // Now bound like every new row.
  CHECK(f.store.upgradeSeals(f.ring).resealed == 0);
}

TEST_CASE("Rotation re-seals everything under the new key and a wrong key changes nothing") {
  Fixture f;
  for (int i = 0; i < 20; ++i) {
    f.store.put("t1", "S" + std::to_string(i), value("v" + std::to_string(i)), f.ring.primary(),
                std::nullopt, 1);
  }
  // Without the key that sealed them, rotation refuses and leaves every row as it was.
  Keyring stranger;
  stranger.setPrimary(randomKey());
  auto next = randomKey();
  CHECK_THROWS_WITH(f.store.rotate(stranger, *next), Catch::Contains("which is not loaded"));
  CHECK(f.read("t1", "S7") == "v7");

  std::string oldId = f.ring.primary().id();
  CHECK(f.store.rotate(f.ring, *next) == 20);
  Keyring after;
  after.setPrimary(std::move(next));
  CHECK(after.find(oldId) == nullptr);
  CHECK(f.store.verify(after).empty());  // Every secret opens with the new key alone.
}

TEST_CASE("Rotation racing with writes on another connection loses nothing") {
  Fixture f;
  auto newKey = randomKey();
  std::string newId = newKey->id();
  // The rotating side can open rows under either key; the writer, like a daemon not yet told
  // about the new key, keeps sealing with the old one.
  f.ring.addPrevious(copyOf(*newKey));
  for (int i = 0; i < 50; ++i) {
    f.store.put("t1", "S" + std::to_string(i), value("0"), f.ring.primary(), std::nullopt, 1);
  }
  std::map<std::string, std::string> lastWritten;
  std::atomic<bool> stop{false};
  std::thread writer([&]() {
    Db db(f.path, {});
    SecretStore store(db);
    // At least 200 writes, and on until the rotations are done (at most 5000).
    for (int round = 1; round <= 5000 && (round < 200 || !stop.load()); ++round) {
      std::string name = "S" + std::to_string(round % 50);
      std::string v = std::to_string(round);
      Transaction tx(db);
      store.put("t1", name, value(v), f.ring.primary(), std::nullopt, round);
      tx.commit();
      lastWritten[name] = v;
    }
  });
  size_t rotated = 0;
  for (int i = 0; i < 5; ++i) rotated += f.store.rotate(f.ring, *newKey);
  stop = true;
  writer.join();
  CHECK(rotated > 0);
  // Writes that landed after a rotation carry the old key id; a final rotation catches them.
  f.store.rotate(f.ring, *newKey);
  CHECK(f.store.verify(f.ring).empty());
  for (auto& [name, v] : lastWritten) {
    INFO(name);
    CHECK(f.read("t1", name) == v);
    CHECK(f.store.get("t1", name)->sealed.keyId == newId);
  }
}

TEST_CASE("The audit log pages newest first") {
  Fixture f;
  for (int i = 1; i <= 5; ++i) {
    f.store.audit({0, "t1", i, "tok_x", "secret.put", "K" + std::to_string(i), i});
  }
  f.store.audit({0, "t2", 9, "tok_y", "secret.put", "OTHER", 1});
  auto page = f.store.auditLog("t1", 2, std::nullopt);
  REQUIRE(page.size() == 2);
  CHECK(page[0].target == "K5");
  CHECK(page[1].target == "K4");
  auto next = f.store.auditLog("t1", 10, page[1].id);
  REQUIRE(next.size() == 3);
  CHECK(next[0].target == "K3");
  for (auto& r : f.store.auditLog("t1", 100, std::nullopt)) CHECK(r.tenantId == "t1");
}

}  // namespace tenantd
