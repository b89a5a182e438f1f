#include "sqlite.h"

#include <kj/exception.h>
#include <catch2/catch.hpp>

#include "testing/temp-dir.h"

namespace tenantd {

TEST_CASE("Db opens in WAL mode with foreign keys on") {
  testing::TempDir dir;
  Db db(dir.file("t.db"), {});
  Statement mode(db, "PRAGMA journal_mode");
  REQUIRE(mode.step());
  CHECK(mode.columnText(0) == "wal");
  mode.reset();
  Statement fk(db, "PRAGMA foreign_keys");
  REQUIRE(fk.step());
  CHECK(fk.columnInt(0) == 1);
  fk.reset();
}

TEST_CASE("data_version moves for another connection's commits, not for this one's") {
  testing::TempDir dir;
  Db mine(dir.file("t.db"), {});
  Db other(dir.file("t.db"), {});
  mine.exec("CREATE TABLE t (x INTEGER)");
  int64_t before = mine.dataVersion();
  mine.exec("INSERT INTO t VALUES (1)");
  CHECK(mine.dataVersion() == before);
  other.exec("INSERT INTO t VALUES (2)");
  CHECK(mine.dataVersion() != before);
}

TEST_CASE("Statements bind, step and reset for reuse") {
  testing::TempDir dir;
  Db db(dir.file("t.db"), {});
  db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER, b BLOB)");
  Statement insert(db, "INSERT INTO kv (k, v, b) VALUES (?1, ?2, ?3)");
  uint8_t blob[] = {0, 1, 2};
  insert.bind(1, "a").bind(2, int64_t{7}).bindBlob(3, blob, 3).run();
  insert.bind(1, "b").bind(2, std::optional<int64_t>()).bindNull(3).run();
  Statement select(db, "SELECT v, b FROM kv WHERE k = ?1");
  select.bind(1, "a");
  REQUIRE(select.step());
  CHECK(select.columnInt(0) == 7);
  CHECK(select.columnBlob(1) == std::vector<uint8_t>{0, 1, 2});
  CHECK_FALSE(select.step());
  select.bind(1, "b");
  REQUIRE(select.step());
  CHECK(select.columnIsNull(0));
  CHECK_FALSE(select.columnOptionalInt(0).has_value());
  select.reset();
}

TEST_CASE("A failed statement throws with SQLite's reason and stays usable") {
  testing::TempDir dir;
  Db db(dir.file("t.db"), {});
  db.exec("CREATE TABLE u (k TEXT PRIMARY KEY)");
  Statement insert(db, "INSERT INTO u (k) VALUES (?1)");
  insert.bind(1, "x").run();
  insert.bind(1, "x");
  CHECK_THROWS_WITH(insert.run(), Catch::Contains("UNIQUE constraint failed"));
  insert.bind(1, "y").run();
  CHECK(db.changes() == 1);
}

TEST_CASE("A transaction rolls back unless committed") {
  testing::TempDir dir;
  Db db(dir.file("t.db"), {});
  db.exec("CREATE TABLE n (x INTEGER)");
  {
    Transaction tx(db);
    db.exec("INSERT INTO n VALUES (1)");
  }
  {
    Transaction tx(db);
    db.exec("INSERT INTO n VALUES (2)");
    tx.commit();
  }
  Statement count(db, "SELECT group_concat(x) FROM n");
  REQUIRE(count.step());
  CHECK(count.columnText(0) == "2");
  count.reset();
}

TEST_CASE("Opening a missing database read-write without create fails clearly") {
  testing::TempDir dir;
  DbOptions options;
  options.open = DbOptions::Open::READ_WRITE;
  CHECK_THROWS_WITH(Db(dir.file("missing.db"), options), Catch::Contains("cannot open database"));
}

}  // namespace tenantd
