#pragma once
// Runs a libuv loop inside the thread's kj event loop, so one thread serves both (Cap'n Proto on
// kj, h2o on libuv) and owns all domain state without locks.
//
// Measured on these machines by the spike that chose this design (2 cores, capnp 0.9.2, libuv
// 1.44, h2o 2.2.5; medians of 5 runs), three details decide whether this behaves, and this module
// is where they live (without 1, only 16 % of 10 ms uv ticks fired and HTTP got 394 of 1000
// req/s; without 2, RPC p99 was 20–110 ms under an HTTP flood, 1.0 ms with it):
//  1. kj's WaitScope must poll I/O every few events (setBusyPollInterval), or a saturated kj queue
//     starves libuv's fd and kj's timers. The caller sets it: see BUSY_POLL_INTERVAL.
//  2. libuv is resumed through a 0 ms kj timer, one uv_run(NOWAIT) pass per turn, never through
//     kj::evalLater (which runs before kj polls I/O, so a busy uv side would starve kj's sockets).
//  3. kj's FdObserver is edge-triggered: after each pass we poll() the backend fd with a zero
//     timeout and treat uv_backend_timeout() == 0 as "run again", or wake-ups are lost.
//  4. A pass waits for kj work already queued (kj::evalLast), for at most MAX_KJ_PRIORITY. A
//     pass serving 32 busy HTTP connections takes about a millisecond; without this, an RPC call
//     read in one poll had its reply written only after the pass (and capnp 0.9.2's two reads per
//     message could put a second pass in between): sequential RPC under an HTTP flood went from
//     1.8 ms to 0.9 ms p50 (BENCHMARKS.md, rpc-bench).
//
// Code that touches libuv from a kj continuation (outside a uv pass) — starting a timer, writing
// an h2o response after an async store commit — must call kick(), because nothing on the backend
// fd tells us libuv has new work.

#include <kj/async-unix.h>
#include <kj/timer.h>
#include <uv.h>

#include <cstdint>

namespace tenantd {

class UvBridge {
public:
  // Events kj runs between polls of its event port. 64 kept every 10 ms uv tick on time under a
  // saturated RPC connection in the spike; the default (never) let 84 % of them slip.
  static constexpr uint BUSY_POLL_INTERVAL = 64;
  // The longest a due uv pass waits for kj's queue to drain (4. above). Under a saturated kj side
  // libuv still runs every ~250 µs (plus up to BUSY_POLL_INTERVAL events, when timers are read).
  static constexpr kj::Duration MAX_KJ_PRIORITY = 250 * kj::MICROSECONDS;

  // Borrows all three; `loop` must be initialised and outlive the bridge. `maxKjPriority` is the
  // bound of 4. above; tests pass their own so what they assert does not depend on how fast the
  // machine (or a sanitizer build) runs a chain of continuations.
  UvBridge(kj::UnixEventPort& eventPort, kj::Timer& timer, uv_loop_t& loop,
           kj::Duration maxKjPriority = MAX_KJ_PRIORITY);
  ~UvBridge() noexcept(false);
  KJ_DISALLOW_COPY(UvBridge);

  // Drives libuv until the returned promise is dropped. Never resolves by itself; it rejects only
  // if a uv callback throws.
  kj::Promise<void> run();

  // Re-evaluates libuv's state soon: call after starting uv work from outside a uv pass.
  void kick();

  // uv_run passes so far: tests and metrics use it to see the bridge turning.
  uint64_t passes() const { return passes_; }

  // Closes every handle still open on the loop, runs their close callbacks, and closes the loop.
  // Owners should have closed their own handles; this is the backstop that keeps shutdown clean.
  // Returns uv_loop_close()'s result: 0 when nothing is left.
  static int closeAll(uv_loop_t& loop);

private:
  kj::Promise<void> waitForWork();
  kj::Promise<void> passThenContinue();
  kj::Promise<void> afterQueuedKjWork();
  bool moreWorkReady();

  kj::Timer& timer_;
  uv_loop_t& loop_;
  const kj::Duration maxKjPriority_;
  kj::UnixEventPort::FdObserver observer_;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> kickFulfiller_;
  uint64_t passes_ = 0;
};

}  // namespace tenantd
