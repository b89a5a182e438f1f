#include "usage-batcher.h"

#include "store/usage-store.h"

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

UsageBatcher::UsageBatcher(Writer& writer) : writer_(writer), pending_(std::make_shared<Batch>()) {}

UsageBatcher::~UsageBatcher() noexcept(false) {
  // The owner waits for idle() first; anything still here would be cancelled with tasks_.
  KJ_ASSERT(pending_->callers() == 0,
            "UsageBatcher destroyed with writes never handed to the writer") {
    break;
  }
}

kj::Promise<void> UsageBatcher::addAll(kj::ArrayPtr<StoreOp> ops) {
  Batch& b = *pending_;
  for (auto& op : ops) b.ops.push_back(std::move(op));
  b.ends.push_back(static_cast<uint32_t>(b.ops.size()));
  auto paf = kj::newPromiseAndFulfiller<void>();
  waiting_.push_back(kj::mv(paf.fulfiller));
  if (b.callers() >= MAX_BATCH) {
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

namespace {
void apply(UsageStore& store, const StoreOp& op) {
  switch (op.kind) {
    case StoreOp::Kind::USAGE:
      store.addUsage(op.tenantId, op.resource, op.metric, op.userId, op.at, op.amount);
      break;
    case StoreOp::Kind::TRACK_ID: store.rememberTrackId(op.tenantId, op.id, op.at); break;
    case StoreOp::Kind::PUT_RESERVATION:
      store.putReservation(op.tenantId,
                           Reservation{op.id, op.userId, op.resource, op.metric, op.amount, op.at});
      break;
    case StoreOp::Kind::DELETE_RESERVATION: store.deleteReservation(op.tenantId, op.id); break;
  }
}

// Callers refused, by index, and why. Empty unless something failed.
using Refusals = std::vector<std::pair<size_t, std::string>>;
// What became of a job: the commit's failure, or the callers it refused.
struct Outcome {
  Refusals refused;
  kj::Maybe<kj::Exception> failed;
};
}  // namespace

void UsageBatcher::flush() {
  if (pending_->callers() == 0) return;
  // The writer thread only reads the batch. The fulfillers stay on this thread, and so does the
  // batch's storage: kept as the spare for the next one once the writer lets go of it.
  std::shared_ptr<const Batch> batch = std::move(pending_);
  pending_ = spare_ != nullptr ? std::move(spare_) : std::make_shared<Batch>();
  Fulfillers done = std::move(waiting_);
  waiting_.clear();
  ++batches_;
  ++inFlight_;
  // The job's own promise fails only if the commit does, and then every caller fails.
  auto applied = writer_.submit<Refusals>([batch](WriterContext& ctx) {
    auto& store = ctx.usage();
    auto ops = [&batch](size_t caller) {
      size_t begin = caller == 0 ? 0 : batch->ends[caller - 1];
      return kj::arrayPtr(batch->ops.data() + begin, batch->ends[caller] - begin);
    };
    Refusals refused;
    // Fast path: the whole batch in one savepoint. Only if something fails, undo it and
    // replay caller by caller, each in its own savepoint, so the failure is refused alone.
    // (A savepoint per caller on every batch cost about two thirds of the throughput.)
    ctx.db.exec("SAVEPOINT batch");
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                   for (auto& op : batch->ops) apply(store, op);
                 })) {
      (void)e;
      ctx.db.exec("ROLLBACK TO batch");
      Statement savepoint(ctx.db, "SAVEPOINT op");
      Statement release(ctx.db, "RELEASE op");
      Statement rollback(ctx.db, "ROLLBACK TO op");
      for (size_t i = 0; i < batch->callers(); ++i) {
        savepoint.run();
        KJ_IF_MAYBE (failure, kj::runCatchingExceptions([&]() {
                       for (auto& op : ops(i)) apply(store, op);
                     })) {
          rollback.run();
          std::string why = failure->getDescription().cStr();
          refused.emplace_back(i, why.empty() ? "store write failed" : std::move(why));
        }
        release.run();
      }
    }
    ctx.db.exec("RELEASE batch");
    return refused;
  });
  tasks_.add(applied
                 .then(
                     [](Refusals refused) {
                       return Outcome{std::move(refused), nullptr};
                     },
                     [](kj::Exception&& e) {
                       return Outcome{{}, kj::mv(e)};
                     })
                 .then([this, batch = std::move(batch), done = std::move(done)](Outcome o) mutable {
                   size_t next = 0;
                   for (size_t i = 0; i < done.size(); ++i) {
                     KJ_IF_MAYBE (e, o.failed) {
                       done[i]->reject(kj::cp(*e));
                     } else if (next < o.refused.size() && o.refused[next].first == i) {
                       done[i]->reject(KJ_EXCEPTION(FAILED, o.refused[next++].second));
                     } else {
                       done[i]->fulfill();
                     }
                   }
                   if (batch.use_count() == 1) {
                     auto storage = std::const_pointer_cast<Batch>(std::move(batch));
                     storage->ops.clear();
                     storage->ends.clear();
                     spare_ = std::move(storage);
                   }
                   settled();
                 }));
}

void UsageBatcher::settled() {
  --inFlight_;
  // What arrived while the writer was busy goes as one batch now.
  if (pending_->callers() > 0 && !flushScheduled_ && inFlight_ < MAX_IN_FLIGHT) flush();
  if (inFlight_ == 0 && pending_->callers() == 0) {
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
