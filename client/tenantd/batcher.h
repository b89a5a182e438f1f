#pragma once
// Merges concurrent requests of one kind (check, track, consume) for one tenant into batch
// calls. One batch is in flight at a time; what arrives meanwhile queues and goes out as the
// next batch when it returns. More batches (up to maxBatchesInFlight) go out only while a full
// one (maxBatch items) is waiting. Each caller gets its own item's answer; a per-item `error`
// becomes that caller's failure only. Runs on the Client's loop thread. Private to the library.

#include "tenantd/convert.h"
#include "tenantd/session.h"

#include <kj/vector.h>

namespace tenantd::client::detail {

// What differs between the three batch calls.
struct CheckKind {
  using Request = Usage;
  using Result = Decision;
  static auto start(rpc::Tenant::Client& t) { return t.checkBatchRequest(); }
  static auto answers(capnp::Response<rpc::Tenant::CheckBatchResults>& r) {
    return r.getDecisions();
  }
};

struct ConsumeKind {
  using Request = Usage;
  using Result = Decision;
  static auto start(rpc::Tenant::Client& t) { return t.consumeBatchRequest(); }
  static auto answers(capnp::Response<rpc::Tenant::ConsumeBatchResults>& r) {
    return r.getDecisions();
  }
};

struct TrackKind {
  using Request = TrackRequest;
  using Result = TrackResult;
  static auto start(rpc::Tenant::Client& t) { return t.trackBatchRequest(); }
  static auto answers(capnp::Response<rpc::Tenant::TrackBatchResults>& r) { return r.getResults(); }
};

template <typename Kind>
class Batcher {
public:
  using Request = typename Kind::Request;
  using Result = typename Kind::Result;

  Batcher(Session& session, std::string tenant) : session_(session), tenant_(std::move(tenant)) {}
  KJ_DISALLOW_COPY(Batcher);

  // Resolves with this request's own answer. Dropping the promise before its batch is sent
  // (a timeout) takes the request out: it is never sent.
  kj::Promise<Result> add(Request request) {
    auto paf = kj::newPromiseAndFulfiller<Result>();
    queue_.push_back(Item{kj::mv(request), kj::mv(paf.fulfiller)});
    if (inFlight_ == 0) {
      // Requests that arrive in this loop turn go out together.
      if (!flushScheduled_) {
        flushScheduled_ = true;
        tasks_.add(kj::evalLater([this]() {
          flushScheduled_ = false;
          flush();
        }));
      }
    } else if (queue_.size() >= session_.options().maxBatch) {
      flush();
    }
    return kj::mv(paf.promise);
  }

private:
  struct Item {
    Request request;
    kj::Own<kj::PromiseFulfiller<Result>> fulfiller;
  };

  void flush() {
    const size_t maxBatch = std::max<size_t>(1, session_.options().maxBatch);
    const unsigned maxInFlight = std::max(1u, session_.options().maxBatchesInFlight);
    while (!queue_.empty() &&
           (inFlight_ == 0 || (queue_.size() >= maxBatch && inFlight_ < maxInFlight))) {
      kj::Vector<Item> items;
      while (!queue_.empty() && items.size() < maxBatch) {
        Item item = kj::mv(queue_.front());
        queue_.pop_front();
        if (item.fulfiller->isWaiting()) items.add(kj::mv(item));
      }
      if (items.empty()) continue;
      ++inFlight_;
      ++session_.stats().batchCalls;
      session_.stats().batchedItems += items.size();
      tasks_.add(send(items.releaseAsArray()).then([this]() {
        --inFlight_;
        flush();
      }));
    }
  }

  // Never fails: every failure is delivered to the items.
  kj::Promise<void> send(kj::Array<Item> array) {
    auto items = kj::heap(kj::mv(array));
    auto& ref = *items;
    return session_
        .onTenant<void>(tenant_,
                        [&ref](rpc::Tenant::Client& tenant) {
                          auto request = Kind::start(tenant);
                          auto list = request.initRequests(ref.size());
                          for (size_t i = 0; i < ref.size(); ++i) write(list[i], ref[i].request);
                          return request.send().then(
                              [&ref](auto response) { deliver(ref, Kind::answers(response)); });
                        })
        .catch_([&ref](kj::Exception&& e) {
          for (auto& item : ref) item.fulfiller->reject(kj::cp(e));
        })
        .attach(kj::mv(items));
  }

  template <typename List>
  static void deliver(kj::Array<Item>& items, List answers) {
    if (answers.size() != items.size()) {
      for (auto& item : items) {
        item.fulfiller->reject(failure(ErrorKind::INTERNAL, "batch answer of the wrong length"));
      }
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      auto answer = answers[i];
      if (answer.getError().size() > 0) {
        // The daemon's text starts with its kind ("unavailable: ..."): this caller's error only.
        items[i].fulfiller->reject(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                                                 kj::str(answer.getError())));
      } else {
        items[i].fulfiller->fulfill(read(answer));
      }
    }
  }

  Session& session_;
  std::string tenant_;
  std::deque<Item> queue_;
  unsigned inFlight_ = 0;
  bool flushScheduled_ = false;
  IgnoreTaskErrors ignore_;
  kj::TaskSet tasks_{ignore_};  // Last: its tasks use the members above.
};

struct TenantBatchers {
  TenantBatchers(Session& session, const std::string& tenant)
      : check(session, tenant), track(session, tenant), consume(session, tenant) {}
  Batcher<CheckKind> check;
  Batcher<TrackKind> track;
  Batcher<ConsumeKind> consume;
};

}  // namespace tenantd::client::detail
