#pragma once
// One tenant's limits engine: rules, the usage counters of their current windows, and open
// reservations. Pure and synchronous; time comes in as an argument. The service layer persists
// every change before acknowledging it and calls unrecord() if that fails.
//
// check() does no I/O and no heap allocation: counters live in hash maps searched by
// string_view, and a window is recomputed only when `now` leaves it.

#include "rules.h"
#include "saturating.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tenantd {

struct UsageQuery {
  std::string_view userId;  // Empty: no user (user-scoped rules do not apply).
  std::string_view resource;
  std::string_view metric;
  int64_t amount = 1;
};

// One rule's state as a check or a usage report sees it.
struct RuleUsage {
  const Rule* rule = nullptr;
  int64_t current = 0;   // Usage recorded in the window.
  int64_t reserved = 0;  // Open reservations, counted against the limit until settled.
  int64_t limit = 0;     // After the plan's tier.
  Window window{0, 0};

  // What is left under the limit: never negative, and exact at the int64 edge (a saturated
  // counter leaves 0, not a wrapped figure).
  int64_t remaining() const {
    return std::max<int64_t>(0, saturatingSub(saturatingSub(limit, current), reserved));
  }
};

struct Decision {
  bool allowed = true;
  bool warning = false;  // A warn rule would go over its limit.
  bool matched = false;  // Some rule applies; `reported` is valid.
  RuleUsage reported;    // The blocking rule, else the one nearest its limit.
};

struct Reservation {
  std::string id;
  std::string userId;
  std::string resource;
  std::string metric;
  int64_t amount = 0;
  UnixMillis expiresAt = 0;
};

// Usage already recorded in a rule's window when rules are installed (from the store).
struct SeedUsage {
  size_t rule;          // Index into the new rule list.
  std::string userKey;  // "" for tenant-scoped rules; the userId for user-scoped ones.
  int64_t amount;
};

class Limiter {
public:
  Limiter(std::string plan, const date::time_zone* zone);

  // Replaces every rule at once. `seed` is the recorded usage inside each rule's window at `now`;
  // open reservations carry over to the new rules.
  void setRules(std::vector<Rule> rules, const std::vector<SeedUsage>& seed, UnixMillis now);
  const std::vector<Rule>& rules() const { return rules_; }
  void setPlan(std::string plan);
  const std::string& plan() const { return plan_; }
  const date::time_zone* zone() const { return zone_; }

  Decision check(const UsageQuery& query, UnixMillis now);
  // Counts `amount` at instant `at` in every matching rule whose current window holds `at`
  // (past instants change only the store; near-future ones count once their window comes).
  void record(std::string_view userId, std::string_view resource, std::string_view metric,
              int64_t amount, UnixMillis at, UnixMillis now);
  // Undoes record() with the same arguments (its commit failed).
  void unrecord(std::string_view userId, std::string_view resource, std::string_view metric,
                int64_t amount, UnixMillis at, UnixMillis now);
  // check(); if allowed, record() at `now`. Atomic: nothing runs in between.
  Decision consume(const UsageQuery& query, UnixMillis now);

  // check(); if allowed, holds `amount` against every matching rule until settle() or expiry.
  Decision reserve(Reservation reservation, UnixMillis now);
  // Re-adds a reservation loaded from the store at start-up, without checking limits: it was
  // allowed when made.
  void restoreReservation(Reservation reservation, UnixMillis now);
  // Removes an open reservation (commit or release); nullopt if unknown or already settled.
  std::optional<Reservation> settle(std::string_view id, UnixMillis now);
  // Removes and returns reservations whose expiresAt <= now.
  std::vector<Reservation> expire(UnixMillis now);
  size_t openReservations() const { return reservations_.size(); }
  // Forgets per-user counters whose window has passed (they count zero) and pending usage whose
  // window is gone, so a stream of one-off user ids cannot grow memory without bound.
  size_t prune(UnixMillis now);
  // Whether recording for `userId` would add a per-user counter (a user-scoped rule of this
  // resource and metric has none for it yet): what the per-tenant user quota counts.
  bool addsUserCounter(std::string_view userId, std::string_view resource,
                       std::string_view metric) const;
  // Kept as counters come and go: the per-user quota asks on every track.
  size_t userCounters() const { return userCounters_; }

  // One row per rule that applies to `userId` (user-scoped rules need a userId).
  std::vector<RuleUsage> usage(std::string_view userId, UnixMillis now);
  std::vector<RuleUsage> usageOf(std::string_view userId, std::string_view resource,
                                 std::string_view metric, UnixMillis now);

private:
  struct Counter {
    Window window{0, 0};
    int64_t used = 0;
    int64_t reserved = 0;
  };
  struct Pending {  // Recorded for a window that has not started yet.
    std::string userKey;
    UnixMillis at;
    int64_t amount;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using UserCounters = std::unordered_map<std::string, Counter, StringHash, std::equal_to<>>;
  struct RuleState {
    int64_t limit = 0;
    Counter tenant;
    UserCounters users;
    std::vector<Pending> pending;
  };
  struct MetricKey {
    std::string_view resource, metric;  // Views into the owning rule.
    bool operator==(const MetricKey&) const = default;
  };
  struct MetricHash {
    size_t operator()(const MetricKey& k) const {
      return std::hash<std::string_view>{}(k.resource) * 31 +
             std::hash<std::string_view>{}(k.metric);
    }
  };

  const std::vector<size_t>* rulesFor(std::string_view resource, std::string_view metric) const;
  // record() with delta > 0, unrecord() with delta < 0.
  void apply(std::string_view userId, std::string_view resource, std::string_view metric,
             int64_t delta, UnixMillis at, UnixMillis now);
  // The counter of `key` in rule `i`, rolled forward to `now`; created if `create`.
  Counter* counter(size_t i, std::string_view key, UnixMillis now, bool create);
  void roll(size_t i, std::string_view key, Counter& c, UnixMillis now);
  // What a counter for `key` would hold at `now` if it existed; changes nothing.
  Counter wouldBe(size_t i, std::string_view key, UnixMillis now) const;
  RuleUsage usageAt(size_t i, std::string_view userId, UnixMillis now);
  RuleUsage snapshot(size_t i, const Counter& c) const;
  void applyReservation(const Reservation& r, int64_t sign, UnixMillis now);
  void resolveLimits();

  std::string plan_;
  const date::time_zone* zone_;
  std::vector<Rule> rules_;
  size_t userCounters_ = 0;  // Sum of every rule's users.size().
  std::vector<RuleState> states_;
  std::unordered_map<MetricKey, std::vector<size_t>, MetricHash> byMetric_;
  std::unordered_map<std::string, Reservation, StringHash, std::equal_to<>> reservations_;
};

}  // namespace tenantd
