#include "fleet-sync.h"

#include "fleet/scripts.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <deque>

namespace tenantd::fleet {

namespace {
enum Script : size_t { FLUSH = 0, STRICT = 1 };
constexpr int64_t MAX_EXACT = int64_t{1} << 53;
// What readiness adds to why the fleet is unavailable.
constexpr const char* WHILE_UNAVAILABLE =
    "; checks count on this host's usage and the last fleet figures read";

int64_t integerAt(const redisReply* r, size_t i) {
  const redisReply* e = r->element[i];
  return e->type == REDIS_REPLY_INTEGER ? e->integer : 0;
}

bool isIntegerArray(const redisReply* r, size_t n) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return false;
  }
  return true;
}

std::string describe(const redisReply* r) {
  if (r == nullptr) return "no reply";
  if (r->type == REDIS_REPLY_ERROR) return std::string(r->str, r->len);
  return "an unexpected reply";
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

std::string counterKey(std::string_view prefix, std::string_view tenantId, const FleetCount& c) {
  // Names and periods hold no ':' and tenant ids no '{' or '}'; the user key, last, may hold
  // anything.
  std::string key;
  key.reserve(prefix.size() + tenantId.size() + c.rule->resource.size() + c.rule->metric.size() +
              c.userKey.size() + 48);
  key.append(prefix).append(":{").append(tenantId).append("}:");
  key.append(periodName(c.rule->period)).append(":").append(scopeName(c.rule->scope));
  key.append(":").append(c.rule->resource).append(":").append(c.rule->metric).append(":");
  key.append(std::to_string(c.window.start)).append(":").append(c.userKey);
  return key;
}

// One call of the flush script: some counters of one tenant.
struct FleetSync::Call {
  std::string id;
  uint64_t generation;
  std::vector<FleetCount> counts;
};

// One flush: its calls still out or queued, and who waits for all of them.
struct FleetSync::Batch {
  size_t outstanding = 0;
  size_t calls = 0;
  bool failed = false;
  std::string refusal;      // Redis's error reply, when one refused a call.
  std::deque<Call> queued;  // Not sent yet: at most MAX_KEYS_IN_FLIGHT keys are out at once.
  size_t keysInFlight = 0;
  bool pumping = false;  // pump() is sending.
  bool lost = false;     // A call got no reply: the connection dropped.

  // A call not applied: `r` is Redis's answer, or null when none came.
  void failedWith(const redisReply* r) {
    if (r == nullptr) lost = true;
    if (!failed && r != nullptr) refusal = describe(r);
    failed = true;
  }
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  kj::Own<kj::Vector<kj::Own<kj::PromiseFulfiller<void>>>> waiters;
};

struct FleetSync::Metrics {
  explicit Metrics(tenantd::Metrics& m)
      : flushes(m.counter("tenantd_fleet_flushes_total",
                          "Flushes of this host's counters to the fleet's Redis, by outcome",
                          {{"outcome", "ok"}})),
        flushFailures(m.counter("tenantd_fleet_flushes_total",
                                "Flushes of this host's counters to the fleet's Redis, by outcome",
                                {{"outcome", "failed"}})),
        countersSent(m.counter("tenantd_fleet_counters_sent_total",
                               "Counter-windows sent to the fleet's Redis and applied", {})),
        resends(m.counter("tenantd_fleet_resends_total",
                          "Tenants whose every counter was sent again (reconnect, new rules, "
                          "data lost in Redis)",
                          {})),
        disconnects(m.counter("tenantd_fleet_disconnects_total",
                              "Times the fleet's Redis went from answering to unreachable", {})),
        flushSeconds(m.latency("tenantd_fleet_flush_seconds",
                               "Round trip of one flush to the fleet's Redis", {})),
        strictAllowed(m.counter("tenantd_fleet_strict_total",
                                "Strict-rule calls decided on the fleet's Redis, by outcome",
                                {{"outcome", "allowed"}})),
        strictRefused(m.counter("tenantd_fleet_strict_total",
                                "Strict-rule calls decided on the fleet's Redis, by outcome",
                                {{"outcome", "refused"}})),
        strictUnreached(m.counter("tenantd_fleet_strict_total",
                                  "Strict-rule calls decided on the fleet's Redis, by outcome",
                                  {{"outcome", "unreachable"}})),
        strictSeconds(m.latency("tenantd_fleet_strict_seconds",
                                "Round trip of one strict call to the fleet's Redis", {})) {}
  OwnedCounter& flushes;
  OwnedCounter& flushFailures;
  OwnedCounter& countersSent;
  OwnedCounter& resends;
  OwnedCounter& disconnects;
  LatencyHistogram& flushSeconds;
  OwnedCounter& strictAllowed;
  OwnedCounter& strictRefused;
  OwnedCounter& strictUnreached;
  LatencyHistogram& strictSeconds;
  std::unique_ptr<tenantd::Metrics::Gauge> up;
};

FleetSync::FleetSync(uv_loop_t& loop, kj::Function<void()> wake, const FleetConfig& config,
                     RedisOptions redis, std::string hostId, Tenants& tenants, Readiness& readiness,
                     tenantd::Metrics& metrics, Log& log, const Clock& clock)
    : config_(config),
      hostId_(std::move(hostId)),
      tenants_(tenants),
      readiness_(readiness),
      log_(log),
      clock_(clock),
      metrics_(std::make_unique<Metrics>(metrics)),
      redis_(
          loop, kj::mv(wake),
          [&]() {
            redis.scripts = {FLUSH_SCRIPT, STRICT_SCRIPT};
            return std::move(redis);
          }(),
          [this](bool up, const std::string& why) { changed(up, why); }, log),
      timer_(new uv_timer_t) {
  metrics_->up = metrics.gauge(
      "tenantd_fleet_up", "1 while the fleet's Redis takes this host's counts, 0 while it does not",
      {}, [this]() { return reachable() ? 1.0 : 0.0; });
  uv_timer_init(&loop, timer_);
  timer_->data = this;
  readiness_.fleetUnavailable("fleet: not connected to Redis yet");
}

FleetSync::~FleetSync() noexcept(false) {
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void FleetSync::start() {
  redis_.start();
  auto interval = static_cast<uint64_t>(config_.flushIntervalMs);
  uv_timer_start(timer_, onFlushTimer, interval, interval);
}

void FleetSync::onFlushTimer(uv_timer_t* timer) {
  static_cast<FleetSync*>(timer->data)->flush();
}

void FleetSync::changed(bool up, const std::string& why) {
  if (up) {
    wasUp_ = true;
    refusal_.clear();  // A new connection: the next flush tells.
    // Whatever Redis holds now (a restart, a failover, another host's rewrite), this host's
    // every counter goes again on the next flush.
    resendAll_ = true;
    readiness_.fleetUnavailable("");
    log_.info("fleet", "connected to Redis; resending this host's counters");
    flush();
    return;
  }
  if (wasUp_) metrics_->disconnects.add();
  wasUp_ = false;
  readiness_.fleetUnavailable("fleet: Redis unreachable (" + why + ")" + WHILE_UNAVAILABLE);
  log_.warn("fleet", "Redis unreachable: " + why);
}

void FleetSync::refusedFlush(const std::string& why) {
  // Once per distinct answer: a Redis that refuses every flush would otherwise log 20 times a
  // second.
  if (why == refusal_) return;
  refusal_ = why;
  log_.warn("fleet", "flush refused by Redis: " + why);
  readiness_.fleetUnavailable("fleet: Redis refuses this host's counts (" + why + ")" +
                              WHILE_UNAVAILABLE);
}

std::string FleetSync::expireAt(const Window& w) const {
  if (w.end == LIFETIME_WINDOW.end) return "0";
  return std::to_string(w.end + config_.graceSeconds * 1000);
}

kj::Promise<void> FleetSync::flushNow() {
  auto paf = kj::newPromiseAndFulfiller<void>();
  flushWaiters_.add(kj::mv(paf.fulfiller));
  if (!flushing_) flush();
  return kj::mv(paf.promise);
}

void FleetSync::flush() {
  if (flushing_) return;
  auto waiters = kj::heap<kj::Vector<kj::Own<kj::PromiseFulfiller<void>>>>(kj::mv(flushWaiters_));
  flushWaiters_ = {};
  if (!redis_.up()) {
    for (auto& w : *waiters) w->fulfill();
    return;
  }
  UnixMillis now = clock_.now();
  bool all = resendAll_;
  resendAll_ = false;
  if (all) {
    sentAt_.clear();  // Rebuilt below: tenants deleted meanwhile drop out.
    resend_.clear();
  }
  auto batch = std::make_shared<Batch>();
  batch->waiters = kj::mv(waiters);
  flushing_ = true;
  batch->outstanding = 1;  // Held while the calls go out: one answered at once ends nothing.
  tenants_.forEach([&](TenantState& t) {
    const std::string& id = t.info.id;
    uint64_t generation = t.limiter.generation();
    auto seen = sentAt_.find(id);
    bool whole = all || seen == sentAt_.end() || seen->second != generation || resend_.count(id);
    if (whole) {
      t.limiter.trackFleet(true);
      sentAt_[id] = generation;
      resend_.erase(id);
      metrics_->resends.add();
    }
    auto counts = t.limiter.takeFleetChanges(whole, now);
    // Everything goes anyway: a field Redis lost is put back without being noticed as lost.
    if (whole) {
      for (auto& c : counts) c.previous = 0;
    }
    enqueue(*batch, id, generation, std::move(counts));
  });
  if (!refusal_.empty() && batch->queued.empty()) probe(batch);
  pump(batch);
  sent(*batch);
}

void FleetSync::probe(const std::shared_ptr<Batch>& batch) {
  // Refused, and nothing to send that would tell when that ends (say every counter pruned):
  // one small write of this host's own, gone in a minute, asks instead.
  std::string key = config_.keyPrefix + ":{" + hostId_ + "}:probe";
  ++batch->outstanding;
  ++batch->calls;
  redis_.send(key, {"SET", key, "1", "PX", "60000"}, [this, batch](const redisReply* r) {
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) batch->failedWith(r);
    sent(*batch);
  });
}

void FleetSync::enqueue(Batch& batch, const std::string& id, uint64_t generation,
                        std::vector<FleetCount> counts) {
  for (size_t from = 0; from < counts.size(); from += MAX_KEYS_PER_CALL) {
    size_t to = std::min(counts.size(), from + MAX_KEYS_PER_CALL);
    if (from == 0 && to == counts.size()) {
      batch.queued.push_back({id, generation, std::move(counts)});
      return;
    }
    batch.queued.push_back({id, generation,
                            std::vector<FleetCount>(std::make_move_iterator(counts.begin() + from),
                                                    std::make_move_iterator(counts.begin() + to))});
  }
}

void FleetSync::pump(const std::shared_ptr<Batch>& batch) {
  // A call that fails at once (the connection just dropped) answers inside sendCounts; its
  // answer's pump leaves the rest to this loop rather than recursing once per queued call.
  if (batch->pumping) return;
  if (!redis_.up() && !batch->queued.empty()) batch->failedWith(nullptr);
  while (!batch->queued.empty() && batch->keysInFlight < MAX_KEYS_IN_FLIGHT && !batch->lost) {
    Call call = std::move(batch->queued.front());
    batch->queued.pop_front();
    TenantState* t = tenants_.find(call.id);
    // Gone, or new rules (these counts' are gone, and the next flush sends it whole).
    if (t == nullptr || t->limiter.generation() != call.generation) continue;
    // Taken when the flush began; what goes is each counter as it stands now.
    t->limiter.refreshFleet(call.generation, call.counts);
    if (!call.counts.empty()) {
      batch->pumping = true;
      sendCounts(batch, call.id, call.generation, std::move(call.counts));
      batch->pumping = false;
    }
  }
  if (batch->lost) batch->queued.clear();  // Lost mid-flush: the reconnect resends all whole.
}

void FleetSync::sendCounts(const std::shared_ptr<Batch>& batch, const std::string& id,
                           uint64_t generation, std::vector<FleetCount> counts) {
  std::vector<std::string> argv;
  argv.reserve(4 + counts.size() * 4);
  argv.push_back("EVALSHA");
  argv.push_back(redis_.scriptSha(FLUSH));
  argv.push_back(std::to_string(counts.size()));
  for (auto& c : counts) argv.push_back(counterKey(config_.keyPrefix, id, c));
  argv.push_back(hostId_);
  for (auto& c : counts) {
    // Lua counts in doubles: past 2^53 a figure is not exact, and near 2^63 its difference
    // would overflow HINCRBY. Held at 2^53, as one call's amount is.
    argv.push_back(std::to_string(std::min(c.value, MAX_EXACT)));
    argv.push_back(std::to_string(std::min(c.previous, MAX_EXACT)));
    argv.push_back(expireAt(c.window));
  }
  ++batch->outstanding;
  ++batch->calls;
  batch->keysInFlight += counts.size();
  std::string key = argv[3];  // Every key of one tenant is in its slot.
  auto onReply = [this, batch, id, generation,
                  counts = std::move(counts)](const redisReply* r) mutable {
    batch->keysInFlight -= counts.size();
    if (counts.size() > 1 && r != nullptr && r->type == REDIS_REPLY_ERROR &&
        std::string_view(r->str, r->len).starts_with("TRYAGAIN")) {
      // Some of these keys have moved to the slot's next node and some not: one call per key
      // goes wherever its key is now (the script treats every key on its own).
      // Each goes as it stands when sent (pump): a strict call may have added to this host's
      // fields since these figures were taken, and they would take that back.
      for (auto& c : counts) batch->queued.push_front({id, generation, {std::move(c)}});
      pump(batch);
      return sent(*batch);
    }
    if (!isIntegerArray(r, counts.size() + 1)) {
      // Not applied, or not known to be: this tenant goes whole next time.
      resend_.insert(id);
      batch->failedWith(r);
    } else {
      metrics_->countersSent.add(counts.size());
      if (integerAt(r, counts.size()) > 0) {
        log_.warn("fleet", "Redis had lost counters of tenant " + id + "; resending them");
        resend_.insert(id);
      }
      if (TenantState* t = tenants_.find(id)) {
        for (size_t i = 0; i < counts.size(); ++i) {
          auto& c = counts[i];
          t->limiter.setFleetOthers(generation, c.rule, c.userKey, c.window,
                                    integerAt(r, i) - c.value);
        }
      }
    }
    pump(batch);
    sent(*batch);
  };
  redis_.send(key, std::move(argv), kj::mv(onReply), RedisRouter::TryAgain::RETURN);
}

void FleetSync::sent(Batch& batch) {
  if (--batch.outstanding > 0) return;
  flushing_ = false;
  if (batch.calls > 0) {
    (batch.failed ? metrics_->flushFailures : metrics_->flushes).add();
    metrics_->flushSeconds.observe(secondsSince(batch.started));
    if (!batch.refusal.empty()) {
      refusedFlush(batch.refusal);
    } else if (!batch.failed && !refusal_.empty()) {
      refusal_.clear();
      readiness_.fleetUnavailable("");
      log_.info("fleet", "Redis takes this host's counts again");
    }
  }
  for (auto& w : *batch.waiters) w->fulfill();
}

kj::Promise<StrictAnswer> FleetSync::strictAdd(const TenantState& t,
                                               const std::vector<Limiter::Applicable>& counters,
                                               int64_t amount) {
  if (!redis_.up()) {
    metrics_->strictUnreached.add();
    return StrictAnswer{};
  }
  std::vector<std::string> argv;
  argv.reserve(5 + counters.size() * 3);
  argv.push_back("EVALSHA");
  argv.push_back(redis_.scriptSha(STRICT));
  argv.push_back(std::to_string(counters.size()));
  for (auto& c : counters) {
    argv.push_back(
        counterKey(config_.keyPrefix, t.info.id, FleetCount{c.rule, c.userKey, c.window, 0, 0}));
  }
  argv.push_back(hostId_);
  argv.push_back(std::to_string(amount));
  for (auto& c : counters) {
    argv.push_back(c.rule->gateAction == GateAction::BLOCK ? std::to_string(c.limit) : "-1");
    argv.push_back(expireAt(c.window));
  }
  auto paf = kj::newPromiseAndFulfiller<StrictAnswer>();
  size_t n = counters.size();
  std::string key = argv[3];
  redis_.send(key, std::move(argv),
              [this, n, fulfiller = kj::mv(paf.fulfiller),
               started = std::chrono::steady_clock::now()](const redisReply* r) mutable {
                StrictAnswer a;
                if (!isIntegerArray(r, 1 + 2 * n)) {
                  // The policy decides this call (LimitsService::checkUnanswered).
                  metrics_->strictUnreached.add();
                  if (r != nullptr && describe(r) != strictRefusal_) {
                    strictRefusal_ = describe(r);  // Once per distinct answer.
                    log_.warn("fleet", "strict call refused by Redis: " + strictRefusal_);
                  }
                  fulfiller->fulfill(kj::mv(a));
                  return;
                }
                metrics_->strictSeconds.observe(secondsSince(started));
                a.reached = true;
                a.allowed = integerAt(r, 0) == 1;
                (a.allowed ? metrics_->strictAllowed : metrics_->strictRefused).add();
                for (size_t i = 0; i < n; ++i) {
                  a.figures.push_back({integerAt(r, 1 + i), integerAt(r, 1 + n + i)});
                }
                fulfiller->fulfill(kj::mv(a));
              });
  return kj::mv(paf.promise);
}

}  // namespace tenantd::fleet
