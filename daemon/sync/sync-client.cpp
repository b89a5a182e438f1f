#include "sync/sync-client.h"

#include "sync/base64.h"

#include <kj/debug.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace tenantd::sync {

namespace {
// What the worker makes of a 200's body: the payload, or why it was refused.
struct Opened {
  std::optional<SyncPayload> payload;
  std::string reason;
  std::string message;
};
}  // namespace

SyncClient::SyncClient(HttpFetcher& fetcher, Applier& applier, Worker& worker, FeedOptions options,
                       DocumentBounds bounds, Readiness& readiness, kj::Timer& timer,
                       Metrics& metrics, Log& log)
    : fetcher_(fetcher),
      applier_(applier),
      worker_(worker),
      options_(kj::mv(options)),
      bounds_(bounds),
      readiness_(readiness),
      timer_(timer),
      metrics_(metrics),
      log_(log) {
  KJ_REQUIRE(options_.url.empty() != options_.snapshotUrl.empty(), "one of url, snapshotUrl");
}

void SyncClient::start() {
  tasks_.add(run());
}

kj::Promise<void> SyncClient::run() {
  return once()
      .then([this]() { return timer_.afterDelay(nextDelayMs() * kj::MILLISECONDS); })
      .then([this]() { return run(); });
}

FetchRequest requestWithin(const FeedOptions& options) {
  FetchRequest r;
  r.connectTimeoutMs = options.connectTimeoutMs;
  r.timeoutMs = options.timeoutMs;
  r.maxBodyBytes = options.maxBodyBytes;
  r.caFile = options.caFile;
  return r;
}

FetchRequest SyncClient::toCentral(std::string method, std::string path) const {
  FetchRequest r = requestWithin(options_);
  r.method = kj::mv(method);
  r.url = options_.url + path + (path.find('?') == std::string::npos ? "?" : "&") +
          "host=" + options_.hostId;
  if (!options_.hostToken.empty())
    r.headers.push_back("Authorization: Bearer " + options_.hostToken);
  return r;
}

FetchRequest SyncClient::nextRequest() const {
  if (!options_.snapshotUrl.empty()) {
    FetchRequest r = requestWithin(options_);
    r.url = options_.snapshotUrl;
    if (etag_) r.headers.push_back("If-None-Match: " + *etag_);
    return r;
  }
  FetchRequest r = toCentral("GET", "/v1/sync?wait=" + std::to_string(options_.waitSeconds));
  if (auto& applied = applier_.applied()) {
    r.url += "&since=" + std::to_string(applied->version);
    r.headers.push_back("If-None-Match: \"" + std::to_string(applied->version) + "\"");
  }
  r.timeoutMs += options_.waitSeconds * 1000;
  return r;
}

kj::Promise<void> SyncClient::once() {
  bool live = options_.snapshotUrl.empty();
  if (!live || registered_ || !options_.hostKey) return fetchAndApply();
  return registerKey().then([this](bool registered) -> kj::Promise<void> {
    if (!registered) return kj::READY_NOW;
    registered_ = true;
    return fetchAndApply();
  });
}

kj::Promise<bool> SyncClient::registerKey() {
  FetchRequest r = toCentral("POST", "/v1/hosts");
  r.headers.push_back("Content-Type: application/json");
  r.body =
      nlohmann::json{{"host", options_.hostId},
                     {"recipientKey", toBase64(options_.hostKey->data(), options_.hostKey->size())}}
          .dump();
  return fetcher_.send(kj::mv(r)).then([this](FetchResult r) {
    ++attempts_;
    if (r.kind == FetchResult::Kind::ANSWERED && r.status == 200) {
      log_.info("sync", "registered host " + options_.hostId + " and its key with the central");
      return true;
    }
    if (r.kind == FetchResult::Kind::ANSWERED) {
      failed("register", "the central refused to register host " + options_.hostId + ": HTTP " +
                             std::to_string(r.status));
    } else {
      failed("unreachable", "the central could not be reached: " + r.error);
    }
    return false;
  });
}

void SyncClient::reportStatus() {
  if (!options_.snapshotUrl.empty()) return;
  FetchRequest r = toCentral("POST", "/v1/status");
  r.headers.push_back("Content-Type: application/json");
  auto& applied = applier_.applied();
  r.body =
      nlohmann::json{
          {"host", options_.hostId},
          {"appliedVersion", applied ? nlohmann::json(applied->version) : nlohmann::json(nullptr)},
          {"lastError", lastFailed_ ? nlohmann::json(lastReason_) : nlohmann::json(nullptr)},
          {"lastSuccessAt",
           lastSuccessAtMs_ ? nlohmann::json(*lastSuccessAtMs_) : nlohmann::json(nullptr)}}
          .dump();
  tasks_.add(fetcher_.send(kj::mv(r)).then([this](FetchResult r) {
    if (r.kind != FetchResult::Kind::ANSWERED || r.status / 100 != 2) {
      log_.debug("sync", "the status report did not reach the central");
    }
  }));
}

