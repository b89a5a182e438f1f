#include "uv-bridge.h"

#include <sys/socket.h>
#include <unistd.h>

#include <kj/async-io.h>
#include <kj/debug.h>
#include <catch2/catch.hpp>

#include <functional>
#include <string>

namespace tenantd {
namespace {

constexpr auto DEADLINE = 10 * kj::SECONDS;

// A kj event loop with a libuv loop running inside it, as the daemon sets them up.
struct Loops {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  uv_loop_t uv;
  kj::Own<UvBridge> bridge;
  kj::Promise<void> running = nullptr;

  explicit Loops(kj::Duration maxKjPriority = UvBridge::MAX_KJ_PRIORITY) {
    io.waitScope.setBusyPollInterval(UvBridge::BUSY_POLL_INTERVAL);
    KJ_ASSERT(uv_loop_init(&uv) == 0);
    bridge = kj::heap<UvBridge>(io.unixEventPort, io.provider->getTimer(), uv, maxKjPriority);
    running = bridge->run().eagerlyEvaluate([](kj::Exception&& e) { KJ_FAIL_ASSERT(e); });
  }
  ~Loops() {
    running = nullptr;
    bridge = nullptr;
    // Every test closes its handles; a leftover one fails here rather than leaking quietly.
    REQUIRE(uv_loop_close(&uv) == 0);
  }

  // Waits for `p`, failing the test if it takes longer than DEADLINE.
  template <typename T>
  T waitFor(kj::Promise<T> p) {
    return p
        .exclusiveJoin(io.provider->getTimer().afterDelay(DEADLINE).then(
            []() -> T { KJ_FAIL_ASSERT("timed out waiting for the event"); }))
        .wait(io.waitScope);
  }

  // Lets the uv side close a handle and run its close callback.
  void closeAndDrain(uv_handle_t* handle) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    handle->data = paf.fulfiller.get();
    uv_close(handle,
             [](uv_handle_t* h) { static_cast<kj::PromiseFulfiller<void>*>(h->data)->fulfill(); });
    bridge->kick();
    waitFor(kj::mv(paf.promise));
  }
};

struct Ticker {
  uv_timer_t timer;
  int ticks = 0;
  int target = 0;
  kj::Own<kj::PromiseFulfiller<void>> done;
};

kj::Promise<void> startTicker(Loops& loops, Ticker& t, int everyMs, int target) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  t.done = kj::mv(paf.fulfiller);
  t.target = target;
  uv_timer_init(&loops.uv, &t.timer);
  t.timer.data = &t;
  uv_timer_start(
      &t.timer,
      [](uv_timer_t* h) {
        auto& self = *static_cast<Ticker*>(h->data);
        if (++self.ticks == self.target) self.done->fulfill();
      },
      everyMs, everyMs);
  loops.bridge->kick();
  return kj::mv(paf.promise);
}

TEST_CASE("UvBridge fires libuv timers and kj timers on one thread") {
  Loops loops;
  Ticker ticker;
  auto uvDone = startTicker(loops, ticker, 5, 4);
  bool kjFired = false;
  auto kjDone = loops.io.provider->getTimer().afterDelay(15 * kj::MILLISECONDS).then([&]() {
    kjFired = true;
  });
  loops.waitFor(kj::mv(uvDone));
  loops.waitFor(kj::mv(kjDone));
  CHECK(ticker.ticks >= 4);
  CHECK(kjFired);
  uv_timer_stop(&ticker.timer);
  loops.closeAndDrain(reinterpret_cast<uv_handle_t*>(&ticker.timer));
}

// A libuv pipe on one end of a socket pair, kj's stream on the other: bytes travel both ways,
// including a uv_write issued from a kj continuation (which needs kick()).
struct UvEcho {
  uv_pipe_t pipe;
  std::string received;
  kj::Own<kj::PromiseFulfiller<void>> gotPing;
  uv_write_t writeReq;
  kj::Own<kj::PromiseFulfiller<void>> writeDone;
};

