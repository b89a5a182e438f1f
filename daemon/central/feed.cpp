#include "central/feed.h"

#include <kj/debug.h>

namespace tenantd::central {

Feed::Feed(Writer& writer, SnapshotSource source, kj::Timer& timer, const Clock& clock, Log& log)
    : writer_(writer), source_(source), timer_(timer), clock_(clock), log_(log) {}

Feed::~Feed() {
  stop();
}

kj::Promise<int64_t> Feed::readVersion() {
  return writer_.submit<int64_t>([](WriterContext& ctx) { return ctx.sync().version(); });
}

kj::Promise<FeedAnswer> Feed::answer(std::optional<int64_t> since,
                                     std::optional<sync::PublicKey> recipient) {
  UnixMillis now = clock_.now();
  Log& log = log_;
  SnapshotSource source = source_;
  if (recipient) source.recipient = recipient;
  return writer_
      .submit<Snapshot>([source, since, now, &log](WriterContext& ctx) {
        return readSnapshot(ctx, source, since, now, log);
      })
      .then([](Snapshot s) {
        FeedAnswer out;
        out.version = s.version;
        out.body = kj::mv(s.envelope);
        return out;
      });
}

kj::Promise<FeedAnswer> Feed::sync(std::optional<int64_t> since, int64_t waitMs,
                                   std::optional<sync::PublicKey> recipient) {
  if (!since) return answer(std::nullopt, recipient);
  int64_t after = *since;
  return readVersion().then([this, after, waitMs,
                             recipient](int64_t version) -> kj::Promise<FeedAnswer> {
    if (version != after) return answer(after, recipient);  // Newer; or older: it catches up.
    if (stopped_ || waitMs <= 0) return FeedAnswer{FeedAnswer::Kind::NOT_MODIFIED, version, {}};
    auto paf = kj::newPromiseAndFulfiller<void>();
    waiters_.push_back(Waiter{after, kj::mv(paf.fulfiller)});
    if (!polling_) {
      polling_ = true;
      tasks_.add(poll());
    }
    auto changed = paf.promise.then([]() { return true; });
    auto expired = timer_.afterDelay(std::min(waitMs, MAX_WAIT_MS) * kj::MILLISECONDS).then([]() {
      return false;
    });
    return changed.exclusiveJoin(kj::mv(expired))
        .then([this, after, recipient](bool woken) -> kj::Promise<FeedAnswer> {
          if (!woken || stopped_) return FeedAnswer{FeedAnswer::Kind::NOT_MODIFIED, after, {}};
          return answer(after, recipient);
        });
  });
}

kj::Promise<void> Feed::poll() {
  return timer_.afterDelay(POLL_MS * kj::MILLISECONDS)
      .then([this]() { return readVersion(); })
      .then([this](int64_t version) -> kj::Promise<void> {
        wake(version);
        if (waiters_.empty() || stopped_) {
          polling_ = false;
          return kj::READY_NOW;
        }
        return poll();
      });
}

void Feed::wake(int64_t version) {
  for (auto& w : waiters_) {
    if (w.since != version && w.fulfiller->isWaiting()) w.fulfiller->fulfill();
  }
  std::erase_if(waiters_, [](Waiter& w) { return !w.fulfiller->isWaiting(); });
}

void Feed::stop() {
  stopped_ = true;
  for (auto& w : waiters_) {
    if (w.fulfiller->isWaiting()) w.fulfiller->fulfill();
  }
  waiters_.clear();
}

void Feed::taskFailed(kj::Exception&& e) {
  polling_ = false;
  log_.error("central", std::string("change poll failed: ") + e.getDescription().cStr());
}

}  // namespace tenantd::central
