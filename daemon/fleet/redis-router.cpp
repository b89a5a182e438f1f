#include "redis-router.h"

#include "fleet/key-slot.h"
#include "fleet/redis-replies.h"

#include <hiredis/hiredis.h>

#include <set>

namespace tenantd::fleet {

namespace {
std::string_view errorText(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR ? std::string_view(r->str, r->len)
                                                      : std::string_view();
}
}  // namespace

struct RedisRouter::Call {
  uint16_t slot;
  std::vector<std::string> argv;
  OnReply done;
  TryAgain tryAgain;
  int hops = 0;
};

// A timer owned by the router until it fires: one still waiting when the router goes is closed
// then, and frees itself in its close callback.
struct RedisRouter::Later {
  uv_timer_t timer;
  RedisRouter* router;
  kj::Function<void()> then;

  static void close(Later* later) {
    uv_close(reinterpret_cast<uv_handle_t*>(&later->timer),
             [](uv_handle_t* h) { delete static_cast<Later*>(h->data); });
  }
};

RedisRouter::RedisRouter(uv_loop_t& loop, kj::Function<void()> wake, RedisOptions seed,
                         OnChange changed, Log& log)
    : loop_(loop),
      wake_(kj::mv(wake)),
      options_(std::move(seed)),
      changed_(kj::mv(changed)),
      log_(log) {
  slots_.fill(-1);
  if (!options_.sentinels.empty()) {
    options_.masterOnly = true;
    RedisOptions asking;
    asking.address = options_.sentinels[0];
    asking.connectTimeoutMs = options_.connectTimeoutMs;
    asking.timeoutMs = options_.timeoutMs;
    asking.maxBackoffMs = options_.maxBackoffMs;
    sentinel_ = std::make_unique<RedisConnection>(
        loop_, [this]() { wake_(); }, std::move(asking),
        [this](bool up, const std::string& why) { sentinelChanged(up, why); });
  }
  nodeAt(options_.address.host, options_.address.port);
}

RedisRouter::~RedisRouter() {
  for (Later* later : waiting_) Later::close(later);
}

void RedisRouter::start() {
  if (sentinel_ != nullptr) return sentinel_->start();  // Node 0 once the master is named.
  nodes_[0]->connection->start();
}

void RedisRouter::sentinelChanged(bool up, const std::string& why) {
  if (up) return askSentinel();
  lastWhy_ = "sentinel " + describeRedisAddress(sentinel_->address()) + ": " + why;
  // The next sentinel is dialled after the backoff.
  sentinelAt_ = (sentinelAt_ + 1) % options_.sentinels.size();
  sentinel_->retarget(options_.sentinels[sentinelAt_]);
  report();
}

void RedisRouter::askSentinel() {
  if (sentinel_ == nullptr || !sentinel_->up()) return;  // Asked once it is up again.
  sentinel_->send({"SENTINEL", "get-master-addr-by-name", options_.sentinelMaster},
                  [this](const redisReply* r) {
                    if (r == nullptr)
                      return;  // The sentinel connection failed: sentinelChanged() runs.
                    auto named = parseMasterAddress(r);
                    if (!named) {
                      lastWhy_ = "sentinel " + describeRedisAddress(sentinel_->address()) +
                                 " names no master \"" + options_.sentinelMaster + "\"";
                      report();
                      return after(ASK_SENTINEL_AGAIN_MS, [this]() { askSentinel(); });
                    }
                    RedisConnection& master = *nodes_[0]->connection;
                    master.retarget(*named);
                    if (!masterDialled_) {
                      masterDialled_ = true;
                      master.start();
                    }
                  });
}

size_t RedisRouter::nodeAt(const std::string& host, int port) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const RedisAddress& at = nodes_[i]->connection->address();
    if (at.host == host && at.port == port) return i;
  }
  size_t index = nodes_.size();
  auto node = std::make_unique<Node>();
  RedisOptions options = options_;
  if (index > 0) {  // A cluster's other masters: always TCP.
    options.address = RedisAddress{"", host, port};
  }
  node->connection = std::make_unique<RedisConnection>(
      loop_, [this]() { wake_(); }, std::move(options),
      [this, index](bool up, const std::string& why) { nodeChanged(index, up, why); });
  nodes_.push_back(std::move(node));
  if (index > 0) nodes_[index]->connection->start();
  return index;
}

void RedisRouter::nodeChanged(size_t node, bool up, const std::string& why) {
  nodes_[node]->up = up;
  if (!up) {
    lastWhy_ = nodes_.size() > 1
                   ? describeRedisAddress(nodes_[node]->connection->address()) + ": " + why
                   : why;
    if (node == 0) {
      askedSlots_ = false;  // Asked again on reconnect: the map may have moved.
      askSentinel();        // Under Sentinel: so may the master.
    }
  } else if (node == 0 && !askedSlots_) {
    return askSlots(0);  // Reported once answered.
  }
  report();
}

