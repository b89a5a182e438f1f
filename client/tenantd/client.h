#pragma once
// tenantd::client::Client: the synchronous, thread-safe facade of libtenantd-client, for apps
// without a kj event loop. No Cap'n Proto type appears here.
//
// One Client owns one background thread running a kj event loop with one connection to the
// daemon. Any number of app threads may call it at once; each call blocks its caller until the
// answer, an error, or the call's timeout.
//
// - Batching: concurrent check(), track() and consume() calls for the same tenant are merged.
//   While a batch call is in flight new requests queue; when it returns (at once when none is in
//   flight) the queue goes out as one checkBatch/trackBatch/consumeBatch (at most maxBatch items;
//   more batches in flight, up to maxBatchesInFlight, only when a full batch is waiting). Each
//   caller gets its own item's answer; a per-item failure is an Error for that caller only.
//   Batched requests are checked here first against the contract's rules (names, amounts, id
//   and timestamp), so one caller's bad request cannot fail the others' batch.
// - Reconnect: the connection is made on first use. When it drops (a daemon restart), calls in
//   flight on it fail with DISCONNECTED and are never retried, because track() and consume()
//   are not idempotent (a track() with an id is: resend it yourself). The next call connects
//   again. A failed connect fails its calls with UNAVAILABLE and starts a backoff (10 ms,
//   doubling up to 500 ms by default) during which calls fail at once without trying, so a dead
//   daemon costs callers nothing but the error.
// - Timeouts: every call has one (ClientOptions::timeout, or the call's own). A call that times
//   out while still queued is dropped from its batch; one already sent has an unknown outcome.
// - Tenants: the capability for each tenant id is obtained once per connection, pipelined with
//   the first call that needs it.
//
// The Client must outlive every call made on it; destroying it while calls are in flight fails
// them with DISCONNECTED.

#include "tenantd/error.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tenantd::client {

struct ClientOptions {
  // Empty: $TENANTD_SOCKET, else /run/tenantd/tenantd.sock.
  std::string socketPath;
  // Per call, unless the call names its own.
  std::chrono::milliseconds timeout{1000};
  size_t maxBatch = 512;
  unsigned maxBatchesInFlight = 4;
  // After a failed connect, calls fail at once for a pause that starts at the minimum and
  // doubles up to the maximum; a success ends it. 0 and 0: try on every call.
  std::chrono::milliseconds minReconnectBackoff{10};
  std::chrono::milliseconds maxReconnectBackoff{500};
};

// A call's own timeout; nullopt: ClientOptions::timeout.
using Timeout = std::optional<std::chrono::milliseconds>;

// Requests have constructors so that `{user, "api", "calls"}` and `{usage, "req-1"}` leave the
// rest at its default without -Wmissing-field-initializers in the app's build.
struct Usage {
  Usage() = default;
  Usage(std::string userId, std::string resource, std::string metric, int64_t amount = 1)
      : userId(std::move(userId)),
        resource(std::move(resource)),
        metric(std::move(metric)),
        amount(amount) {}

  std::string userId;  // Empty: no user (user-scoped rules do not apply).
  std::string resource;
  std::string metric;
  int64_t amount = 1;
};

struct TrackRequest {
  TrackRequest() = default;
  TrackRequest(Usage usage, std::string id = {}, int64_t timestampMs = 0)
      : usage(std::move(usage)), id(std::move(id)), timestampMs(timestampMs) {}

  Usage usage;
  std::string id;           // Idempotency key (<= 128 bytes): a repeat within 48 h is not counted.
  int64_t timestampMs = 0;  // 0: now. At most 5 minutes ahead.
};

struct Decision {
  bool allowed = false;
  bool warning = false;  // A warn rule would go over its limit.
  bool matched = false;  // Some rule applies; the fields below describe the reported rule.
  std::string gateAction;
  int64_t current = 0;
  int64_t reserved = 0;
  int64_t limit = 0;
  int64_t remaining = 0;
  std::string period;
  std::string scope;
  int64_t resetAtMs = 0;  // 0 for lifetime.
  // Whose usage the figures count: "host" (this host alone), "fleet" (every host, [fleet] on)
  // or "local" (the fleet's store unreachable: this host's counts on the last fleet figures).
  std::string counted = "host";
};

struct RuleUsage {
  std::string resource;
  std::string metric;
  std::string period;
  std::string scope;
  int64_t current = 0;
  int64_t reserved = 0;
  int64_t limit = 0;
  int64_t resetAtMs = 0;
  std::string counted = "host";  // As Decision::counted.
};

struct TrackResult {
  bool duplicate = false;  // The id was seen within 48 h: not counted again.
  std::vector<RuleUsage> usage;
};

struct Reservation {
  Decision decision;
  std::string id;  // Set when allowed.
};

struct Secret {
  std::string value;  // Bytes, not necessarily text.
  uint64_t version = 0;
};

struct Health {
  std::string status;
  std::string version;
  uint64_t uptimeSeconds = 0;
};

// What the client has done so far (tests, metrics).
struct ClientStats {
  uint64_t requests = 0;       // Calls the facade accepted (all methods).
  uint64_t rpcCalls = 0;       // Calls sent on the wire, batch calls counted once.
  uint64_t batchCalls = 0;     // checkBatch/trackBatch/consumeBatch calls sent.
  uint64_t batchedItems = 0;   // Requests carried by them.
  uint64_t tenantLookups = 0;  // Sidecar.tenant() calls: one per tenant and connection.
  uint64_t connectAttempts = 0;
  uint64_t connects = 0;  // Successful ones.
};

class Client {
public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Health health(Timeout timeout = std::nullopt);
  // May `usage.amount` be used now? Changes nothing. Batched.
  Decision check(std::string_view tenant, const Usage& usage, Timeout timeout = std::nullopt);
  // Records usage that happened; answered once durable. Batched.
  TrackResult track(std::string_view tenant, const TrackRequest& request,
                    Timeout timeout = std::nullopt);
  // check() and, if allowed, track(), atomically. Batched.
  Decision consume(std::string_view tenant, const Usage& usage, Timeout timeout = std::nullopt);
  // Holds usage.amount until commit(), release() or `ttl` (0: the daemon's default, 300 s).
  Reservation reserve(std::string_view tenant, const Usage& usage,
                      std::chrono::seconds ttl = std::chrono::seconds(0),
                      Timeout timeout = std::nullopt);
  // Settles a reservation with the amount actually used. NOT_FOUND if unknown or settled.
  void commit(std::string_view tenant, std::string_view reservationId, int64_t amount,
              Timeout timeout = std::nullopt);
  void release(std::string_view tenant, std::string_view reservationId,
               Timeout timeout = std::nullopt);
  Secret getSecret(std::string_view tenant, std::string_view name, Timeout timeout = std::nullopt);

  ClientStats stats();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tenantd::client
