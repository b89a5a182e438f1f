#include "writer.h"

#include <kj/async.h>
#include <kj/debug.h>
#include <kj/vector.h>
#include <catch2/catch.hpp>

#include "testing/temp-dir.h"

#include <atomic>

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

std::string rowsOf(const std::string& path) {
  Db reader(path, {});
  Statement rows(reader, "SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)");
  KJ_ASSERT(rows.step());
  std::string text = rows.columnText(0);
  rows.reset();
  return text;
}

// The default VFS has a few method tables (database, WAL, journal files); each gets a copy with
// xWrite wrapped.
struct WrappedMethods {
  const sqlite3_io_methods* real = nullptr;
  sqlite3_io_methods methods{};
};

// A VFS over the default one whose file writes fail with SQLITE_IOERR_WRITE while armed: an I/O
// error on demand, which no file system of the test machine gives. Registered as the default
// for its lifetime; files keep the default's structures, only xWrite is wrapped.
class FailingWritesVfs {
public:
  FailingWritesVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    vfs_ = *real_;
    vfs_.zName = "failing-writes";
    vfs_.pNext = nullptr;
    vfs_.xOpen = &open;
    KJ_ASSERT(sqlite3_vfs_register(&vfs_, 1) == SQLITE_OK);
  }
  ~FailingWritesVfs() {
    sqlite3_vfs_register(real_, 1);
    sqlite3_vfs_unregister(&vfs_);
  }
  KJ_DISALLOW_COPY(FailingWritesVfs);

  static inline std::atomic<bool> armed{false};

private:
  static constexpr size_t KINDS = 8;

  static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out) {
    int rc = real_->xOpen(real_, name, file, flags, out);
    if (rc != SQLITE_OK || file->pMethods == nullptr) return rc;
    for (auto& w : wrapped_) {
      if (w.real == nullptr) {
        w.real = file->pMethods;
        w.methods = *file->pMethods;
        w.methods.xWrite = &write;
      }
      if (w.real == file->pMethods) {
        file->pMethods = &w.methods;
        return rc;
      }
    }
    KJ_FAIL_ASSERT("more kinds of file than FailingWritesVfs::KINDS");
  }
  static int write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
    if (armed.load()) return SQLITE_IOERR_WRITE;
    for (auto& w : wrapped_) {
      if (&w.methods == file->pMethods) return w.real->xWrite(file, data, amount, offset);
    }
    return SQLITE_IOERR_WRITE;
  }

  static inline sqlite3_vfs* real_ = nullptr;
  static inline sqlite3_vfs vfs_{};
  static inline WrappedMethods wrapped_[KINDS];
};
// A table `t` in a fresh database, an event loop and a Writer over it.
struct WriterFixture {
  testing::TempDir dir;
  std::string path = dir.file("w.db");
  kj::EventLoop loop;
  kj::WaitScope ws{loop};
  StoreStats stats;
  kj::Own<Writer> writer;

  WriterFixture() {
    makeTable(path);
    writer = kj::heap<Writer>(path, DbOptions{}, testLog, stats);
  }
};
}  // namespace

TEST_CASE("Writer resolves a job only after its change is committed and visible") {
  WriterFixture f;
  int64_t id = f.writer
                   ->submit<int64_t>([](WriterContext& ctx) {
                     Statement(ctx.db, "INSERT INTO t (x) VALUES (1)").run();
                     return sqlite3_last_insert_rowid(ctx.db.handle());
                   })
                   .wait(f.ws);
  CHECK(id == 1);
  CHECK(countRows(f.path) == 1);  // Another connection sees it: committed.
  CHECK(f.stats.commits.read() == 1);
}

TEST_CASE("Writer groups concurrent jobs into few commits") {
  WriterFixture f;
  kj::Vector<kj::Promise<void>> jobs;
  for (int i = 0; i < 1000; ++i) {
    jobs.add(f.writer->submit<void>([i](WriterContext& ctx) {
      Statement(ctx.db, "INSERT INTO t (x) VALUES (?1)").bind(1, int64_t{i}).run();
    }));
  }
  kj::joinPromises(jobs.releaseAsArray()).wait(f.ws);
  CHECK(countRows(f.path) == 1000);
  CHECK(f.stats.commits.read() >= 1);
  CHECK(f.stats.commits.read() < 1000);
}

TEST_CASE("A failing job changes nothing and does not disturb its batch") {
  WriterFixture f;
  auto insert = [&](int64_t x, bool thenFail) {
    return f.writer->submit<void>([x, thenFail](WriterContext& ctx) {
      Statement(ctx.db, "INSERT INTO t (x) VALUES (?1)").bind(1, x).run();
      KJ_REQUIRE(!thenFail, "job failed after writing");
    });
  };
  auto a = insert(1, false);
  auto b = insert(2, true);
  auto c = insert(3, false);
  a.wait(f.ws);
  CHECK_THROWS_WITH(b.wait(f.ws), Catch::Contains("job failed after writing"));
  c.wait(f.ws);
  CHECK(rowsOf(f.path) == "1,3");
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

TEST_CASE("An I/O error fails its batch and marks writes failing until a write commits again") {
  FailingWritesVfs vfs;
  WriterFixture f;
  auto insert = [&](int64_t x) {
    return f.writer->submit<void>([x](WriterContext& ctx) {
      Statement(ctx.db, "INSERT INTO t (x) VALUES (?1)").bind(1, x).run();
    });
  };
  insert(1).wait(f.ws);
  CHECK_FALSE(f.writer->health().failing());

  FailingWritesVfs::armed = true;
  CHECK_THROWS_WITH(insert(2).wait(f.ws), Catch::Contains("disk I/O error"));
  CHECK(f.writer->health().failing());
  CHECK(f.writer->health().reason() == "disk I/O error");
  CHECK(f.stats.commitFailures.read() == 1);

  FailingWritesVfs::armed = false;
  // A commit that wrote nothing proves nothing about the disk.
  f.writer->submit<void>([](WriterContext& ctx) { ctx.db.dataVersion(); }).wait(f.ws);
  CHECK(f.writer->health().failing());
  insert(3).wait(f.ws);
  CHECK_FALSE(f.writer->health().failing());
  CHECK(f.writer->health().reason().empty());
  CHECK(rowsOf(f.path) == "1,3");  // The failed batch left nothing behind.
}

TEST_CASE("A job's own refusal is not a store failure") {
  WriterFixture f;
  auto duplicate = [&]() {
    return f.writer->submit<void>(
        [](WriterContext& ctx) { Statement(ctx.db, "INSERT INTO t (x) VALUES (1)").run(); });
  };
  duplicate().wait(f.ws);
  CHECK_THROWS(duplicate().wait(f.ws));  // UNIQUE: SQLITE_CONSTRAINT, the caller's fault.
  CHECK_THROWS(
      f.writer->submit<void>([](WriterContext&) { KJ_FAIL_REQUIRE("refused"); }).wait(f.ws));
  CHECK_FALSE(f.writer->health().failing());
}

}  // namespace tenantd
