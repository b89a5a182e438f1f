#include "writer.h"

#include <kj/async.h>
#include <kj/debug.h>
#include <kj/vector.h>
#include <catch2/catch.hpp>

#include "testing/temp-dir.h"

namespace tenantd {

namespace {
Log testLog{Log::Sink::STDERR, LogLevel::ERROR};

int64_t countRows(const std::string& path) {
  Db reader(path, {});
  Statement count(reader, "SELECT count(*) FROM t");
  KJ_ASSERT(count.step());
  int64_t n = count.columnInt(0);
  count.reset();
  return n;
}

void makeTable(const std::string& path) {
  Db db(path, {});
  db.exec("CREATE TABLE t (x INTEGER UNIQUE)");
}
}  // namespace

TEST_CASE("Writer resolves a job only after its change is committed and visible") {
  testing::TempDir dir;
  auto path = dir.file("w.db");
  makeTable(path);
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  StoreStats stats;
  Writer writer(path, {}, testLog, stats);
  int64_t id = writer
                   .submit<int64_t>([](WriterContext& ctx) {
                     Statement(ctx.db, "INSERT INTO t (x) VALUES (1)").run();
                     return sqlite3_last_insert_rowid(ctx.db.handle());
                   })
                   .wait(ws);
  CHECK(id == 1);
  CHECK(countRows(path) == 1);  // Another connection sees it: committed.
  CHECK(stats.commits.read() == 1);
}

TEST_CASE("Writer groups concurrent jobs into few commits") {
  testing::TempDir dir;
  auto path = dir.file("w.db");
  makeTable(path);
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  StoreStats stats;
  Writer writer(path, {}, testLog, stats);
  kj::Vector<kj::Promise<void>> jobs;
  for (int i = 0; i < 1000; ++i) {
    jobs.add(writer.submit<void>([i](WriterContext& ctx) {
      Statement(ctx.db, "INSERT INTO t (x) VALUES (?1)").bind(1, int64_t{i}).run();
    }));
  }
  kj::joinPromises(jobs.releaseAsArray()).wait(ws);
  CHECK(countRows(path) == 1000);
  CHECK(stats.commits.read() >= 1);
  CHECK(stats.commits.read() < 1000);
}

TEST_CASE("A failing job changes nothing and does not disturb its batch") {
  testing::TempDir dir;
  auto path = dir.file("w.db");
  makeTable(path);
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  StoreStats stats;
  Writer writer(path, {}, testLog, stats);
  auto insert = [&](int64_t x, bool thenFail) {
    return writer.submit<void>([x, thenFail](WriterContext& ctx) {
      Statement(ctx.db, "INSERT INTO t (x) VALUES (?1)").bind(1, x).run();
      KJ_REQUIRE(!thenFail, "job failed after writing");
    });
  };
  auto a = insert(1, false);
  auto b = insert(2, true);
  auto c = insert(3, false);
  a.wait(ws);
  CHECK_THROWS_WITH(b.wait(ws), Catch::Contains("job failed after writing"));
  c.wait(ws);
  Db reader(path, {});
  Statement rows(reader, "SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)");
  REQUIRE(rows.step());
  CHECK(rows.columnText(0) == "1,3");
  rows.reset();
}

TEST_CASE("Destroying the Writer commits every job already submitted") {
  testing::TempDir dir;
  auto path = dir.file("w.db");
  makeTable(path);
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  kj::Vector<kj::Promise<void>> unwaited;  // Outlive the writer; never waited on.
  {
    StoreStats stats;
    Writer writer(path, {}, testLog, stats);
    for (int i = 0; i < 100; ++i) {
      unwaited.add(writer.submit<void>([i](WriterContext& ctx) {
        Statement(ctx.db, "INSERT INTO t (x) VALUES (?1)").bind(1, int64_t{i}).run();
      }));
    }
  }
  CHECK(countRows(path) == 100);
}

TEST_CASE("Writer reports a database it cannot open at construction") {
  testing::TempDir dir;
  DbOptions options;
  options.open = DbOptions::Open::READ_WRITE;
  StoreStats stats;
  CHECK_THROWS_WITH(Writer(dir.file("nope/w.db"), options, testLog, stats),
                    Catch::Contains("cannot open"));
}

}  // namespace tenantd
