#include "usage-batcher.h"

#include "core/saturating.h"
#include "store/usage-store.h"

#include <kj/debug.h>

#include <string_view>
#include <unordered_map>

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
  waiting_.push_back(Waiter{1, kj::mv(paf.fulfiller), {}});
  added();
  return kj::mv(paf.promise);
}

kj::Promise<UsageBatcher::Refusals> UsageBatcher::addGroup(kj::ArrayPtr<StoreOp> ops,
                                                           kj::ArrayPtr<const uint32_t> ends) {
  KJ_REQUIRE(ends.size() > 0 && ends.back() == ops.size());
  Batch& b = *pending_;
  auto base = static_cast<uint32_t>(b.ops.size());
  for (auto& op : ops) b.ops.push_back(std::move(op));
  for (uint32_t end : ends) b.ends.push_back(base + end);
  auto paf = kj::newPromiseAndFulfiller<Refusals>();
  waiting_.push_back(Waiter{static_cast<uint32_t>(ends.size()), {}, kj::mv(paf.fulfiller)});
  added();
  return kj::mv(paf.promise);
}

void UsageBatcher::added() {
  if (pending_->callers() >= MAX_BATCH) {
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

// A usage row: ops on the same one are summed into one upsert.
struct RowKey {
  std::string_view tenantId, resource, metric, userId;
  UnixMillis bucket;
  bool operator==(const RowKey&) const = default;
};
struct RowHash {
  size_t operator()(const RowKey& k) const {
    std::hash<std::string_view> h;
    size_t x = h(k.tenantId);
    for (auto part : {k.resource, k.metric, k.userId}) x = x * 31 + h(part);
    return x * 31 + std::hash<UnixMillis>{}(k.bucket);
  }
};

// Applies a batch's ops with the usage ops that land on the same row (tenant, resource, metric,
// user, minute) summed into one upsert: the rows stored are the same, since the upsert adds,
// saturating, and the amounts are not negative (saturating sums of those do not depend on the
// grouping). A batch of many callers over fewer users writes each row once (limits-bench:
// 8192 tracks over 1000 users). Only for the whole batch at once: a caller replayed alone
// after a failure writes its own ops.
void applyMerged(UsageStore& store, const std::vector<StoreOp>& ops) {
  std::unordered_map<RowKey, size_t, RowHash> rows;  // Row -> its entry in `sums`.
  std::vector<std::pair<const StoreOp*, int64_t>> sums;
  rows.reserve(ops.size());
  for (auto& op : ops) {
    if (op.kind != StoreOp::Kind::USAGE || op.amount < 0) {
      apply(store, op);
      continue;
    }
    RowKey key{op.tenantId, op.resource, op.metric, op.userId, minuteBucket(op.at)};
    auto [it, added] = rows.try_emplace(key, sums.size());
    if (added) {
      sums.emplace_back(&op, op.amount);
    } else {
      sums[it->second].second = saturatingAdd(sums[it->second].second, op.amount);
    }
  }
  for (auto& [op, amount] : sums) {
    store.addUsage(op->tenantId, op->resource, op->metric, op->userId, op->at, amount);
  }
}

using Refusals = UsageBatcher::Refusals;
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
  Waiters done = std::move(waiting_);
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
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { applyMerged(store, batch->ops); })) {
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
                   size_t caller = 0;  // The batch's index of this waiter's first caller.
                   size_t next = 0;    // The first refusal not yet handed out.
                   for (auto& w : done) {
                     size_t end = caller + w.callers;
                     Refusals mine;
                     for (; next < o.refused.size() && o.refused[next].first < end; ++next) {
                       mine.emplace_back(o.refused[next].first - caller,
                                         std::move(o.refused[next].second));
                     }
                     caller = end;
                     KJ_IF_MAYBE (e, o.failed) {
                       if (w.one) w.one->reject(kj::cp(*e));
                       if (w.group) w.group->reject(kj::cp(*e));
                     } else if (w.group) {
                       w.group->fulfill(std::move(mine));
                     } else if (mine.empty()) {
                       w.one->fulfill();
                     } else {
                       w.one->reject(KJ_EXCEPTION(FAILED, mine[0].second));
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
