#pragma once
// The central's `GET /v1/sync` (docs/SYNC.md, "The feed"), on the event-loop thread. A request
// whose `since` is the current version waits, up to its `wait`, for the next change: one poll of
// the store's change counter every POLL_MS serves every waiting request together, and it runs only
// while some request waits. The counter is moved by triggers, so changes made by this daemon's
// REST API and by the offline CLI wake waiters alike.

#include "central/snapshot.h"
#include "util/clock.h"
#include "util/log.h"

#include <kj/async.h>
#include <kj/timer.h>

#include <optional>
#include <string>
#include <vector>

namespace tenantd::central {

struct FeedAnswer {
  enum class Kind { CHANGES, NOT_MODIFIED };
  Kind kind = Kind::CHANGES;
  int64_t version = 0;  // The ETag's.
  std::string body;     // CHANGES: the signed envelope.
};

class Feed final : private kj::TaskSet::ErrorHandler {
public:
  static constexpr int64_t POLL_MS = 50;
  static constexpr int64_t MAX_WAIT_MS = 60'000;

  Feed(Writer& writer, SnapshotSource source, kj::Timer& timer, const Clock& clock, Log& log);
  ~Feed();
  KJ_DISALLOW_COPY(Feed);

  // since nullopt: a full snapshot at once. Otherwise what changed after `since`, once there is
  // something (waiting up to waitMs), or NOT_MODIFIED.
  // Secrets are sealed to `recipient` (the asking host's key, else the fleet key); nullopt:
  // to the source's own.
  kj::Promise<FeedAnswer> sync(std::optional<int64_t> since, int64_t waitMs,
                               std::optional<sync::PublicKey> recipient = std::nullopt);
  const SnapshotSource& source() const { return source_; }
  // Drain: every waiting request is answered NOT_MODIFIED now; new ones do not wait.
  void stop();
  size_t waiting() const { return waiters_.size(); }
  // The central's version now: every change committed before the call is included.
  kj::Promise<int64_t> version() { return readVersion(); }
  // This daemon committed a change that made `version`: waiting requests are answered now,
  // without waiting for the next poll (which still catches changes made by other processes).
  void changed(int64_t version) { wake(version); }

private:
  struct Waiter {
    int64_t since;
    kj::Own<kj::PromiseFulfiller<void>> fulfiller;
  };
  kj::Promise<FeedAnswer> answer(std::optional<int64_t> since,
                                 std::optional<sync::PublicKey> recipient);
  kj::Promise<int64_t> readVersion();
  kj::Promise<void> poll();
  void wake(int64_t version);
  void taskFailed(kj::Exception&& e) override;

  Writer& writer_;
  SnapshotSource source_;
  kj::Timer& timer_;
  const Clock& clock_;
  Log& log_;
  std::vector<Waiter> waiters_;  // Fulfilled or abandoned ones are swept by wake().
  bool stopped_ = false;
  bool polling_ = false;
  kj::TaskSet tasks_{*this};
};

}  // namespace tenantd::central
