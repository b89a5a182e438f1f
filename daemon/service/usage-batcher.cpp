#include "usage-batcher.h"

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
  if (!pending_.empty()) flush();
}

kj::Promise<void> UsageBatcher::add(StoreOp op) {
  if (pending_.empty()) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    committed_ = paf.promise.fork();
    fulfiller_ = kj::mv(paf.fulfiller);
    // evalLater, not evalLast: a saturated loop never drains its queue, and evalLast would
    // then wait forever. Requests that arrive in the same uv pass or kj turn share a batch.
    tasks_.add(kj::evalLater([this]() { flush(); }));
  }
  pending_.push_back(std::move(op));
  KJ_IF_MAYBE (c, committed_) {
    auto branch = c->addBranch();
    if (pending_.size() >= MAX_BATCH) flush();
    return branch;
  }
  KJ_UNREACHABLE;
}

void UsageBatcher::flush() {
  if (pending_.empty()) return;
  auto ops = std::move(pending_);
  pending_.clear();
  auto fulfiller = kj::mv(fulfiller_);
  committed_ = nullptr;
  ++batches_;
  tasks_.add(
      writer_
          .submit<void>([ops = std::move(ops)](WriterContext& ctx) {
            auto& store = ctx.usage();
            for (auto& op : ops) {
              switch (op.kind) {
                case StoreOp::Kind::USAGE:
                  store.addUsage(op.tenantId, op.resource, op.metric, op.userId, op.at, op.amount);
                  break;
                case StoreOp::Kind::TRACK_ID:
                  store.rememberTrackId(op.tenantId, op.id, op.at);
                  break;
                case StoreOp::Kind::PUT_RESERVATION:
                  store.putReservation(op.tenantId, Reservation{op.id, op.userId, op.resource,
                                                                op.metric, op.amount, op.at});
                  break;
                case StoreOp::Kind::DELETE_RESERVATION:
                  store.deleteReservation(op.tenantId, op.id);
                  break;
              }
            }
          })
          .then([f = fulfiller.get()]() { f->fulfill(); },
                [f = fulfiller.get()](kj::Exception&& e) { f->reject(kj::mv(e)); })
          .attach(kj::mv(fulfiller)));
}

}  // namespace tenantd
