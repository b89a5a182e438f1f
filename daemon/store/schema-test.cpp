#include "schema.h"

#include <kj/string.h>
#include <catch2/catch.hpp>

#include "testing/temp-dir.h"

namespace tenantd {

namespace {
// The schema as SQLite reports it, to compare databases migrated along different paths.
std::string dumpSchema(Db& db) {
  Statement s(db,
              "SELECT type || ' ' || name || ': ' || ifnull(sql, '') FROM sqlite_schema "
              "ORDER BY type, name");
  std::string out;
  while (s.step()) out += s.columnText(0) + "\n";
  return out;
}

const Migration SYNTHETIC[] = {
    {1, "CREATE TABLE a (x INTEGER);"},
    {2, "ALTER TABLE a ADD COLUMN y TEXT;"},
    {3, "CREATE TABLE b (z INTEGER); CREATE INDEX b_z ON b(z);"},
};
}  // namespace

TEST_CASE("migrate builds the latest schema on an empty database") {
  testing::TempDir dir;
  Db db(dir.file("t.db"), {});
  CHECK(schemaVersion(db) == 0);
  CHECK(migrate(db) == static_cast<int>(allMigrations().size()));
  CHECK(schemaVersion(db) == latestSchemaVersion());
  CHECK(migrate(db) == 0);  // Idempotent.
}

TEST_CASE("migrate from every older version reaches the same schema as a fresh database") {
  testing::TempDir dir;
  auto all = allMigrations();
  Db fresh(dir.file("fresh.db"), {});
  migrate(fresh);
  std::string expected = dumpSchema(fresh);
  for (size_t k = 0; k < all.size(); ++k) {
    Db old(dir.file(kj::str("old", k, ".db").cStr()), {});
    if (k > 0) migrate(old, all.slice(0, k));
    migrate(old);
    CHECK(dumpSchema(old) == expected);
    CHECK(schemaVersion(old) == latestSchemaVersion());
  }
}

TEST_CASE("The migration runner applies each missing step in order, from any version") {
  testing::TempDir dir;
  auto steps = kj::arrayPtr(SYNTHETIC, 3);
  Db fresh(dir.file("fresh.db"), {});
  CHECK(migrate(fresh, steps) == 3);
  std::string expected = dumpSchema(fresh);
  for (size_t k = 1; k < 3; ++k) {
    Db old(dir.file(kj::str("v", k, ".db").cStr()), {});
    CHECK(migrate(old, steps.slice(0, k)) == static_cast<int>(k));
    CHECK(migrate(old, steps) == static_cast<int>(3 - k));
    CHECK(dumpSchema(old) == expected);
  }
}

TEST_CASE("A failing migration step leaves the database at its old version") {
  testing::TempDir dir;
  const Migration broken[] = {{1, "CREATE TABLE a (x INTEGER);"},
                              {2, "CREATE TABLE c (x INTEGER); CREATE TABLE a (dup INTEGER);"}};
  Db db(dir.file("t.db"), {});
  migrate(db, kj::arrayPtr(broken, 1));
  CHECK_THROWS(migrate(db, kj::arrayPtr(broken, 2)));
  CHECK(schemaVersion(db) == 1);
  Statement c(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'");
  REQUIRE(c.step());
  CHECK(c.columnInt(0) == 0);
  c.reset();
}

TEST_CASE("migrate refuses a database from a newer tenantd") {
  testing::TempDir dir;
  Db db(dir.file("t.db"), {});
  db.exec("PRAGMA user_version = 999");
  CHECK_THROWS_WITH(migrate(db), Catch::Contains("newer"));
  CHECK(schemaVersion(db) == 999);
}

}  // namespace tenantd
