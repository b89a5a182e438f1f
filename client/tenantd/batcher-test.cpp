// Batching, observed through the facade: how requests from many threads merge into batch calls
// (counted by ClientStats), and that every caller gets its own answer. The Batcher is private to
// the library; the Client is its only user.

#include "tenantd/batcher.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "store/sqlite.h"
#include "tenantd/client-testing.h"

namespace tenantd::client {

using tenantd::testing::RpcFixture;
using testing::kindOf;
using testing::ServerEnv;
using testing::waitUntil;
using namespace std::chrono_literals;

namespace {
const Usage API_CALL{"", "api", "calls", 1};

// Holds the server's loop thread until released: calls sent meanwhile wait unanswered, so the
// client's batch stays in flight for as long as the test needs.
class Gate {
public:
  explicit Gate(ServerEnv& env) {
    std::promise<void> entered;
    auto inside = entered.get_future();
    holder_ = std::thread([&env, entered = std::move(entered), opened = opened_]() mutable {
      env.run([&](RpcFixture&) {
        entered.set_value();
        opened.wait();
      });
    });
    inside.wait();
  }
  ~Gate() { release(); }
  void release() {
    if (!holder_.joinable()) return;
    open_.set_value();
    holder_.join();
  }

private:
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
  std::thread holder_;
};

// Runs `n` calls of `f` on threads of their own; join() waits for all of them.
struct Callers {
  std::vector<std::thread> threads;
  template <typename F>
  void start(int n, F f) {
    for (int i = 0; i < n; ++i) threads.emplace_back(f, i);
  }
  void join() {
    for (auto& t : threads) t.join();
    threads.clear();
  }
  ~Callers() { join(); }
};
}  // namespace

TEST_CASE("Requests that arrive while a batch is in flight go out together as the next batch") {
  ServerEnv env;
  Client client(env.options());
  client.health();  // Connected: only the batches are in flight below.
  uint64_t base = client.stats().requests;
  std::vector<Decision> answers(10);
  Callers callers;
  {
    Gate gate(env);
    callers.start(1, [&](int) { answers[0] = client.check("t1", API_CALL); });
    REQUIRE(waitUntil([&] { return client.stats().batchCalls == 1; }));
    callers.start(9, [&](int i) { answers[i + 1] = client.check("t1", API_CALL); });
    REQUIRE(waitUntil([&] { return client.stats().requests == base + 10; }));
    CHECK(client.stats().batchCalls == 1);  // The nine wait for the first batch's answer.
  }
  callers.join();
  ClientStats stats = client.stats();
  CHECK(stats.batchCalls == 2);
  CHECK(stats.batchedItems == 10);
  for (auto& d : answers) CHECK(d.allowed);
}

TEST_CASE("A full batch goes out beside the one in flight up to maxBatchesInFlight") {
  ServerEnv env;
  ClientOptions options = env.options();
  options.maxBatch = 4;
  options.maxBatchesInFlight = 3;
  Client client(options);
  client.health();
  uint64_t base = client.stats().requests;
  std::atomic<int> allowed{0};
  Callers callers;
  auto call = [&](int) {
    allowed += client.check("t1", API_CALL).allowed ? 1 : 0;
  };
  {
    Gate gate(env);
    callers.start(1, call);
    REQUIRE(waitUntil([&] { return client.stats().batchCalls == 1; }));
    callers.start(12, call);
    REQUIRE(waitUntil([&] { return client.stats().requests == base + 13; }));
    // Two full batches of 4 joined the first; the last 4 wait for a slot.
    CHECK(client.stats().batchCalls == 3);
    CHECK(client.stats().batchedItems == 9);
  }
  callers.join();
  CHECK(allowed == 13);
  CHECK(client.stats().batchCalls == 4);
  CHECK(client.stats().batchedItems == 13);
}

TEST_CASE("Many threads consuming at once are merged and the limit holds exactly") {
  ServerEnv env;
  env.limit("t1", "api", "calls", 300);
  Client client(env.options());
  std::atomic<int> allowed{0}, failed{0};
  Callers callers;
  callers.start(16, [&](int) {
    for (int i = 0; i < 50; ++i) {
      try {
        if (client.consume("t1", API_CALL).allowed) ++allowed;
      } catch (const Error&) {
        ++failed;
      }
    }
  });
  callers.join();
  CHECK(failed == 0);
  CHECK(allowed == 300);
  ClientStats stats = client.stats();
  CHECK(stats.batchedItems == 800);
  CHECK(stats.batchCalls < 800);
  CHECK(client.check("t1", API_CALL).current == 300);
}

TEST_CASE("A per-item failure in a batch reaches only its own caller") {
  ServerEnv env;
  env.limit("t1", "api", "calls", 1000);
  {
    // The store refuses usage rows of user "doomed": the daemon answers those items with an
    // error and records the others of the same batch.
    Db db(env.run([](RpcFixture& f) { return f.path; }), {});
    db.exec(
        "CREATE TRIGGER refuse_doomed BEFORE INSERT ON usage WHEN NEW.user_id = 'doomed' "
        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
  }
  Client client(env.options());
  client.health();
  uint64_t base = client.stats().requests;
  std::optional<ErrorKind> outcomes[5];
  Callers callers;
  auto track = [&](int i, const char* user) {
    outcomes[i] = kindOf([&] { client.track("t1", TrackRequest{{user, "api", "calls", 1}}); });
  };
  auto consume = [&](int i, const char* user) {
    outcomes[i] = kindOf([&] { client.consume("t1", Usage{user, "api", "calls", 1}); });
  };
  {
    Gate gate(env);
    callers.start(1, [&](int) { track(0, "first"); });
    REQUIRE(waitUntil([&] { return client.stats().batchCalls == 1; }));
    callers.start(1, [&](int) { track(1, "doomed"); });
    callers.start(1, [&](int) { track(2, "fine"); });
    callers.start(1, [&](int) { consume(3, "doomed"); });
    callers.start(1, [&](int) { consume(4, "fine"); });
    REQUIRE(waitUntil([&] { return client.stats().requests == base + 5; }));
  }
  callers.join();
  CHECK(outcomes[0] == std::nullopt);
  CHECK(outcomes[1] == ErrorKind::UNAVAILABLE);
  CHECK(outcomes[2] == std::nullopt);
  CHECK(outcomes[3] == ErrorKind::UNAVAILABLE);
  CHECK(outcomes[4] == std::nullopt);
  CHECK(client.stats().batchedItems == 5);
  // The two tracks after the first went out as one batch.
  CHECK(client.stats().batchCalls <= 4);
  // The refused items changed nothing; the others were recorded.
  CHECK(client.check("t1", API_CALL).current == 3);
}

TEST_CASE("A request that times out while queued is never sent") {
  ServerEnv env;
  env.limit("t1", "api", "calls", 1000);
  Client client(env.options());
  client.health();
  Callers callers;
  {
    Gate gate(env);
    callers.start(1, [&](int) { client.track("t1", TrackRequest{API_CALL}); });
    REQUIRE(waitUntil([&] { return client.stats().batchCalls == 1; }));
    CHECK(kindOf([&] {
            client.track("t1", TrackRequest{{"", "api", "calls", 100}}, 50ms);
          }) == ErrorKind::TIMEOUT);
  }
  callers.join();
  CHECK(client.check("t1", API_CALL).current == 1);
  CHECK(client.stats().batchedItems == 2);  // The first track and the check.
}

}  // namespace tenantd::client
