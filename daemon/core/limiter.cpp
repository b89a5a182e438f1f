#include "limiter.h"

#include "saturating.h"

#include <algorithm>
#include <atomic>

namespace tenantd {

namespace {
// Generations are unique across every Limiter of the process: fleet figures (and a fleet's
// bookkeeping of what it sent) can never be taken for another limiter's, even one that replaced
// this tenant's after a reload.
std::atomic<uint64_t> lastGeneration{0};

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
    : plan_(std::move(plan)), zone_(zone), generation_(++lastGeneration) {}

void Limiter::setRules(std::vector<Rule> rules, const std::vector<SeedUsage>& seed,
                       UnixMillis now) {
  rules_ = std::move(rules);
  generation_ = ++lastGeneration;
  // The old rules' counters go; the fleet resends every counter of a new generation.
  changed_.clear();
  closed_.clear();
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
  if (c.changed) {
    // The ended window's final figure still goes to the fleet (reservations move on).
    closed_.push_back(FleetCount{&rules_[i], std::string(key), c.window, c.used, c.sent});
    c.changed = false;
  }
  c.queued = false;  // Its entry in changed_, if any, is skipped.
  c.window = windowAt(rules_[i].period, now, zone_);
  c.used = 0;
  c.others = 0;
  c.sent = 0;
  // Usage recorded ahead of time for this window now counts; what has passed is dropped.
  auto& pending = s.pending;
  for (auto& p : pending) {
    if (p.userKey == key && c.window.contains(p.at)) c.used = saturatingAdd(c.used, p.amount);
  }
  pending.erase(
      std::remove_if(pending.begin(), pending.end(),
                     [&](const Pending& p) { return p.at < c.window.end && p.userKey == key; }),
      pending.end());
  if (c.contribution() != 0) noteChange(i, key, c);
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
  if (Counter* c = counter(i, key, now, false)) {
    noteRead(i, key, *c);
    return snapshot(i, *c);
  }
  // A user with no counter yet has used nothing in this window (pending usage aside).
  return snapshot(i, wouldBe(i, key, now));
}

RuleUsage Limiter::snapshot(size_t i, const Counter& c) const {
  return RuleUsage{&rules_[i], saturatingAdd(c.used, c.others), c.reserved, states_[i].limit,
                   c.window};
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
      noteChange(i, key, *c);
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
    std::string_view key = keyFor(rules_[i], r.userId);
    Counter* c = counter(i, key, now, true);
    c->reserved = saturatingAdd(c->reserved, sign * r.amount);
    noteChange(i, key, *c);
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
      // Not before the fleet has its final figure, nor while a strict call is out on them
      // (its answer takes back its hold: on a new counter that would stay negative).
      if (it->second.window.end <= now && it->second.reserved == 0 && !it->second.changed &&
          it->second.held == 0) {
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

std::vector<FleetCount> Limiter::takeFleetChanges(bool all, UnixMillis now) {
  std::vector<FleetCount> out;
  std::vector<std::pair<size_t, std::string>> later;  // Strict calls are out on these.
  auto take = [&](size_t i, std::string_view key, Counter& c) {
    if (c.held != 0) {
      c.queued = true;  // Sent once its strict calls are answered.
      later.emplace_back(i, std::string(key));
      return;
    }
    int64_t value = c.contribution();
    out.push_back(FleetCount{&rules_[i], std::string(key), c.window, value, c.sent});
    c.sent = value;
    c.changed = false;
    c.queued = false;
  };
  if (all) {
    for (size_t i = 0; i < rules_.size(); ++i) {
      RuleState& s = states_[i];
      if (rules_[i].scope == Scope::TENANT) {
        roll(i, "", s.tenant, now);
        take(i, "", s.tenant);
      }
      for (auto& [user, c] : s.users) {
        roll(i, user, c, now);
        take(i, user, c);
      }
    }
  } else {
    for (auto& [i, key] : changed_) {
      if (i >= states_.size()) continue;
      Counter* c = existing(i, key);
      // Its window's final figure, even if `now` has left it: the next check rolls it.
      if (c != nullptr && c->queued) take(i, key, *c);
    }
  }
  changed_ = std::move(later);
  for (auto& f : closed_) out.push_back(std::move(f));
  closed_.clear();
  return out;
}

Limiter::Counter* Limiter::existing(size_t i, std::string_view key) {
  if (rules_[i].scope == Scope::TENANT) return &states_[i].tenant;
  auto it = states_[i].users.find(key);
  return it == states_[i].users.end() ? nullptr : &it->second;
}

void Limiter::refreshFleet(uint64_t generation, std::vector<FleetCount>& counts) {
  if (generation != generation_) return counts.clear();
  size_t kept = 0;
  for (size_t at = 0; at < counts.size(); ++at) {
    FleetCount& f = counts[at];
    size_t i = static_cast<size_t>(f.rule - rules_.data());
    Counter* c = i < rules_.size() ? existing(i, f.userKey) : nullptr;
    if (c != nullptr && c->window == f.window) {
      if (c->held != 0) {
        // Its strict calls add to this host's field themselves: it goes after their answers.
        // Not sent after all: what Redis holds is the figure before, plus strict adds since.
        c->sent = saturatingAdd(f.previous, std::max<int64_t>(0, c->sent - f.value));
        c->changed = true;
        queue(i, f.userKey, *c);
        continue;
      }
      f.value = c->contribution();
      c->sent = f.value;
    }
    if (kept != at) counts[kept] = std::move(f);  // Never onto itself: that empties it.
    ++kept;
  }
  counts.resize(kept);
}

void Limiter::setFleetOthers(uint64_t generation, const Rule* rule, std::string_view userKey,
                             const Window& window, int64_t others) {
  if (generation != generation_) return;
  size_t i = static_cast<size_t>(rule - rules_.data());
  if (i >= rules_.size()) return;
  Counter* c = existing(i, userKey);
  if (c != nullptr && c->window == window) c->others = std::max<int64_t>(0, others);
}

void Limiter::holdForFleet(const UsageQuery& q, int64_t amount, UnixMillis now) {
  const auto* indices = rulesFor(q.resource, q.metric);
  if (indices == nullptr) return;
  for (size_t i : *indices) {
    if (!applies(rules_[i], q.userId)) continue;
    std::string_view key = keyFor(rules_[i], q.userId);
    Counter* c = counter(i, key, now, true);
    c->held = saturatingAdd(c->held, amount);
  }
}

void Limiter::noteFleetAdd(const UsageQuery& q, UnixMillis now) {
  const auto* indices = rulesFor(q.resource, q.metric);
  if (indices == nullptr) return;
  for (size_t i : *indices) {
    if (!applies(rules_[i], q.userId)) continue;
    Counter* c = counter(i, keyFor(rules_[i], q.userId), now, true);
    c->sent = saturatingAdd(c->sent, q.amount);
  }
}

bool Limiter::hasStrictRule(std::string_view resource, std::string_view metric) const {
  const auto* indices = rulesFor(resource, metric);
  if (indices == nullptr) return false;
  for (size_t i : *indices) {
    if (rules_[i].fleet == FleetMode::STRICT) return true;
  }
  return false;
}

std::vector<Limiter::Applicable> Limiter::applicable(const UsageQuery& q, UnixMillis now) {
  std::vector<Applicable> out;
  const auto* indices = rulesFor(q.resource, q.metric);
  if (indices == nullptr) return out;
  for (size_t i : *indices) {
    if (!applies(rules_[i], q.userId)) continue;
    std::string_view key = keyFor(rules_[i], q.userId);
    Counter* c = counter(i, key, now, true);
    out.push_back(Applicable{&rules_[i], std::string(key), c->window, states_[i].limit});
  }
  return out;
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
