#include "usage-batcher.h"

#include <kj/async.h>
#include <kj/mutex.h>
#include <kj/vector.h>
#include <catch2/catch.hpp>
#include <limits>

#include "store/catalog.h"
#include "store/schema.h"
#include "testing/temp-dir.h"

namespace tenantd {

namespace {
struct Fixture {
  testing::TempDir dir;
  std::string path = dir.file("b.db");
  kj::EventLoop loop;
  kj::WaitScope ws{loop};
  Log log{Log::Sink::STDERR, LogLevel::ERROR};
  StoreStats stats;
  kj::Own<Writer> writer;
  kj::Own<UsageBatcher> batcher;

  Fixture() {
    {
      Db db(path, {});
      migrate(db);
    }
    writer = kj::heap<Writer>(path, DbOptions{}, log, stats);
    batcher = kj::heap<UsageBatcher>(*writer);
  }
  ~Fixture() {
    batcher->idle().wait(ws);
    batcher = nullptr;
    writer = nullptr;
  }

  void createTenant(const char* id) {
    Db db(path, {});
    Catalog(db).createTenant(Tenant{id, "Test", "pro", "UTC", 0, {}, {}, {}});
  }

  // The stored usage of one user's api.calls in the minute of 60000, or -1 if no row.
  int64_t usage(const char* tenant, const char* user) {
    Db reader(path, {});
    Statement row(reader,
                  "SELECT amount FROM usage WHERE tenant_id = ?1 AND user_id = ?2 AND "
                  "resource = 'api' AND metric = 'calls' AND bucket = 60000");
    row.bind(1, std::string_view(tenant)).bind(2, std::string_view(user));
    int64_t amount = row.step() ? row.columnInt(0) : -1;
    row.reset();
    return amount;
  }

  int64_t trackIds() {
    Db reader(path, {});
    Statement count(reader, "SELECT count(*) FROM track_ids");
    KJ_ASSERT(count.step());
    int64_t n = count.columnInt(0);
    count.reset();
    return n;
  }
};

// Holds the writer thread inside a job until released: what the batcher does meanwhile is
// then independent of how fast the machine commits.
struct WriterGate {
  kj::MutexGuarded<bool> open{false};
  kj::Promise<void> block(Writer& writer) {
    return writer.submit<void>([this](WriterContext&) {
      auto lock = open.lockExclusive();
      lock.wait([](bool isOpen) { return isOpen; });
    });
  }
  void release() { *open.lockExclusive() = true; }
};
}  // namespace

TEST_CASE("UsageBatcher hands a lone caller to the writer in the same turn's batch") {
  Fixture f;
  f.batcher->add(StoreOp::trackId("t1", "a", 1000)).wait(f.ws);
  CHECK(f.batcher->batches() == 1);
  CHECK(f.trackIds() == 1);
}

TEST_CASE("While a batch commits, callers of later turns gather into one next batch") {
  Fixture f;
  WriterGate gate;
  auto blocked = gate.block(*f.writer);
  kj::Vector<kj::Promise<void>> calls;
  calls.add(f.batcher->add(StoreOp::trackId("t1", "first", 1000)));
  f.ws.poll();  // The first caller's batch goes to the writer (and waits behind the gate).
  REQUIRE(f.batcher->batches() == 1);
  for (int i = 0; i < 5; ++i) {
    calls.add(f.batcher->add(StoreOp::trackId("t1", "later-" + std::to_string(i), 1000)));
    f.ws.poll();  // A turn of its own for each: without the cap each would be a batch.
  }
  CHECK(f.batcher->batches() == 1);
  gate.release();
  blocked.wait(f.ws);
  kj::joinPromises(calls.releaseAsArray()).wait(f.ws);
  CHECK(f.batcher->batches() == 2);
  CHECK(f.trackIds() == 6);
}

TEST_CASE("A caller whose write fails is refused alone, and the batch after it still runs") {
  Fixture f;
  WriterGate gate;
  auto blocked = gate.block(*f.writer);
  auto first = f.batcher->add(StoreOp::trackId("t1", "x", 1000));
  f.ws.poll();
  // Usage of a tenant that does not exist breaks the foreign key: that caller fails alone.
  auto bad = f.batcher->add(StoreOp::usage("nobody", "", "api", "calls", 1, 60000));
  auto good = f.batcher->add(StoreOp::trackId("t1", "y", 1000));
  gate.release();
  blocked.wait(f.ws);
  first.wait(f.ws);
  CHECK_THROWS(bad.wait(f.ws));
  good.wait(f.ws);
  CHECK(f.trackIds() == 2);
}

TEST_CASE("Usage on one row in one batch is stored as its sum, saturating as the store does") {
  Fixture f;
  f.createTenant("t1");
  constexpr int64_t HALF = int64_t{1} << 62;
  WriterGate gate;
  auto blocked = gate.block(*f.writer);
  kj::Vector<kj::Promise<void>> calls;
  calls.add(f.batcher->add(StoreOp::usage("t1", "u1", "api", "calls", 5, 60000)));
  calls.add(f.batcher->add(StoreOp::usage("t1", "u1", "api", "calls", 7, 60500)));
  StoreOp group[] = {StoreOp::usage("t1", "u1", "api", "calls", 11, 61000),
                     StoreOp::usage("t1", "u2", "api", "calls", 13, 60000),
                     StoreOp::usage("t1", "u3", "api", "calls", HALF, 60000),
                     StoreOp::usage("t1", "u3", "api", "calls", HALF, 60000)};
  uint32_t ends[] = {1, 2, 3, 4};
  auto grouped = f.batcher->addGroup(group, ends);
  gate.release();
  blocked.wait(f.ws);
  for (auto& c : calls) c.wait(f.ws);
  CHECK(grouped.wait(f.ws).empty());
  CHECK(f.batcher->batches() == 1);  // All in one batch: the summed path.
  CHECK(f.usage("t1", "u1") == 23);
  CHECK(f.usage("t1", "u2") == 13);
  CHECK(f.usage("t1", "u3") == std::numeric_limits<int64_t>::max());
}

TEST_CASE("A group's refused caller is named by its index, and the rest of it lands") {
  Fixture f;
  f.createTenant("t1");
  StoreOp group[] = {StoreOp::usage("t1", "u1", "api", "calls", 2, 60000),
                     StoreOp::usage("nobody", "u1", "api", "calls", 3, 60000),
                     StoreOp::trackId("t1", "z", 1000),
                     StoreOp::usage("t1", "u1", "api", "calls", 4, 60000)};
  uint32_t ends[] = {1, 2, 4};  // The last caller writes an id and usage together.
  auto refused = f.batcher->addGroup(group, ends).wait(f.ws);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].first == 1);
  CHECK(f.usage("t1", "u1") == 6);
  CHECK(f.usage("nobody", "u1") == -1);
  CHECK(f.trackIds() == 1);
}

}  // namespace tenantd