TEST_CASE("UvBridge carries I/O on both sides, including uv writes started from kj") {
  Loops loops;
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  auto kjEnd =
      loops.io.lowLevelProvider->wrapSocketFd(fds[1], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);

  UvEcho echo;
  REQUIRE(uv_pipe_init(&loops.uv, &echo.pipe, 0) == 0);
  REQUIRE(uv_pipe_open(&echo.pipe, fds[0]) == 0);
  echo.pipe.data = &echo;
  auto ping = kj::newPromiseAndFulfiller<void>();
  echo.gotPing = kj::mv(ping.fulfiller);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&echo.pipe),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto& self = *static_cast<UvEcho*>(s->data);
        if (n > 0) {
          self.received.append(buf->base, n);
          if (self.received == "ping") self.gotPing->fulfill();
        }
        delete[] buf->base;
      });
  loops.bridge->kick();

  // kj writes, uv reads.
  loops.waitFor(kjEnd->write("ping", 4));
  loops.waitFor(kj::mv(ping.promise));
  CHECK(echo.received == "ping");

  // uv writes from a kj continuation, kj reads.
  auto writeDone = kj::newPromiseAndFulfiller<void>();
  echo.writeDone = kj::mv(writeDone.fulfiller);
  auto written = kj::evalLater([&]() {
    static char pong[] = "pong";
    uv_buf_t buf = uv_buf_init(pong, 4);
    echo.writeReq.data = &echo;
    REQUIRE(uv_write(&echo.writeReq, reinterpret_cast<uv_stream_t*>(&echo.pipe), &buf, 1,
                     [](uv_write_t* req, int status) {
                       KJ_ASSERT(status == 0);
                       static_cast<UvEcho*>(req->data)->writeDone->fulfill();
                     }) == 0);
    loops.bridge->kick();
  });
  loops.waitFor(kj::mv(written));
  char buf[4];
  loops.waitFor(kjEnd->read(buf, 4));
  CHECK(std::string(buf, 4) == "pong");
  // The write's callback runs from libuv's pending queue: it must not be stranded there.
  loops.waitFor(kj::mv(writeDone.promise));

  uv_read_stop(reinterpret_cast<uv_stream_t*>(&echo.pipe));
  loops.closeAndDrain(reinterpret_cast<uv_handle_t*>(&echo.pipe));
}

// Keeps kj's queue full, as a saturated RPC connection does, until `stop` is set.
kj::Promise<void> spin(bool& stop, uint64_t& turns) {
  if (stop) return kj::READY_NOW;
  ++turns;
  return kj::evalLater([&stop, &turns]() { return spin(stop, turns); });
}

TEST_CASE("UvBridge keeps libuv timers ticking while kj's queue is saturated") {
  Loops loops;
  Ticker ticker;
  auto uvDone = startTicker(loops, ticker, 2, 10);
  bool stop = false;
  uint64_t turns = 0;
  auto spinning = spin(stop, turns).eagerlyEvaluate(nullptr);
  loops.waitFor(uvDone.then([&]() { stop = true; }));
  loops.waitFor(kj::mv(spinning));
  CHECK(ticker.ticks >= 10);
  CHECK(turns > 10);
  uv_timer_stop(&ticker.timer);
  loops.closeAndDrain(reinterpret_cast<uv_handle_t*>(&ticker.timer));
}

TEST_CASE("UvBridge lets kj timers and sockets run while libuv always has work") {
  Loops loops;
  // An active idle handle makes libuv ready on every pass, like an HTTP flood.
  uv_idle_t idle;
  uint64_t idleRuns = 0;
  uv_idle_init(&loops.uv, &idle);
  idle.data = &idleRuns;
  uv_idle_start(&idle, [](uv_idle_t* h) { ++*static_cast<uint64_t*>(h->data); });
  loops.bridge->kick();

  loops.waitFor(loops.io.provider->getTimer().afterDelay(5 * kj::MILLISECONDS));
  auto pipe = loops.io.provider->newTwoWayPipe();
  char buf[2];
  auto reading = pipe.ends[1]->read(buf, 2);
  loops.waitFor(pipe.ends[0]->write("hi", 2));
  loops.waitFor(kj::mv(reading));
  CHECK(std::string(buf, 2) == "hi");
  CHECK(idleRuns > 0);

  uv_idle_stop(&idle);
  loops.closeAndDrain(reinterpret_cast<uv_handle_t*>(&idle));
}

