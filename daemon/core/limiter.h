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

// Whose usage a figure counts: this host alone (no [fleet]); the whole fleet; or, while the
// fleet's store is unreachable, this host's own counts on the last fleet figures it read.
enum class Counted : uint8_t { HOST, FLEET, LOCAL };
inline std::string_view countedName(Counted c) {
  return c == Counted::FLEET ? "fleet" : c == Counted::LOCAL ? "local" : "host";
}

// One rule's state as a check or a usage report sees it.
struct RuleUsage {
  const Rule* rule = nullptr;
  int64_t current = 0;   // Usage recorded in the window.
  int64_t reserved = 0;  // Open reservations, counted against the limit until settled.
  int64_t limit = 0;     // After the plan's tier.
  Window window{0, 0};
  Counted counted = Counted::HOST;

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

// What this host holds in one counter's window, for the fleet (fleet/, docs/FLEET.md): its
// absolute contribution (used + reserved), never a delta, so a resend cannot count twice.
struct FleetCount {
  const Rule* rule;
  std::string userKey;  // "" for tenant-scoped rules.
  Window window;
  int64_t value;     // This host's contribution now.
  int64_t previous;  // What it last sent for this counter (0: never).
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

  // Fleet counting (fleet/). Off by default: nothing below costs a standalone host anything.
  // When on, every counter a change or a check touches is noted until takeFleetChanges() hands
  // it over: changed ones carry their new figure, read ones fetch the fleet's.
  void trackFleet(bool on) { trackFleet_ = on; }
  // New at construction and at each setRules(), unique in the process: fleet figures of another
  // generation do not fit these counters.
  uint64_t generation() const { return generation_; }
  // The counters changed or read since the last call, and the final figures of windows that
  // closed meanwhile; with `all`, every counter of the current windows. Each is marked as sent.
  std::vector<FleetCount> takeFleetChanges(bool all, UnixMillis now);
  // Just before `counts` (taken earlier) go out: each counter's figure as it stands now, and
  // those with a strict call out taken out (queued for after its answer). Commands on one
  // connection run in order, so a strict call sent after these finds them applied, and one
  // sent before was answered (its amount is in the figure) or is still out (held: not sent).
  // A figure from before either could take its add back. Counts of ended windows stay as
  // taken. Empties `counts` for another generation.
  void refreshFleet(uint64_t generation, std::vector<FleetCount>& counts);
  // The rest of the fleet's usage in a counter's window (the fleet total less this host's
  // contribution), read back by a flush. Ignored if the counter has moved to another window.
  void setFleetOthers(uint64_t generation, const Rule* rule, std::string_view userKey,
                      const Window& window, int64_t others);
  // A strict call in flight on every counter the query matches (`amount` > 0 when it goes out,
  // < 0 when its answer is in): while one is out, a counter is not flushed, since the call adds
  // to this host's figure in Redis itself and a flush could undo that or count it twice.
  void holdForFleet(const UsageQuery& query, int64_t amount, UnixMillis now);
  // A strict call's own add landed in the fleet as `previous + amount`: keep the bookkeeping
  // of what was sent in step, so the next flush does not take it for a lost write.
  void noteFleetAdd(const UsageQuery& query, UnixMillis now);
  // Whether a rule for this resource and metric is strict.
  bool hasStrictRule(std::string_view resource, std::string_view metric) const;
  // The rules a query applies to, with their counter's key and window, in rule order.
  struct Applicable {
    const Rule* rule;
    std::string userKey;  // "" for tenant-scoped rules.
    Window window;
    int64_t limit;
  };
  std::vector<Applicable> applicable(const UsageQuery& query, UnixMillis now);

  // One row per rule that applies to `userId` (user-scoped rules need a userId).
  std::vector<RuleUsage> usage(std::string_view userId, UnixMillis now);
  std::vector<RuleUsage> usageOf(std::string_view userId, std::string_view resource,
                                 std::string_view metric, UnixMillis now);

private:
  struct Counter {
    Window window{0, 0};
    int64_t used = 0;
    int64_t reserved = 0;
    int64_t others = 0;    // The rest of the fleet, as last read (0 without a fleet).
    int64_t held = 0;      // Strict fleet calls in flight: not flushed meanwhile.
    int64_t sent = 0;      // This host's contribution as last sent to the fleet.
    bool changed = false;  // Its contribution changed since the last takeFleetChanges().
    bool queued = false;   // In changed_: changed, or read by a check (its total is wanted).
    int64_t contribution() const { return saturatingAdd(used, reserved); }
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
  // The counter of `key` in rule `i` as it is (not rolled), or null.
  Counter* existing(size_t i, std::string_view key);
  // The counter of `key` in rule `i`, rolled forward to `now`; created if `create`.
  Counter* counter(size_t i, std::string_view key, UnixMillis now, bool create);
  void roll(size_t i, std::string_view key, Counter& c, UnixMillis now);
  // What a counter for `key` would hold at `now` if it existed; changes nothing.
  Counter wouldBe(size_t i, std::string_view key, UnixMillis now) const;
  RuleUsage usageAt(size_t i, std::string_view userId, UnixMillis now);
  RuleUsage snapshot(size_t i, const Counter& c) const;
  void applyReservation(const Reservation& r, int64_t sign, UnixMillis now);
  void resolveLimits();
  // Notes a fleet change of counter (i, key); cheap when fleet tracking is off.
  void noteChange(size_t i, std::string_view key, Counter& c) {
    if (!trackFleet_) return;
    c.changed = true;
    queue(i, key, c);
  }
  // A check read the counter: the next flush brings its fleet total back.
  void noteRead(size_t i, std::string_view key, Counter& c) {
    if (trackFleet_) queue(i, key, c);
  }
  void queue(size_t i, std::string_view key, Counter& c) {
    if (c.queued) return;
    c.queued = true;
    changed_.emplace_back(i, std::string(key));
  }

  std::string plan_;
  const date::time_zone* zone_;
  uint64_t generation_;
  std::vector<Rule> rules_;
  size_t userCounters_ = 0;  // Sum of every rule's users.size().
  std::vector<RuleState> states_;
  std::unordered_map<MetricKey, std::vector<size_t>, MetricHash> byMetric_;
  std::unordered_map<std::string, Reservation, StringHash, std::equal_to<>> reservations_;
  bool trackFleet_ = false;
  std::vector<std::pair<size_t, std::string>> changed_;  // Counters with `queued` set.
  std::vector<FleetCount> closed_;  // Final figures of changed windows that have ended.
};

}  // namespace tenantd
