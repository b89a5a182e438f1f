#include "tenantd/session.h"

#include "tenantd/batcher.h"

#include <utility>

namespace tenantd::client::detail {

kj::Exception failure(ErrorKind kind, kj::StringPtr message) {
  return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                       kj::str(kindName(kind).data(), ": ", message));
}

Link::Link(kj::Own<Connection> connection, ClientStats& stats)
    : connection_(kj::mv(connection)), stats_(stats) {
  tasks_.add(connection_->onDisconnect().then([this]() { broken_ = true; },
                                              [this](kj::Exception&&) { broken_ = true; }));
}

rpc::Tenant::Client Link::tenant(const std::string& id) {
  auto found = tenants_.find(id);
  if (found != tenants_.end()) return found->second;
  auto request = connection_->sidecar().tenantRequest();
  request.setId(id);
  ++stats_.tenantLookups;
  auto response = request.send();
  rpc::Tenant::Client cap = response.getTenant();
  tenants_.emplace(id, cap);
  tasks_.add(response.then([](auto&&) {}, [this, id](kj::Exception&&) { tenants_.erase(id); }));
  return cap;
}

Session::Session(kj::AsyncIoProvider& io, ClientOptions options)
    : io_(io), timer_(io.getTimer()), options_(std::move(options)), retryAt_(timer_.now()) {}

// Batchers go first (their calls hold the link), then the link, then the tasks.
Session::~Session() {
  batchers_.clear();
  link_ = nullptr;
}

TenantBatchers& Session::batchers(std::string_view tenant) {
  auto found = batchers_.find(std::string(tenant));
  if (found != batchers_.end()) return *found->second;
  std::string id(tenant);
  auto made = std::make_unique<TenantBatchers>(*this, id);
  auto& ref = *made;
  batchers_.emplace(std::move(id), std::move(made));
  return ref;
}

kj::Promise<kj::Own<Link>> Session::link() {
  if (link_.get() != nullptr && !link_->broken()) return kj::addRef(*link_);
  if (!connecting_) {
    if (timer_.now() < retryAt_) {
      // Backing off: fail fast instead of hammering a socket nobody serves.
      return failure(ErrorKind::UNAVAILABLE,
                     kj::str("not connected (", lastConnectError_.c_str(), "); next attempt in ",
                             (retryAt_ - timer_.now()) / kj::MILLISECONDS, " ms"));
    }
    startConnect();
  }
  auto paf = kj::newPromiseAndFulfiller<void>();
  waitingForLink_.push_back(kj::mv(paf.fulfiller));
  return paf.promise.then([this]() { return link(); });
}

void Session::startConnect() {
  connecting_ = true;
  ++stats_.connectAttempts;
  auto attempt = connect(io_, options_.socketPath)
                     .exclusiveJoin(timer_.afterDelay(options_.timeout.count() * kj::MILLISECONDS)
                                        .then([]() -> kj::Promise<kj::Own<Connection>> {
                                          return failure(ErrorKind::TIMEOUT, "connect timed out");
                                        }));
  tasks_.add(attempt.then([this](kj::Own<Connection> c) { connected(kj::mv(c)); },
                          [this](kj::Exception&& e) { connectFailed(kj::mv(e)); }));
}

void Session::connected(kj::Own<Connection> connection) {
  link_ = kj::refcounted<Link>(kj::mv(connection), stats_);
  ++stats_.connects;
  connecting_ = false;
  backoff_ = 0 * kj::MILLISECONDS;
  retryAt_ = timer_.now();
  auto waiting = std::exchange(waitingForLink_, {});
  for (auto& w : waiting) w->fulfill();
}

void Session::connectFailed(kj::Exception&& exception) {
  connecting_ = false;
  kj::Duration min = options_.minReconnectBackoff.count() * kj::MILLISECONDS;
  kj::Duration max = options_.maxReconnectBackoff.count() * kj::MILLISECONDS;
  backoff_ = backoff_ < min ? min : backoff_ * 2;
  if (backoff_ > max) backoff_ = max;
  retryAt_ = timer_.now() + backoff_;
  // connect() says "unavailable: ..." itself; a connect that timed out is said to be so here.
  Error error = toError(exception);
  lastConnectError_ = std::string(error.message());
  auto reason =
      error.kind() == ErrorKind::UNAVAILABLE
          ? kj::mv(exception)
          : failure(ErrorKind::UNAVAILABLE,
                    kj::str("cannot connect to ", options_.socketPath.c_str(), ": ", error.what()));
  auto waiting = std::exchange(waitingForLink_, {});
  for (auto& w : waiting) w->reject(kj::cp(reason));
}

}  // namespace tenantd::client::detail
