#pragma once
// Fleet-wide counting on Redis or Valkey ([fleet], docs/FLEET.md): the `Fleet` the limits
// service asks, and the flush loop that keeps every tenant's counters in the fleet.
//
// Every `flush_interval_ms` the changed counters of every tenant go to Redis as this host's
// absolute contribution (one EVALSHA per tenant, pipelined: one round trip), and each reply's
// totals become the counters' fleet figures (Limiter::setFleetOthers), which checks read with no
// I/O. After a (re)connect, a new rule list, or a sign that Redis lost data, a tenant's every
// counter is sent again: resends set, never add, so nothing counts twice. Strict rules ask Redis
// on the call itself (strictAdd). Event-loop thread only.

#include "config/config.h"
#include "fleet/redis-router.h"
#include "service/fleet.h"
#include "service/readiness.h"
#include "service/tenants.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

#include <kj/async.h>
#include <uv.h>

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

namespace tenantd::fleet {

// The Redis key of one counter-window of one tenant. Every key of a tenant carries the hash tag
// `{tenant}`, so a script over several of them stays in one Cluster slot.
std::string counterKey(std::string_view prefix, std::string_view tenantId, const FleetCount& c);

class FleetSync final : public Fleet {
public:
  FleetSync(uv_loop_t& loop, kj::Function<void()> wake, const FleetConfig& config,
            RedisOptions redis, std::string hostId, Tenants& tenants, Readiness& readiness,
            Metrics& metrics, Log& log, const Clock& clock);
  ~FleetSync() noexcept(false) override;

  // Dials Redis and starts flushing.
  void start();
  // One flush now (tests, and the daemon's drain): resolves when its replies are in.
  kj::Promise<void> flushNow();

  // Connected, and the last flush was not refused (an out-of-memory Redis, say): otherwise the
  // fleet's figures are going stale and the on_unavailable policy decides.
  bool reachable() const override { return redis_.up() && refusal_.empty(); }
  FleetPolicy policy() const override { return config_.onUnavailable; }
  kj::Promise<StrictAnswer> strictAdd(const TenantState& t,
                                      const std::vector<Limiter::Applicable>& counters,
                                      int64_t amount) override;
  kj::Promise<void> refresh() override { return flushNow(); }

  const std::string& hostId() const { return hostId_; }

private:
  struct Metrics;
  struct Call;
  struct Batch;
  static void onFlushTimer(uv_timer_t* timer);
  void flush();
  // One EVALSHA of the flush script for `counts` of tenant `id`; split into one call per counter
  // if Redis answers TRYAGAIN (the tenant's slot is half migrated).
  void sendCounts(const std::shared_ptr<Batch>& batch, const std::string& id, uint64_t generation,
                  std::vector<FleetCount> counts);
  // Queues `counts` in calls of at most MAX_KEYS_PER_CALL keys, which pump() sends while at most
  // MAX_KEYS_IN_FLIGHT keys are out: a tenant sent whole (a hundred thousand user counters)
  // neither holds the loop to write it all at once nor waits behind one script longer than
  // timeout_ms, and Redis serves other clients in between.
  void enqueue(Batch& batch, const std::string& id, uint64_t generation,
               std::vector<FleetCount> counts);
  void pump(const std::shared_ptr<Batch>& batch);
  // While flushes are refused and this one has nothing to send: a small write that says
  // whether Redis takes writes again.
  void probe(const std::shared_ptr<Batch>& batch);
  static constexpr size_t MAX_KEYS_PER_CALL = 512;
  static constexpr size_t MAX_KEYS_IN_FLIGHT = 4096;
  void sent(Batch& batch);
  void changed(bool up, const std::string& why);
  std::string expireAt(const Window& w) const;
  void refusedFlush(const std::string& why);

  FleetConfig config_;
  std::string hostId_;
  Tenants& tenants_;
  Readiness& readiness_;
  Log& log_;
  const Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  RedisRouter redis_;
  uv_timer_t* timer_;  // Freed by its close callback.
  bool flushing_ = false;
  bool wasUp_ = false;
  bool resendAll_ = true;
  std::set<std::string> resend_;                      // Tenants to send whole next time.
  std::unordered_map<std::string, uint64_t> sentAt_;  // Tenant -> rules generation last sent.
  kj::Vector<kj::Own<kj::PromiseFulfiller<void>>> flushWaiters_;
  std::string refusal_;        // Redis's answer to the last refused flush; empty once one succeeds.
  std::string strictRefusal_;  // The last error a strict call was answered, logged once.
};

}  // namespace tenantd::fleet
