#include "redis-connection.h"

#include "fleet/redis-replies.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include <algorithm>

namespace tenantd::fleet {

namespace {
constexpr uint64_t TICK_MS = 20;  // How often deadlines are looked at.
constexpr int64_t FIRST_BACKOFF_MS = 50;

void closeAndFree(uv_timer_t* timer) {
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

std::string replyError(const redisReply* r) {
  return r == nullptr ? std::string("no reply") : std::string(r->str, r->len);
}
}  // namespace

struct RedisConnection::Pending {
  RedisConnection* self;
  OnReply done;
};

RedisConnection::RedisConnection(uv_loop_t& loop, kj::Function<void()> wake, RedisOptions options,
                                 OnChange changed)
    : loop_(loop),
      wake_(kj::mv(wake)),
      options_(std::move(options)),
      changed_(kj::mv(changed)),
      tick_(new uv_timer_t),
      redial_(new uv_timer_t) {
  uv_timer_init(&loop_, tick_);
  tick_->data = this;
  uv_timer_init(&loop_, redial_);
  redial_->data = this;
}

RedisConnection::~RedisConnection() {
  destroying_ = true;
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    redisAsyncFree(ac);  // Waiting commands get no reply; the adapter closes its poll handle.
  }
  closeAndFree(tick_);
  closeAndFree(redial_);
}

void RedisConnection::start() {
  uv_timer_start(tick_, onTick, TICK_MS, TICK_MS);
  dial();
  wake_();
}

void RedisConnection::retarget(const RedisAddress& address) {
  if (address == options_.address) return;
  options_.address = address;
  if (state_ != State::DOWN) fail("the master is now " + describeRedisAddress(address));
}

void RedisConnection::dial() {
  const RedisAddress& a = options_.address;
  redisAsyncContext* ac = a.unixPath.empty() ? redisAsyncConnect(a.host.c_str(), a.port)
                                             : redisAsyncConnectUnix(a.unixPath.c_str());
  if (ac == nullptr) return fail("connect: out of memory");
  if (ac->err != 0) {
    std::string why = std::string("connect: ") + ac->errstr;
    redisAsyncFree(ac);
    return fail(why);
  }
  ac->data = this;
  if (redisLibuvAttach(ac, &loop_) != REDIS_OK) {
    redisAsyncFree(ac);
    return fail("connect: could not watch the socket");
  }
  redisAsyncSetConnectCallback(ac, onConnect);
  redisAsyncSetDisconnectCallback(ac, onDisconnect);
  ac_ = ac;
  state_ = State::CONNECTING;
  dialedAt_ = uv_now(&loop_);
}

void RedisConnection::onConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr || self->ac_ != ac) return;
  if (status != REDIS_OK) {
    self->ac_ = nullptr;  // hiredis frees it after this callback.
    return self->fail(std::string("connect: ") + ac->errstr);
  }
  self->handshake();
}

void RedisConnection::onDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr || self->ac_ != ac) return;  // One this side is freeing already.
  self->ac_ = nullptr;                             // hiredis frees it after this callback.
  self->fail(status == REDIS_OK ? std::string("connection closed")
                                : std::string("connection lost: ") + ac->errstr);
}

void RedisConnection::handshake() {
  state_ = State::HANDSHAKE;
  shas_.assign(options_.scripts.size(), std::string());
  auto ready = [this](size_t remaining) {
    if (remaining > 0) return;
    state_ = State::UP;
    if (!keepBackoff_) attempt_ = 0;
    lastError_.clear();
    changed_(true, "");
  };
  if (!options_.password.empty()) {
    // The password never reaches a log: a refusal is reported by Redis's own words only.
    sendRaw({"AUTH", options_.password}, [this](const redisReply* r) {
      if (r != nullptr && r->type == REDIS_REPLY_ERROR) fail("AUTH refused: " + replyError(r));
    });
  }
  if (options_.masterOnly) {
    // The master Sentinel named may be a replica by now (a failover under way).
    sendRaw({"ROLE"}, [this](const redisReply* r) {
      if (r == nullptr) return;
      if (!isMasterRole(r)) fail("not the master (ROLE): a failover is under way");
    });
  }
  size_t scripts = options_.scripts.size();
  auto left = std::make_shared<size_t>(scripts);
  for (size_t i = 0; i < scripts; ++i) {
    sendRaw({"SCRIPT", "LOAD", options_.scripts[i]}, [this, i, left, ready](const redisReply* r) {
      if (r == nullptr) return;  // The connection failed: fail() has run.
      if (r->type != REDIS_REPLY_STRING) return fail("SCRIPT LOAD: " + replyError(r));
      shas_[i] = std::string(r->str, r->len);
      ready(--*left);
    });
  }
  ready(scripts);
}