kj::Promise<void> SyncClient::fetchAndApply() {
  kj::TimePoint started = timer_.now();
  return fetcher_.send(nextRequest())
      .then([this, started](FetchResult r) -> kj::Promise<void> {
        ++attempts_;
        if (r.kind == FetchResult::Kind::FAILED) {
          failed("unreachable", "the central could not be reached: " + r.error);
          return kj::READY_NOW;
        }
        if (r.kind == FetchResult::Kind::TOO_LARGE) {
          failed("oversized", "the answer is over " + std::to_string(options_.maxBodyBytes) +
                                  " bytes (central.max_body_bytes)");
          return kj::READY_NOW;
        }
        if (r.status == 304) {
          answeredAtOnce_ = timer_.now() - started < options_.waitSeconds * kj::SECONDS / 2;
          metrics_
              .counter("tenantd_sync_requests_total", "Requests to the central by outcome.",
                       {{"outcome", "not_modified"}})
              .add();
          succeeded();
          return kj::READY_NOW;
        }
        if (r.status != 200) {
          failed("http_status", "the central answered HTTP " + std::to_string(r.status));
          return kj::READY_NOW;
        }
        answeredAtOnce_ = false;
        auto etag = r.etag;
        std::vector<VerifyKey> trusted = options_.trusted;
        DocumentBounds bounds = bounds_;
        return worker_
            .run<Opened>([body = kj::mv(r.body), trusted = kj::mv(trusted), bounds]() {
              Opened out;
              auto payload = openEnvelope(body, trusted);
              if (auto* e = std::get_if<EnvelopeError>(&payload)) {
                out.reason = e->reason;
                out.message = e->message;
                return out;
              }
              auto parsed = parsePayload(std::get<std::string>(payload), bounds);
              if (auto* e = std::get_if<PayloadError>(&parsed)) {
                out.reason = "invalid_document";
                out.message = e->describe();
                return out;
              }
              out.payload = std::get<SyncPayload>(kj::mv(parsed));
              return out;
            })
            .then([this, etag](Opened opened) -> kj::Promise<void> {
              if (!opened.payload) {
                failed(opened.reason, opened.message);
                return kj::READY_NOW;
              }
              int64_t version = opened.payload->version;
              return applier_.apply(kj::mv(*opened.payload))
                  .then([this, etag, version](ApplyOutcome outcome) {
                    if (outcome.kind == ApplyOutcome::Kind::REFUSED) {
                      failed(outcome.reason, outcome.message);
                      return;
                    }
                    if (!etag.empty()) etag_ = etag;
                    if (outcome.kind == ApplyOutcome::Kind::APPLIED) {
                      log_.info("sync", "applied version " + std::to_string(version) + ": " +
                                            std::to_string(outcome.tenants) + " tenants, " +
                                            std::to_string(outcome.deleted) + " deleted (" +
                                            std::to_string(outcome.swapMicros) +
                                            " us on the event loop)");
                    }
                    metrics_
                        .counter("tenantd_sync_requests_total",
                                 "Requests to the central by outcome.",
                                 {{"outcome", outcome.kind == ApplyOutcome::Kind::APPLIED
                                                  ? "applied"
                                                  : "unchanged"}})
                        .add();
                    succeeded();
                  });
            });
      })
      .catch_([this](kj::Exception&& e) {
        failed("apply_failed", std::string("applying failed: ") + e.getDescription().cStr());
      })
      .then([this]() {
        // The central hears how it went, unless it could not be reached at all.
        if (!lastFailed_ || lastReason_ != "unreachable") reportStatus();
      });
}

void SyncClient::failed(const std::string& reason, const std::string& message) {
  metrics_
      .counter("tenantd_sync_requests_total", "Requests to the central by outcome.",
               {{"outcome", "failed"}})
      .add();
  metrics_
      .counter("tenantd_sync_failures_total",
               "Sync attempts that changed nothing, by reason: the central unreachable or "
               "answering what this host refuses.",
               {{"reason", reason}})
      .add();
  // A central that stays down is logged when it goes and when it comes back, not every retry.
  if (!lastFailed_ || reason != lastReason_) {
    log_.warn("sync", message + "; serving the last-known-good copy");
  }
  lastFailed_ = true;
  lastReason_ = reason;
  readiness_.syncFailed(message);
}

void SyncClient::succeeded() {
  if (lastFailed_) log_.info("sync", "the central answers again");
  lastSuccessAtMs_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  lastFailed_ = false;
  lastReason_.clear();
  readiness_.syncSucceeded();
  int64_t applied = applier_.applied() ? applier_.applied()->version : -1;
  for (auto& w : appliedWaiters_) {
    if (w.version <= applied) w.fulfiller->fulfill();
  }
  std::erase_if(appliedWaiters_, [](AppliedWaiter& w) { return !w.fulfiller->isWaiting(); });
}

kj::Promise<void> SyncClient::whenApplied(int64_t version) {
  if (applier_.applied() && applier_.applied()->version >= version) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  appliedWaiters_.push_back({version, kj::mv(paf.fulfiller)});
  return kj::mv(paf.promise);
}

int64_t SyncClient::nextDelayMs() {
  if (lastFailed_) {
    backoffMs_ = backoffMs_ == 0 ? options_.initialBackoffMs
                                 : std::min(backoffMs_ * 2, options_.maxBackoffMs);
    return std::uniform_int_distribution<int64_t>(0, backoffMs_)(random_);  // Full jitter.
  }
  backoffMs_ = 0;
  if (!options_.snapshotUrl.empty() || answeredAtOnce_) return options_.pollIntervalMs;
  return 0;
}

void SyncClient::taskFailed(kj::Exception&& e) {
  log_.error("sync", std::string("the sync loop stopped: ") + e.getDescription().cStr());
}

}  // namespace tenantd::sync
