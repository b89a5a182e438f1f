#include "usage-batcher.h"

#include <kj/debug.h>

namespace tenantd {

StoreOp StoreOp::usage(std::string tenantId, std::string_view userId, std::string_view resource,
                       std::string_view metric, int64_t amount, UnixMillis at) {
  return StoreOp{Kind::USAGE,
                 std::move(tenantId),
                 std::string(userId),
                 std::string(resource),
                 std::string(metric),
                 {},
                 amount,
                 at};
}

StoreOp StoreOp::trackId(std::string tenantId, std::string_view id, UnixMillis expiresAt) {
  return StoreOp{Kind::TRACK_ID, std::move(tenantId), {}, {}, {}, std::string(id), 0, expiresAt};
}

StoreOp StoreOp::putReservation(std::string tenantId, const Reservation& r) {
  return StoreOp{Kind::PUT_RESERVATION,
                 std::move(tenantId),
                 r.userId,
                 r.resource,
                 r.metric,
                 r.id,
                 r.amount,
                 r.expiresAt};
}

StoreOp StoreOp::deleteReservation(std::string tenantId, std::string_view id) {
  return StoreOp{Kind::DELETE_RESERVATION, std::move(tenantId), {}, {}, {}, std::string(id), 0, 0};
}

UsageBatcher::UsageBatcher(Writer& writer) : writer_(writer) {}

UsageBatcher::~UsageBatcher() noexcept(false) {
  // The owner waits for idle() first; anything still here would be cancelled with tasks_.
  KJ_ASSERT(pending_.empty(), "UsageBatcher destroyed with writes never handed to the writer") {
    break;
  }
}

kj::Promise<void> UsageBatcher::add(StoreOp op) {
  std::vector<StoreOp> ops;
  ops.push_back(std::move(op));
  return addAll(std::move(ops));
}

kj::Promise<void> UsageBatcher::addAll(std::vector<StoreOp> ops) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  pending_.push_back(Caller{std::move(ops), kj::mv(paf.fulfiller)});
  if (pending_.size() >= MAX_BATCH) {
    flush();
  } else if (!flushScheduled_ && inFlight_ < MAX_IN_FLIGHT) {
    flushScheduled_ = true;
    // evalLater, not evalLast: a saturated loop never drains its queue, and evalLast would
    // then wait forever. Requests of the same uv pass or kj turn share a batch.
    tasks_.add(kj::evalLater([this]() {
      flushScheduled_ = false;
      flush();
    }));
  }
  return kj::mv(paf.promise);
}

void UsageBatcher::flush() {
  if (pending_.empty()) return;
  auto callers = std::make_shared<std::vector<Caller>>(std::move(pending_));
  pending_.clear();
  std::vector<std::vector<StoreOp>> work;
  for (auto& c : *callers) work.push_back(std::move(c.ops));
  ++batches_;
  ++inFlight_;
  // Per caller: "" if applied, else why not. The job's own promise fails only if the commit
  // does, and then every caller fails.
  auto applied =
      writer_.submit<std::vector<std::string>>([work = std::move(work)](WriterContext& ctx) {
        auto& store = ctx.usage();
        auto applyAll = [&store](const std::vector<StoreOp>& ops) {
          for (auto& op : ops) {
            switch (op.kind) {
              case StoreOp::Kind::USAGE:
                store.addUsage(op.tenantId, op.resource, op.metric, op.userId, op.at, op.amount);
                break;
              case StoreOp::Kind::TRACK_ID: store.rememberTrackId(op.tenantId, op.id, op.at); break;
              case StoreOp::Kind::PUT_RESERVATION:
                store.putReservation(op.tenantId, Reservation{op.id, op.userId, op.resource,
                                                              op.metric, op.amount, op.at});
                break;
              case StoreOp::Kind::DELETE_RESERVATION:
                store.deleteReservation(op.tenantId, op.id);
                break;
            }
          }
        };
        std::vector<std::string> outcome(work.size());
        // Fast path: the whole batch in one savepoint. Only if something fails, undo it and
        // replay caller by caller, each in its own savepoint, so the failure is refused alone.
        // (A savepoint per caller on every batch cost about two thirds of the throughput.)
        ctx.db.exec("SAVEPOINT batch");
        KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                       for (auto& ops : work) applyAll(ops);
                     })) {
          (void)e;
          ctx.db.exec("ROLLBACK TO batch");
          Statement savepoint(ctx.db, "SAVEPOINT op");
          Statement release(ctx.db, "RELEASE op");
          Statement rollback(ctx.db, "ROLLBACK TO op");
          for (size_t i = 0; i < work.size(); ++i) {
            savepoint.run();
            KJ_IF_MAYBE (failure, kj::runCatchingExceptions([&]() { applyAll(work[i]); })) {
              rollback.run();
              outcome[i] = failure->getDescription().cStr();
              if (outcome[i].empty()) outcome[i] = "store write failed";
            }
            release.run();
          }
        }
        ctx.db.exec("RELEASE batch");
        return outcome;
      });
  tasks_.add(applied
                 .then(
                     [callers](std::vector<std::string> outcome) {
                       for (size_t i = 0; i < callers->size(); ++i) {
                         auto& done = (*callers)[i].done;
                         if (outcome[i].empty()) {
                           done->fulfill();
                         } else {
                           done->reject(KJ_EXCEPTION(FAILED, outcome[i]));
                         }
                       }
                     },
                     [callers](kj::Exception&& e) {
                       for (auto& c : *callers) c.done->reject(kj::cp(e));
                     })
                 .then([this]() { settled(); }));
}

void UsageBatcher::settled() {
  --inFlight_;
  // What arrived while the writer was busy goes as one batch now.
  if (!pending_.empty() && !flushScheduled_ && inFlight_ < MAX_IN_FLIGHT) flush();
  if (inFlight_ == 0 && pending_.empty()) {
    for (auto& w : idleWaiters_) w->fulfill();
    idleWaiters_.clear();
  }
}

kj::Promise<void> UsageBatcher::idle() {
  flush();
  if (inFlight_ == 0) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  idleWaiters_.add(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

}  // namespace tenantd