void RedisConnection::send(const std::vector<std::string>& argv, OnReply done) {
  if (state_ != State::UP) return done(nullptr);
  sendRaw(argv, kj::mv(done));
  wake_();
}

void RedisConnection::sendRaw(const std::vector<std::string>& argv, OnReply done) {
  if (ac_ == nullptr) return done(nullptr);  // Being dropped (a callback of fail()).
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* pending = new Pending{this, kj::mv(done)};
  if (redisAsyncCommandArgv(ac_, onReply, pending, static_cast<int>(args.size()), args.data(),
                            lengths.data()) != REDIS_OK) {
    OnReply failed = kj::mv(pending->done);
    delete pending;
    failed(nullptr);
    return;
  }
  sentAt_.push_back(uv_now(&loop_));
}

void RedisConnection::onReply(redisAsyncContext*, void* reply, void* privdata) {
  auto* pending = static_cast<Pending*>(privdata);
  RedisConnection* self = pending->self;
  if (!self->destroying_) {
    if (!self->sentAt_.empty()) self->sentAt_.pop_front();
    self->repliedAt_ = uv_now(&self->loop_);
    auto* r = static_cast<const redisReply*>(reply);
    std::string_view error = r != nullptr && r->type == REDIS_REPLY_ERROR
                                 ? std::string_view(r->str, r->len)
                                 : std::string_view();
    pending->done(r);
    // Both are mended only by a new connection: under Sentinel it asks for the new master, and
    // every connect loads the scripts again.
    bool open = self->ac_ != nullptr;  // done() may have dropped the connection itself.
    if (open && error.find("READONLY") != std::string_view::npos) {
      self->fail("READONLY: the node is a replica now");
    } else if (open && error.starts_with("NOSCRIPT")) {
      // Backing off as for a failed dial until a command succeeds on the next connection: a
      // node that keeps losing them (a proxy with a script cache per backend) is not redialled
      // 40 times a second.
      self->keepBackoff_ = true;
      self->fail("NOSCRIPT: the node lost the scripts (SCRIPT FLUSH or a restart)");
    } else if (r != nullptr && error.empty() && self->state_ == State::UP && self->keepBackoff_) {
      self->keepBackoff_ = false;
      self->attempt_ = 0;
    }
  }
  delete pending;
}

void RedisConnection::fail(const std::string& why) {
  bool wasDown = state_ == State::DOWN;
  // Down before the waiting commands hear of it: a command sent from their callbacks gets its
  // nullptr at once instead of reaching a context being freed.
  state_ = State::DOWN;
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    redisAsyncFree(ac);  // Every waiting command hears nullptr.
  }
  sentAt_.clear();
  lastError_ = why;
  if (!wasDown) changed_(false, why);
  // Full jitter: a fleet of hosts that lost Redis together does not redial in step.
  int64_t cap =
      std::min<int64_t>(options_.maxBackoffMs, FIRST_BACKOFF_MS << std::min(attempt_, 16));
  ++attempt_;
  uint64_t delay = randombytes_uniform(static_cast<uint32_t>(cap) + 1);
  if (!destroying_) uv_timer_start(redial_, onRedial, delay, 0);
}

void RedisConnection::onRedial(uv_timer_t* timer) {
  static_cast<RedisConnection*>(timer->data)->dial();
}

void RedisConnection::onTick(uv_timer_t* timer) {
  static_cast<RedisConnection*>(timer->data)->tick();
}

void RedisConnection::tick() {
  uint64_t now = uv_now(&loop_);
  if (state_ == State::CONNECTING &&
      now - dialedAt_ > static_cast<uint64_t>(options_.connectTimeoutMs)) {
    return fail("connect: no answer in " + std::to_string(options_.connectTimeoutMs) + " ms");
  }
  // A long pipeline (a whole resend) is not late while its replies keep coming.
  if (!sentAt_.empty() &&
      now - std::max(sentAt_.front(), repliedAt_) > static_cast<uint64_t>(options_.timeoutMs)) {
    fail("no reply in " + std::to_string(options_.timeoutMs) + " ms");
  }
}

}  // namespace tenantd::fleet
