#pragma once
// Collects store writes (usage, track ids, reservations) and hands them to the writer as one job:
// one cross-thread hop and one commit for many requests. An idle batcher hands over what one
// event-loop turn brought; while a job is with the writer, callers gather for the next one
// (16 clients tracking one call at a time: 21.5 k -> 24.8 k tracks/s, BENCHMARKS.md). Each
// caller's writes run in their own savepoint, so one that fails is refused alone; every
// caller's promise resolves after the commit that holds its writes, or rejects.
// Per caller it costs a promise/fulfiller pair and nothing else: its ops join one flat vector,
// and a settled batch's vectors are kept for the next one (limits-bench, BENCHMARKS.md).

#include "store/writer.h"

#include <kj/async.h>
#include <kj/vector.h>

#include <memory>
#include <string>
#include <vector>

namespace tenantd {

struct StoreOp {
  enum class Kind { USAGE, TRACK_ID, PUT_RESERVATION, DELETE_RESERVATION };
  Kind kind;
  std::string tenantId;
  std::string userId, resource, metric;  // USAGE, PUT_RESERVATION
  std::string id;                        // TRACK_ID, *_RESERVATION
  int64_t amount = 0;                    // USAGE, PUT_RESERVATION
  UnixMillis at = 0;  // USAGE: the instant. TRACK_ID, PUT_RESERVATION: the expiry.

  static StoreOp usage(std::string tenantId, std::string_view userId, std::string_view resource,
                       std::string_view metric, int64_t amount, UnixMillis at);
  static StoreOp trackId(std::string tenantId, std::string_view id, UnixMillis expiresAt);
  static StoreOp putReservation(std::string tenantId, const Reservation& r);
  static StoreOp deleteReservation(std::string tenantId, std::string_view id);
};

class UsageBatcher {
public:
  static constexpr size_t MAX_BATCH = 8192;  // Callers per writer job.
  // Writer jobs outstanding at once. While one commits, callers gather for the next: group
  // commit without a timer (an idle batcher still hands each caller over at once).
  static constexpr size_t MAX_IN_FLIGHT = 1;

  explicit UsageBatcher(Writer& writer);
  ~UsageBatcher() noexcept(false);
  KJ_DISALLOW_COPY(UsageBatcher);

  kj::Promise<void> add(StoreOp op) { return addAll(kj::arrayPtr(&op, 1)); }
  // All of `ops` (moved from) land together or not at all (one savepoint, one batch).
  kj::Promise<void> addAll(kj::ArrayPtr<StoreOp> ops);
  // Callers refused, by index, and why: empty unless some write failed.
  using Refusals = std::vector<std::pair<size_t, std::string>>;
  // Many callers with one promise (a batch call's items): caller i's ops are
  // ops[ends[i - 1], ends[i]), each caller's land together or not at all, as addAll's, and one
  // caller's failure refuses it alone. Resolves after the commit with the callers refused;
  // rejects if the commit fails. The callers stay in one writer job (it may pass MAX_BATCH).
  kj::Promise<Refusals> addGroup(kj::ArrayPtr<StoreOp> ops, kj::ArrayPtr<const uint32_t> ends);
  // Hands what is pending to the writer now, ahead of any job submitted after this call.
  void flushNow() { flush(); }
  // Resolves once nothing is pending and every batch handed to the writer has settled.
  kj::Promise<void> idle();
  uint64_t batches() const { return batches_; }

private:
  // The writes of one writer job, which the writer thread reads. Caller i's ops are
  // ops[ends[i - 1], ends[i]).
  struct Batch {
    std::vector<StoreOp> ops;
    std::vector<uint32_t> ends;
    size_t callers() const { return ends.size(); }
  };
  // Who waits on pending_'s callers, in order: one caller (add, addAll) or a group of them.
  struct Waiter {
    uint32_t callers = 1;
    kj::Own<kj::PromiseFulfiller<void>> one;
    kj::Own<kj::PromiseFulfiller<Refusals>> group;
  };
  using Waiters = std::vector<Waiter>;
  void added();  // Schedules or starts the flush for what was just added.
  class ErrorHandler final : public kj::TaskSet::ErrorHandler {
  public:
    void taskFailed(kj::Exception&&) override {}  // Failures reach each caller's promise.
  };
  void flush();
  void settled();

  Writer& writer_;
  std::shared_ptr<Batch> pending_;
  Waiters waiting_;               // pending_'s callers, on this thread only.
  std::shared_ptr<Batch> spare_;  // A settled batch's storage, for the next one.
  bool flushScheduled_ = false;
  size_t inFlight_ = 0;
  kj::Vector<kj::Own<kj::PromiseFulfiller<void>>> idleWaiters_;
  uint64_t batches_ = 0;
  ErrorHandler errorHandler_;
  kj::TaskSet tasks_{errorHandler_};
};

}  // namespace tenantd