// libuv with work on every pass, as under an HTTP flood.
struct BusyUv {
  uv_idle_t idle;
  uint64_t runs = 0;
  explicit BusyUv(Loops& loops) {
    uv_idle_init(&loops.uv, &idle);
    idle.data = &runs;
    uv_idle_start(&idle, [](uv_idle_t* h) { ++*static_cast<uint64_t*>(h->data); });
    loops.bridge->kick();
  }
};

TEST_CASE("UvBridge lets kj work already queued finish before the next uv pass") {
  // A bound far above what the chain below takes even under ASan: the test asserts the ordering,
  // not the machine's speed. The bound itself has the next test.
  Loops loops(60 * kj::SECONDS);
  BusyUv busy(loops);
  loops.waitFor(loops.io.provider->getTimer().afterDelay(2 * kj::MILLISECONDS));
  REQUIRE(busy.runs > 0);
  // A chain of 200 continuations, each queued behind the others (like an RPC message's path from
  // read to reply): kj polls I/O every 64 events meanwhile, so without the priority a due pass
  // would run about three times in between. A pass already past its wait when the chain starts
  // may still run once.
  uint64_t passesBefore = loops.bridge->passes();
  uint64_t passesDuring = 0;
  std::function<kj::Promise<void>(int)> hop = [&](int left) -> kj::Promise<void> {
    if (left == 0) {
      passesDuring = loops.bridge->passes() - passesBefore;
      return kj::READY_NOW;
    }
    return kj::evalLater([&hop, left]() { return hop(left - 1); });
  };
  loops.waitFor(hop(200));
  CHECK(passesDuring <= 1);
  uv_idle_stop(&busy.idle);
  loops.closeAndDrain(reinterpret_cast<uv_handle_t*>(&busy.idle));
}

TEST_CASE("UvBridge still runs libuv while kj work never drains") {
  Loops loops(1 * kj::MILLISECONDS);
  BusyUv busy(loops);
  // kj work that never lets the queue empty: evalLast alone would hold libuv off forever; the
  // bound lets passes through. The chain ends once libuv has run three more passes.
  uint64_t passesBefore = loops.bridge->passes();
  uint64_t hops = 0;
  std::function<kj::Promise<void>()> spin = [&]() -> kj::Promise<void> {
    ++hops;
    if (loops.bridge->passes() >= passesBefore + 3) return kj::READY_NOW;
    return kj::evalLater([&spin]() { return spin(); });
  };
  loops.waitFor(spin());
  CHECK(loops.bridge->passes() >= passesBefore + 3);
  CHECK(hops > 1);
  uv_idle_stop(&busy.idle);
  loops.closeAndDrain(reinterpret_cast<uv_handle_t*>(&busy.idle));
}

TEST_CASE("UvBridge wakes for uv work started from kj once kicked") {
  Loops loops;
  // Let the bridge settle into waiting on an empty uv loop.
  loops.waitFor(loops.io.provider->getTimer().afterDelay(2 * kj::MILLISECONDS));
  uint64_t before = loops.bridge->passes();
  Ticker ticker;
  auto fired = startTicker(loops, ticker, 1, 1);  // startTicker() kicks.
  loops.waitFor(kj::mv(fired));
  CHECK(loops.bridge->passes() > before);
  uv_timer_stop(&ticker.timer);
  loops.closeAndDrain(reinterpret_cast<uv_handle_t*>(&ticker.timer));
}

TEST_CASE("UvBridge::closeAll closes leftover handles so the loop closes cleanly") {
  uv_loop_t uv;
  REQUIRE(uv_loop_init(&uv) == 0);
  uv_timer_t timer;
  uv_idle_t idle;
  uv_timer_init(&uv, &timer);
  uv_timer_start(
      &timer, [](uv_timer_t*) {}, 1000, 1000);
  uv_idle_init(&uv, &idle);
  CHECK(uv_loop_close(&uv) == UV_EBUSY);
  CHECK(UvBridge::closeAll(uv) == 0);
}

}  // namespace
}  // namespace tenantd
