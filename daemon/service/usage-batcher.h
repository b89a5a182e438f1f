#pragma once
// Collects the store writes of one event-loop turn (usage, track ids, reservations) and hands
// them to the writer as one job: one savepoint and one cross-thread hop for many requests. Every
// caller's promise resolves after the commit that holds its write, or rejects if it failed.

#include "store/writer.h"

#include <kj/async.h>

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
  static constexpr size_t MAX_BATCH = 8192;

  explicit UsageBatcher(Writer& writer);
  ~UsageBatcher() noexcept(false);
  KJ_DISALLOW_COPY(UsageBatcher);

  kj::Promise<void> add(StoreOp op);
  // Hands what is pending to the writer now, ahead of any job submitted after this call.
  void flushNow() { flush(); }
  uint64_t batches() const { return batches_; }

private:
  class ErrorHandler final : public kj::TaskSet::ErrorHandler {
  public:
    void taskFailed(kj::Exception&&) override {}  // Failures reach each caller's promise.
  };
  void flush();

  Writer& writer_;
  std::vector<StoreOp> pending_;
  kj::Maybe<kj::ForkedPromise<void>> committed_;
  kj::Own<kj::PromiseFulfiller<void>> fulfiller_;
  uint64_t batches_ = 0;
  ErrorHandler errorHandler_;
  kj::TaskSet tasks_{errorHandler_};
};

}  // namespace tenantd
