#pragma once
// The sidecar's side of the feed (docs/SYNC.md): one loop on the event-loop thread that asks the
// central for what changed since the applied version (long polling), or polls a static snapshot
// with If-None-Match, checks each answer whole (size, envelope and signature, payload, every
// document) and hands it to the Applier. Whatever goes wrong — the central down, slow, or
// answering garbage — the last-known-good copy stays, the failure is counted and logged by
// reason, readiness says degraded, and the next attempt waits an exponential backoff with full
// jitter, capped.

#include "core/bounds.h"
#include "loop/worker.h"
#include "service/readiness.h"
#include "sync/applier.h"
#include "sync/envelope.h"
#include "sync/http-fetch.h"
#include "util/log.h"
#include "util/metrics.h"

#include <kj/async.h>
#include <kj/timer.h>

#include <random>
#include <string>
#include <vector>

namespace tenantd::sync {

struct FeedOptions {
  // Exactly one: a live central's base URL (GET {url}/v1/sync), or a static snapshot's URL.
  std::string url;
  std::string snapshotUrl;
  std::vector<VerifyKey> trusted;  // Empty only with --dev: bodies are not checked.
  int64_t waitSeconds = 20;        // How long a live central may hold a request.
  int64_t pollIntervalMs = 5000;   // A snapshot's polls; a feed that answered 304 at once.
  int64_t connectTimeoutMs = 3000;
  int64_t timeoutMs = 10000;  // A transfer's limit beyond the long poll's wait.
  size_t maxBodyBytes = 64 << 20;
  int64_t initialBackoffMs = 250;
  int64_t maxBackoffMs = 30000;
  std::string caFile;
  // Who this host is to a live central: its id, its host token (empty: none, --dev only) and
  // the public half of its key, registered (POST /v1/hosts) before its first sync.
  std::string hostId;
  std::string hostToken;
  std::optional<PublicKey> hostKey;
};

// A request to `options`' central (or snapshot server) within its limits: connect and total
// timeouts, the body cap, the CA file. The sync loop and forwarded writes both start here.
FetchRequest requestWithin(const FeedOptions& options);

class SyncClient final : private kj::TaskSet::ErrorHandler {
public:
  // `worker` opens and parses answers off the event loop (a full snapshot is megabytes).
  SyncClient(HttpFetcher& fetcher, Applier& applier, Worker& worker, FeedOptions options,
             DocumentBounds bounds, Readiness& readiness, kj::Timer& timer, Metrics& metrics,
             Log& log);
  KJ_DISALLOW_COPY(SyncClient);

  void start();
  // Resolves after the next attempt that ends in an applied version >= `version` (or at once).
  // Not bounded here: callers add their own deadline.
  kj::Promise<void> whenApplied(int64_t version);
  uint64_t attempts() const { return attempts_; }

private:
  kj::Promise<void> run();
  kj::Promise<void> once();  // One request and what follows from its answer.
  kj::Promise<void> fetchAndApply();
  // POST /v1/hosts with this host's key; resolves to whether the central took it.
  kj::Promise<bool> registerKey();
  // POST /v1/status after an attempt the central answered; its own failure is only logged.
  void reportStatus();
  FetchRequest toCentral(std::string method, std::string path) const;
  FetchRequest nextRequest() const;
  // Counts and logs a failed attempt, tells readiness; the next waits the backoff.
  void failed(const std::string& reason, const std::string& message);
  void succeeded();
  int64_t nextDelayMs();
  void taskFailed(kj::Exception&& e) override;

  HttpFetcher& fetcher_;
  Applier& applier_;
  Worker& worker_;
  FeedOptions options_;
  DocumentBounds bounds_;
  Readiness& readiness_;
  kj::Timer& timer_;
  Metrics& metrics_;
  Log& log_;
  std::optional<std::string> etag_;  // The snapshot's, for If-None-Match.
  int64_t backoffMs_ = 0;            // 0: the last attempt succeeded.
  bool answeredAtOnce_ = false;      // The last 304 came without the central holding it.
  bool lastFailed_ = false;
  bool registered_ = false;
  std::optional<int64_t> lastSuccessAtMs_;  // Wall clock, for the status report.
  uint64_t attempts_ = 0;
  std::string lastReason_;
  std::mt19937_64 random_{std::random_device{}()};
  struct AppliedWaiter {
    int64_t version;
    kj::Own<kj::PromiseFulfiller<void>> fulfiller;
  };
  std::vector<AppliedWaiter> appliedWaiters_;
  kj::TaskSet tasks_{*this};
};

}  // namespace tenantd::sync
