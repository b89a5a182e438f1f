#include "limiter.h"

#include "saturating.h"

#include <algorithm>

namespace tenantd {

namespace {
std::string_view keyFor(const Rule& rule, std::string_view userId) {
  return rule.scope == Scope::USER ? userId : std::string_view();
}
bool applies(const Rule& rule, std::string_view userId) {
  return rule.scope == Scope::TENANT || !userId.empty();
}
// True if a's (total / limit) is above b's; a zero limit is infinitely close.
bool nearer(const RuleUsage& a, int64_t aTotal, const RuleUsage& b, int64_t bTotal) {
  return static_cast<__int128>(aTotal) * b.limit > static_cast<__int128>(bTotal) * a.limit;
}
}  // namespace

Limiter::Limiter(std::string plan, const date::time_zone* zone)
    : plan_(std::move(plan)), zone_(zone) {}

void Limiter::setRules(std::vector<Rule> rules, const std::vector<SeedUsage>& seed,
                       UnixMillis now) {
  rules_ = std::move(rules);
  states_.assign(rules_.size(), RuleState{});
  userCounters_ = 0;
  byMetric_.clear();
  for (size_t i = 0; i < rules_.size(); ++i) {
    byMetric_[MetricKey{rules_[i].resource, rules_[i].metric}].push_back(i);
    states_[i].tenant.window = windowAt(rules_[i].period, now, zone_);
  }
  resolveLimits();
  for (auto& s : seed) {
    if (s.rule >= states_.size()) continue;
    if (Counter* c = counter(s.rule, s.userKey, now, true))
      c->used = saturatingAdd(c->used, s.amount);
  }
  for (auto& [id, r] : reservations_) applyReservation(r, +1, now);
}

void Limiter::setPlan(std::string plan) {
  plan_ = std::move(plan);
  resolveLimits();
}

void Limiter::resolveLimits() {
  for (size_t i = 0; i < rules_.size(); ++i) states_[i].limit = rules_[i].limitFor(plan_);
}

const std::vector<size_t>* Limiter::rulesFor(std::string_view resource,
                                             std::string_view metric) const {
  auto it = byMetric_.find(MetricKey{resource, metric});
  return it == byMetric_.end() ? nullptr : &it->second;
}

void Limiter::roll(size_t i, std::string_view key, Counter& c, UnixMillis now) {
  // Never back into an earlier window: a wall clock stepped back keeps the current counts.
  if (c.window.contains(now) || (c.window.end > c.window.start && now < c.window.start)) return;
  RuleState& s = states_[i];
  c.window = windowAt(rules_[i].period, now, zone_);
  c.used = 0;
  // Usage recorded ahead of time for this window now counts; what has passed is dropped.
  auto& pending = s.pending;
  for (auto& p : pending) {
    if (p.userKey == key && c.window.contains(p.at)) c.used = saturatingAdd(c.used, p.amount);
  }
  pending.erase(
      std::remove_if(pending.begin(), pending.end(),
                     [&](const Pending& p) { return p.at < c.window.end && p.userKey == key; }),
      pending.end());
}

bool Limiter::addsUserCounter(std::string_view userId, std::string_view resource,
                              std::string_view metric) const {
  if (userId.empty()) return false;
  const auto* indices = rulesFor(resource, metric);
  if (indices == nullptr) return false;
  for (size_t i : *indices) {
    if (rules_[i].scope == Scope::USER && states_[i].users.find(userId) == states_[i].users.end()) {
      return true;
    }
  }
  return false;
}

Limiter::Counter* Limiter::counter(size_t i, std::string_view key, UnixMillis now, bool create) {
  RuleState& s = states_[i];
  if (rules_[i].scope == Scope::TENANT) {
    roll(i, key, s.tenant, now);
    return &s.tenant;
  }
  auto it = s.users.find(key);
  if (it == s.users.end()) {
    if (!create) return nullptr;
    it = s.users.emplace(std::string(key), Counter{}).first;
    ++userCounters_;
  }
  roll(i, key, it->second, now);
  return &it->second;
}

Limiter::Counter Limiter::wouldBe(size_t i, std::string_view key, UnixMillis now) const {
  Counter c;
  c.window = windowAt(rules_[i].period, now, zone_);
  for (auto& p : states_[i].pending) {
    if (p.userKey == key && c.window.contains(p.at)) c.used = saturatingAdd(c.used, p.amount);
  }
  return c;
}

RuleUsage Limiter::usageAt(size_t i, std::string_view userId, UnixMillis now) {
  std::string_view key = keyFor(rules_[i], userId);
  if (Counter* c = counter(i, key, now, false)) return snapshot(i, *c);
  // A user with no counter yet has used nothing in this window (pending usage aside).
  return snapshot(i, wouldBe(i, key, now));
}

RuleUsage Limiter::snapshot(size_t i, const Counter& c) const {
  return RuleUsage{&rules_[i], c.used, c.reserved, states_[i].limit, c.window};
}

Decision Limiter::check(const UsageQuery& q, UnixMillis now) {
  Decision d;
  const auto* indices = rulesFor(q.resource, q.metric);
  if (indices == nullptr) return d;
  bool reportedBlocks = false;
  int64_t reportedTotal = 0;
  for (size_t i : *indices) {
    const Rule& rule = rules_[i];
    if (!applies(rule, q.userId)) continue;
    RuleUsage u = usageAt(i, q.userId, now);
    int64_t total = saturatingAdd(saturatingAdd(u.current, u.reserved), q.amount);
    bool over = total > u.limit;
    bool blocks = over && rule.gateAction == GateAction::BLOCK;
    if (blocks) d.allowed = false;
    if (over && rule.gateAction == GateAction::WARN) d.warning = true;
    bool better = !d.matched || (blocks && !reportedBlocks) ||
                  (blocks == reportedBlocks && nearer(u, total, d.reported, reportedTotal));
    if (better) {
      d.matched = true;
      d.reported = u;
      reportedBlocks = blocks;
      reportedTotal = total;
    }
  }
  return d;
}

void Limiter::record(std::string_view userId, std::string_view resource, std::string_view metric,
                     int64_t amount, UnixMillis at, UnixMillis now) {
  apply(userId, resource, metric, amount, at, now);
}

void Limiter::unrecord(std::string_view userId, std::string_view resource, std::string_view metric,
                       int64_t amount, UnixMillis at, UnixMillis now) {
  apply(userId, resource, metric, -amount, at, now);
}

void Limiter::apply(std::string_view userId, std::string_view resource, std::string_view metric,
                    int64_t delta, UnixMillis at, UnixMillis now) {
  const auto* indices = rulesFor(resource, metric);
  if (indices == nullptr) return;
  for (size_t i : *indices) {
    const Rule& rule = rules_[i];
    if (!applies(rule, userId)) continue;
    std::string_view key = keyFor(rule, userId);
    Counter* c = counter(i, key, now, true);
    if (c->window.contains(at)) {
      c->used = saturatingAdd(c->used, delta);
    } else if (at >= c->window.end) {
      // Usage for a window that has not started yet waits as pending; undoing removes it.
      auto& pending = states_[i].pending;
      if (delta > 0) {
        pending.push_back(Pending{std::string(key), at, delta});
      } else {
        auto it = std::find_if(pending.begin(), pending.end(), [&](const Pending& p) {
          return p.userKey == key && p.at == at && p.amount == -delta;
        });
        if (it != pending.end()) pending.erase(it);
      }
    }
  }
}

Decision Limiter::consume(const UsageQuery& q, UnixMillis now) {
  Decision d = check(q, now);
  if (d.allowed) {
    record(q.userId, q.resource, q.metric, q.amount, now, now);
    if (d.matched) d.reported.current += q.amount;
  }
  return d;
}

void Limiter::applyReservation(const Reservation& r, int64_t sign, UnixMillis now) {
  const auto* indices = rulesFor(r.resource, r.metric);
  if (indices == nullptr) return;
  for (size_t i : *indices) {
    if (!applies(rules_[i], r.userId)) continue;
    Counter* c = counter(i, keyFor(rules_[i], r.userId), now, true);
    c->reserved = saturatingAdd(c->reserved, sign * r.amount);
  }
}

Decision Limiter::reserve(Reservation r, UnixMillis now) {
  UsageQuery q{r.userId, r.resource, r.metric, r.amount};
  Decision d = check(q, now);
  if (d.allowed) {
    applyReservation(r, +1, now);
    if (d.matched) d.reported.reserved += r.amount;
    std::string id = r.id;
    reservations_.emplace(std::move(id), std::move(r));
  }
  return d;
}

void Limiter::restoreReservation(Reservation r, UnixMillis now) {
  applyReservation(r, +1, now);
  std::string id = r.id;
  reservations_.emplace(std::move(id), std::move(r));
}

std::optional<Reservation> Limiter::settle(std::string_view id, UnixMillis now) {
  auto it = reservations_.find(id);
  if (it == reservations_.end()) return std::nullopt;
  Reservation r = std::move(it->second);
  reservations_.erase(it);
  // Reserved amounts are not windowed: they leave whichever window the counter is in now.
  applyReservation(r, -1, now);
  return r;
}

std::vector<Reservation> Limiter::expire(UnixMillis now) {
  std::vector<Reservation> out;
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    if (it->second.expiresAt <= now) {
      applyReservation(it->second, -1, now);
      out.push_back(std::move(it->second));
      it = reservations_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

size_t Limiter::prune(UnixMillis now) {
  size_t dropped = 0;
  for (size_t i = 0; i < states_.size(); ++i) {
    RuleState& s = states_[i];
    for (auto it = s.users.begin(); it != s.users.end();) {
      // A user whose window has passed and who holds nothing counts zero: forget them.
      if (it->second.window.end <= now && it->second.reserved == 0) {
        it = s.users.erase(it);
        --userCounters_;
        ++dropped;
      } else {
        ++it;
      }
    }
    UnixMillis currentStart = windowAt(rules_[i].period, now, zone_).start;
    auto& pending = s.pending;
    size_t before = pending.size();
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [&](const Pending& p) { return p.at < currentStart; }),
                  pending.end());
    dropped += before - pending.size();
  }
  return dropped;
}

std::vector<RuleUsage> Limiter::usage(std::string_view userId, UnixMillis now) {
  std::vector<RuleUsage> out;
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (applies(rules_[i], userId)) out.push_back(usageAt(i, userId, now));
  }
  return out;
}

std::vector<RuleUsage> Limiter::usageOf(std::string_view userId, std::string_view resource,
                                        std::string_view metric, UnixMillis now) {
  std::vector<RuleUsage> out;
  for (auto& u : usage(userId, now)) {
    if (u.rule->resource == resource && u.rule->metric == metric) out.push_back(u);
  }
  return out;
}

}  // namespace tenantd
