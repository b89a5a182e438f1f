#include "redis-router.h"

#include "fleet/key-slot.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <set>

namespace tenantd::fleet {

namespace {
struct Redirect {
  bool ask;
  uint16_t slot;
  std::string host;
  int port;
};

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381"; nullopt for any other error.
std::optional<Redirect> redirectOf(std::string_view error) {
  bool ask = error.starts_with("ASK ");
  if (!ask && !error.starts_with("MOVED ")) return std::nullopt;
  error.remove_prefix(ask ? 4 : 6);
  size_t space = error.find(' ');
  size_t colon = error.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space) {
    return std::nullopt;
  }
  int slot = 0, port = 0;
  for (char ch : error.substr(0, space)) slot = slot * 10 + (ch - '0');
  for (char ch : error.substr(colon + 1)) port = port * 10 + (ch - '0');
  if (slot < 0 || slot >= CLUSTER_SLOTS || port <= 0 || port > 65535) return std::nullopt;
  return Redirect{ask, static_cast<uint16_t>(slot),
                  std::string(error.substr(space + 1, colon - space - 1)), port};
}

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
  *alive_ = false;
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
                    int port = 0;
                    bool named = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                                 r->element[0]->type == REDIS_REPLY_STRING &&
                                 r->element[1]->type == REDIS_REPLY_STRING;
                    if (named) {
                      const redisReply* p = r->element[1];
                      auto parsed = std::from_chars(p->str, p->str + p->len, port);
                      named = parsed.ec == std::errc() && parsed.ptr == p->str + p->len &&
                              port > 0 && port <= 65535;
                    }
                    if (!named) {
                      lastWhy_ = "sentinel " + describeRedisAddress(sentinel_->address()) +
                                 " names no master \"" + options_.sentinelMaster + "\"";
                      report();
                      return after(ASK_SENTINEL_AGAIN_MS, [this]() { askSentinel(); });
                    }
                    RedisConnection& master = *nodes_[0]->connection;
                    master.retarget(RedisAddress{
                        "", std::string(r->element[0]->str, r->element[0]->len), port});
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
    if (r->type != REDIS_REPLY_ARRAY) return;
    std::array<int16_t, CLUSTER_SLOTS> map;
    map.fill(-1);
    for (size_t i = 0; i < r->elements; ++i) {
      const redisReply* range = r->element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
          range->element[2]->type != REDIS_REPLY_ARRAY || range->element[2]->elements < 2) {
        continue;
      }
      const redisReply* master = range->element[2];
      std::string host(master->element[0]->str, master->element[0]->len);
      if (host.empty()) host = nodes_[node]->connection->address().host;  // "": the one asked.
      size_t index = nodeAt(host, static_cast<int>(master->element[1]->integer));
      for (int64_t s = range->element[0]->integer;
           s <= range->element[1]->integer && s < CLUSTER_SLOTS && s >= 0; ++s) {
        map[s] = static_cast<int16_t>(index);
      }
    }
    if (!cluster_)
      log_.info("fleet", "Redis Cluster: " + std::to_string(r->elements) + " slot range(s) mapped");
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
  c.send(call->argv, [this, call](const redisReply* r) mutable { answered(std::move(call), r); });
}

void RedisRouter::answered(std::shared_ptr<Call> call, const redisReply* r) {
  std::string_view error = errorText(r);
  if (error.empty() || ++call->hops > MAX_HOPS) return call->done(r);
  if (auto to = redirectOf(error)) {
    size_t node = nodeAt(to->host, to->port);
    if (!to->ask) {
      slots_[to->slot] = static_cast<int16_t>(node);
      if (!refreshing_) askSlots(node);  // One slot moved: others may have too.
    }
    return dispatch(std::move(call), node, to->ask);
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
  struct Later {
    uv_timer_t timer;
    kj::Function<void()> then;
    std::shared_ptr<bool> alive;
  };
  auto* later = new Later{{}, kj::mv(then), alive_};
  uv_timer_init(&loop_, &later->timer);
  later->timer.data = later;
  uv_timer_start(
      &later->timer,
      [](uv_timer_t* t) {
        auto* l = static_cast<Later*>(t->data);
        if (*l->alive) l->then();
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Later*>(h->data); });
      },
      ms, 0);
  wake_();
}

}  // namespace tenantd::fleet