void RedisRouter::askSlots(size_t node) {
  refreshing_ = true;
  nodes_[node]->connection->send({"CLUSTER", "SLOTS"}, [this, node](const redisReply* r) {
    refreshing_ = false;
    if (r == nullptr) return;  // The connection failed: it reports that itself.
    if (r->type == REDIS_REPLY_ERROR) {
      // "ERR This instance has cluster support disabled": one node, used alone.
      if (!cluster_) {
        askedSlots_ = true;
        report();
      }
      return;
    }
    auto ranges = parseClusterSlots(r);
    if (!ranges) return;
    std::array<int16_t, CLUSTER_SLOTS> map;
    map.fill(-1);
    for (auto& range : *ranges) {
      std::string host = hostOr(range.host, node);
      if (host.empty()) continue;  // The node asked is a Unix socket: the first node's, then.
      size_t index = nodeAt(host, range.port);
      for (size_t s = range.first; s <= range.last; ++s) map[s] = static_cast<int16_t>(index);
    }
    if (!cluster_)
      log_.info("fleet",
                "Redis Cluster: " + std::to_string(ranges->size()) + " slot range(s) mapped");
    cluster_ = true;
    slots_ = map;
    askedSlots_ = true;
    report();
  });
}

void RedisRouter::report() {
  bool up = askedSlots_ && nodes_[0]->up;
  if (up && cluster_) {
    std::set<int16_t> inUse(slots_.begin(), slots_.end());
    for (int16_t i : inUse) {
      if (i >= 0 && !nodes_[i]->up) up = false;
    }
  }
  std::string why = up ? std::string() : lastWhy_.empty() ? "connecting" : lastWhy_;
  // Down, a new reason is news too: a Redis that refuses the password from the start is said
  // so, not left as "not connected yet".
  if (up == reportedUp_ && (up || why == reportedWhy_)) return;
  reportedUp_ = up;
  reportedWhy_ = why;
  changed_(up, why);
}

void RedisRouter::send(std::string_view key, std::vector<std::string> argv, OnReply done,
                       TryAgain tryAgain) {
  auto call =
      std::make_shared<Call>(Call{keySlot(key), std::move(argv), kj::mv(done), tryAgain, 0});
  int16_t node = slots_[call->slot];
  dispatch(std::move(call), node < 0 ? 0 : static_cast<size_t>(node), false);
}

void RedisRouter::dispatch(std::shared_ptr<Call> call, size_t node, bool asking) {
  RedisConnection& c = *nodes_[node]->connection;
  if (!c.up()) return call->done(nullptr);
  if (asking) c.send({"ASKING"}, [](const redisReply*) {});
  c.send(call->argv,
         [this, call, node](const redisReply* r) mutable { answered(std::move(call), node, r); });
}

std::string RedisRouter::hostOr(const std::string& host, size_t node) const {
  return host.empty() ? nodes_[node]->connection->address().host : host;
}

void RedisRouter::answered(std::shared_ptr<Call> call, size_t from, const redisReply* r) {
  std::string_view error = errorText(r);
  if (error.empty() || ++call->hops > MAX_HOPS) return call->done(r);
  if (auto to = parseRedirect(error)) {
    std::string host = hostOr(to->host, from);
    // Still empty: "the node that answered", and that is a Unix socket, with no TCP address.
    if (!host.empty()) {
      size_t node = nodeAt(host, to->port);
      if (!to->ask) {
        slots_[to->slot] = static_cast<int16_t>(node);
        if (!refreshing_) askSlots(node);  // One slot moved: others may have too.
      }
      return dispatch(std::move(call), node, to->ask);
    }
  }
  if (error.starts_with("TRYAGAIN") && call->tryAgain == TryAgain::WAIT) {
    // The slot's keys are split between two nodes while it migrates: soon they are not.
    return after(TRYAGAIN_MS, [this, call = std::move(call)]() mutable {
      int16_t node = slots_[call->slot];
      dispatch(std::move(call), node < 0 ? 0 : static_cast<size_t>(node), false);
    });
  }
  call->done(r);
}

void RedisRouter::after(uint64_t ms, kj::Function<void()> then) {
  auto* later = new Later{{}, this, kj::mv(then)};
  uv_timer_init(&loop_, &later->timer);
  later->timer.data = later;
  waiting_.insert(later);
  uv_timer_start(
      &later->timer,
      [](uv_timer_t* t) {
        auto* l = static_cast<Later*>(t->data);
        l->router->waiting_.erase(l);
        Later::close(l);
        l->then();  // The close callback runs on a later pass: `l` is still here.
      },
      ms, 0);
  wake_();
}

}  // namespace tenantd::fleet
