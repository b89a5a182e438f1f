#include "tenantd/client.h"

#include "tenantd/batcher.h"
#include "tenantd/connect.h"
#include "tenantd/convert.h"
#include "tenantd/session.h"
#include "tenantd/validate.h"

#include <kj/async-io.h>

#include <cstring>
#include <future>
#include <thread>

namespace tenantd::client {

using detail::Session;

namespace {
struct Started {
  kj::Own<const kj::Executor> executor;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop;
  Session* session;
};

// The loop thread: one kj event loop, one Session, until the Client is destroyed.
void runLoop(ClientOptions options, std::promise<Started>& started) {
  kj::Maybe<kj::AsyncIoContext> maybeIo;
  try {
    maybeIo = kj::setupAsyncIo();
  } catch (...) {
    started.set_exception(std::current_exception());
    return;
  }
  auto& io = KJ_ASSERT_NONNULL(maybeIo);
  // A queue kept busy by many callers still polls the socket (see docs/ARCHITECTURE.md).
  io.waitScope.setBusyPollInterval(64);
  auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
  {
    Session session(*io.provider, kj::mv(options));
    started.set_value(
        Started{kj::getCurrentThreadExecutor().addRef(), kj::mv(stop.fulfiller), &session});
    stop.promise.wait(io.waitScope);
  }  // The session, its connection and batches go while the loop still runs.
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

struct Client::Impl {
  ClientOptions options;
  std::thread thread;
  kj::Own<const kj::Executor> executor;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop;
  Session* session = nullptr;  // Lives on the loop thread; touched only there, through executor.

  // Runs `body` on the loop thread and blocks this one until its promise settles or times out.
  template <typename T>
  T call(Timeout timeout, kj::Function<kj::Promise<T>(Session&)> body) {
    kj::Duration limit = timeout.value_or(options.timeout).count() * kj::MILLISECONDS;
    try {
      return executor->executeSync([&]() {
        ++session->stats().requests;
        return session->withTimeout<T>(kj::evalNow([&]() { return body(*session); }), limit);
      });
    } catch (const kj::Exception& e) {
      throw toError(e);
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.socketPath.empty()) options.socketPath = defaultSocketPath();
  impl_->options = options;
  std::promise<Started> started;
  auto future = started.get_future();
  impl_->thread =
      std::thread([options, started = std::move(started)]() mutable { runLoop(options, started); });
  try {
    Started s = future.get();
    impl_->executor = kj::mv(s.executor);
    impl_->stop = kj::mv(s.stop);
    impl_->session = s.session;
  } catch (...) {
    impl_->thread.join();
    throw;
  }
}

Client::~Client() {
  impl_->stop->fulfill();
  impl_->thread.join();
}

Health Client::health(Timeout timeout) {
  return impl_->call<Health>(timeout, [](Session& s) {
    return s.onSidecar<Health>([](rpc::Sidecar::Client& sidecar) {
      return sidecar.healthRequest().send().then([](auto r) {
        return Health{r.getStatus(), r.getVersion(), r.getUptimeSeconds()};
      });
    });
  });
}

Decision Client::check(std::string_view tenant, const Usage& usage, Timeout timeout) {
  detail::validate(usage);
  return impl_->call<Decision>(timeout,
                               [&](Session& s) { return s.batchers(tenant).check.add(usage); });
}

TrackResult Client::track(std::string_view tenant, const TrackRequest& request, Timeout timeout) {
  detail::validate(request, nowMs());
  return impl_->call<TrackResult>(
      timeout, [&](Session& s) { return s.batchers(tenant).track.add(request); });
}

Decision Client::consume(std::string_view tenant, const Usage& usage, Timeout timeout) {
  detail::validate(usage);
  return impl_->call<Decision>(timeout,
                               [&](Session& s) { return s.batchers(tenant).consume.add(usage); });
}

Reservation Client::reserve(std::string_view tenant, const Usage& usage, std::chrono::seconds ttl,
                            Timeout timeout) {
  return impl_->call<Reservation>(timeout, [&](Session& s) {
    return s.onTenant<Reservation>(std::string(tenant), [&](rpc::Tenant::Client& t) {
      auto request = t.reserveRequest();
      detail::write(request.initRequest(), usage);
      request.setTtlSeconds(static_cast<uint32_t>(ttl.count()));
      return request.send().then([](auto r) {
        return Reservation{detail::read(r.getDecision()), r.getReservationId()};
      });
    });
  });
}

void Client::commit(std::string_view tenant, std::string_view reservationId, int64_t amount,
                    Timeout timeout) {
  impl_->call<void>(timeout, [&](Session& s) {
    return s.onTenant<void>(std::string(tenant), [&](rpc::Tenant::Client& t) {
      auto request = t.commitRequest();
      request.setReservationId(std::string(reservationId));
      request.setAmount(amount);
      return request.send().ignoreResult();
    });
  });
}

void Client::release(std::string_view tenant, std::string_view reservationId, Timeout timeout) {
  impl_->call<void>(timeout, [&](Session& s) {
    return s.onTenant<void>(std::string(tenant), [&](rpc::Tenant::Client& t) {
      auto request = t.releaseRequest();
      request.setReservationId(std::string(reservationId));
      return request.send().ignoreResult();
    });
  });
}

Secret Client::getSecret(std::string_view tenant, std::string_view name, Timeout timeout) {
  return impl_->call<Secret>(timeout, [&](Session& s) {
    return s.onTenant<Secret>(std::string(tenant), [&](rpc::Tenant::Client& t) {
      auto request = t.getSecretRequest();
      request.setName(std::string(name));
      return request.send().then([](auto r) {
        auto value = r.getValue();
        Secret out{std::string(reinterpret_cast<const char*>(value.begin()), value.size()),
                   r.getVersion()};
        // The received message's copy is not ours to keep: wipe it before its buffer is freed.
        memset(const_cast<kj::byte*>(value.begin()), 0, value.size());
        return out;
      });
    });
  });
}

ClientStats Client::stats() {
  return impl_->executor->executeSync([this]() { return impl_->session->stats(); });
}

}  // namespace tenantd::client
