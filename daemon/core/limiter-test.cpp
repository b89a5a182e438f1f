#include "limiter.h"

#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <random>

namespace tenantd {

namespace {
constexpr UnixMillis MIN = 60'000, HOUR = 3'600'000, DAY = 86'400'000;
// 2024-01-15T10:00:00Z, a Monday.
constexpr UnixMillis T0 = 1705312800000;

Rule rule(std::string resource, std::string metric, Period period, int64_t limit,
          GateAction gate = GateAction::BLOCK, Scope scope = Scope::TENANT) {
  Rule r;
  r.resource = std::move(resource);
  r.metric = std::move(metric);
  r.period = period;
  r.limit = limit;
  r.gateAction = gate;
  r.scope = scope;
  return r;
}

Limiter withRules(std::vector<Rule> rules, std::string plan = "pro") {
  Limiter l(std::move(plan), nullptr);
  l.setRules(std::move(rules), {}, T0);
  return l;
}
}  // namespace

TEST_CASE("Without a rule everything is allowed and nothing is reported") {
  Limiter l = withRules({});
  auto d = l.check({"", "workflow", "count", 1}, T0);
  CHECK(d.allowed);
  CHECK_FALSE(d.matched);
  CHECK_FALSE(d.warning);
}

TEST_CASE("A block rule allows up to its limit and refuses beyond") {
  Limiter l = withRules({rule("workflow", "count", Period::DAY, 3)});
  for (int i = 0; i < 3; ++i) {
    auto d = l.consume({"", "workflow", "count", 1}, T0 + i);
    CHECK(d.allowed);
  }
  auto d = l.check({"", "workflow", "count", 1}, T0 + 10);
  CHECK_FALSE(d.allowed);
  REQUIRE(d.matched);
  CHECK(d.reported.current == 3);
  CHECK(d.reported.limit == 3);
  // consume never records a refused amount.
  CHECK_FALSE(l.consume({"", "workflow", "count", 1}, T0 + 11).allowed);
  CHECK(l.usage("", T0 + 12)[0].current == 3);
  // An amount that does not fit is refused even if a smaller one would.
  Limiter m = withRules({rule("llm", "tokens", Period::MONTH, 1000)});
  m.record("", "llm", "tokens", 900, T0, T0);
  CHECK_FALSE(m.check({"", "llm", "tokens", 101}, T0).allowed);
  CHECK(m.check({"", "llm", "tokens", 100}, T0).allowed);
}

TEST_CASE("The window resets at the calendar boundary") {
  Limiter l = withRules({rule("api", "calls", Period::DAY, 1)});
  CHECK(l.consume({"", "api", "calls", 1}, T0).allowed);
  CHECK_FALSE(l.check({"", "api", "calls", 1}, T0 + HOUR).allowed);
  // T0 is 10:00 UTC: midnight is 14 hours later.
  CHECK_FALSE(l.check({"", "api", "calls", 1}, T0 + 14 * HOUR - 1).allowed);
  auto next = l.check({"", "api", "calls", 1}, T0 + 14 * HOUR);
  CHECK(next.allowed);
  CHECK(next.reported.current == 0);
  CHECK(next.reported.window.start == T0 + 14 * HOUR);
}

TEST_CASE("Tiers pick the limit by the tenant's plan, else the default") {
  Rule r = rule("workflow", "count", Period::DAY, 5);
  r.tiers = {{"free", 1}, {"pro", 100}};
  Limiter pro = withRules({r}, "pro");
  CHECK(pro.check({"", "workflow", "count", 1}, T0).reported.limit == 100);
  Limiter free = withRules({r}, "free");
  CHECK(free.check({"", "workflow", "count", 1}, T0).reported.limit == 1);
  Limiter other = withRules({r}, "enterprise");
  CHECK(other.check({"", "workflow", "count", 1}, T0).reported.limit == 5);
  free.setPlan("pro");
  CHECK(free.check({"", "workflow", "count", 1}, T0).reported.limit == 100);
}

TEST_CASE("User scope keeps one counter per user, tenant scope sums them") {
  Limiter l = withRules({rule("workflow", "count", Period::DAY, 2, GateAction::BLOCK, Scope::USER),
                         rule("workflow", "count", Period::DAY, 3)});
  CHECK(l.consume({"alice", "workflow", "count", 1}, T0).allowed);
  CHECK(l.consume({"alice", "workflow", "count", 1}, T0).allowed);
  auto alice = l.check({"alice", "workflow", "count", 1}, T0);
  CHECK_FALSE(alice.allowed);
  CHECK(alice.reported.rule->scope == Scope::USER);
  CHECK(l.consume({"bob", "workflow", "count", 1}, T0).allowed);
  auto bob = l.check({"bob", "workflow", "count", 1}, T0);
  CHECK_FALSE(bob.allowed);  // The tenant's 3 are used up.
  CHECK(bob.reported.rule->scope == Scope::TENANT);
  // Without a user, user-scoped rules do not apply.
  auto anon = l.usage("", T0);
  REQUIRE(anon.size() == 1);
  CHECK(anon[0].rule->scope == Scope::TENANT);
  CHECK(anon[0].current == 3);
  CHECK(l.usage("carol", T0)[0].current == 0);
}

TEST_CASE("Warn rules allow and flag, log rules only allow") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 10, GateAction::WARN),
                         rule("api", "calls", Period::DAY, 0, GateAction::LOG)});
  auto warn = l.check({"", "llm", "tokens", 11}, T0);
  CHECK(warn.allowed);
  CHECK(warn.warning);
  CHECK(warn.reported.rule->gateAction == GateAction::WARN);
  auto log = l.check({"", "api", "calls", 1}, T0);
  CHECK(log.allowed);
  CHECK_FALSE(log.warning);
  CHECK(l.check({"", "llm", "tokens", 10}, T0).warning == false);
}

TEST_CASE("The blocking rule is reported, else the one nearest its limit") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100),
                         rule("llm", "tokens", Period::MONTH, 1000),
                         rule("llm", "tokens", Period::HOUR, 50, GateAction::WARN)});
  l.record("", "llm", "tokens", 40, T0, T0);
  auto d = l.check({"", "llm", "tokens", 5}, T0);
  CHECK(d.allowed);
  CHECK(d.reported.rule->period == Period::HOUR);  // 45/50 is nearest.
  auto blocked = l.check({"", "llm", "tokens", 70}, T0);
  CHECK_FALSE(blocked.allowed);
  CHECK(blocked.reported.rule->period == Period::DAY);  // The block rule, not the warn one.
  CHECK(blocked.warning);
}

TEST_CASE("Tracks in the past change no current window, near-future ones count when it comes") {
  Limiter l = withRules({rule("api", "calls", Period::MINUTE, 100)});
  UnixMillis t = T0 + 30'000;  // 10:00:30
  l.record("", "api", "calls", 5, t - 2 * MIN, t);
  l.record("", "api", "calls", 7, t + 2 * MIN, t);  // 10:02:30
  CHECK(l.usage("", t)[0].current == 0);
  CHECK(l.usage("", t + MIN)[0].current == 0);
  CHECK(l.usage("", t + 2 * MIN)[0].current == 7);
  CHECK(l.usage("", t + 3 * MIN)[0].current == 0);
}

TEST_CASE("unrecord reverses record, including near-future usage") {
  Limiter l = withRules({rule("api", "calls", Period::MINUTE, 100)});
  l.record("u", "api", "calls", 5, T0, T0);
  l.record("u", "api", "calls", 3, T0 + 2 * MIN, T0);
  l.unrecord("u", "api", "calls", 5, T0, T0);
  l.unrecord("u", "api", "calls", 3, T0 + 2 * MIN, T0);
  CHECK(l.usage("", T0)[0].current == 0);
  CHECK(l.usage("", T0 + 2 * MIN)[0].current == 0);
}

TEST_CASE("Reservations hold capacity until committed, released or expired") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 1000)});
  auto r1 = l.reserve({"r1", "", "llm", "tokens", 600, T0 + MIN}, T0);
  CHECK(r1.allowed);
  CHECK(r1.reported.reserved == 600);
  CHECK_FALSE(l.reserve({"r2", "", "llm", "tokens", 500, T0 + MIN}, T0).allowed);
  CHECK_FALSE(l.check({"", "llm", "tokens", 401}, T0).allowed);
  // Commit: the reservation goes, the actual amount is recorded by the caller.
  auto settled = l.settle("r1", T0 + 1000);
  REQUIRE(settled);
  CHECK(settled->amount == 600);
  l.record("", "llm", "tokens", 450, T0 + 1000, T0 + 1000);
  CHECK_FALSE(l.settle("r1", T0 + 1000));  // Settles once.
  CHECK(l.check({"", "llm", "tokens", 550}, T0 + 1000).allowed);
  CHECK_FALSE(l.check({"", "llm", "tokens", 551}, T0 + 1000).allowed);
  // Expiry releases a reservation that was never settled.
  CHECK(l.reserve({"r3", "", "llm", "tokens", 500, T0 + 2 * MIN}, T0 + 1000).allowed);
  CHECK(l.expire(T0 + 2 * MIN - 1).empty());
  auto expired = l.expire(T0 + 2 * MIN);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].id == "r3");
  CHECK(l.openReservations() == 0);
  CHECK(l.usage("", T0 + 2 * MIN)[0].reserved == 0);
}

TEST_CASE("Reservations count across a window change and survive new rules") {
  Limiter l = withRules({rule("llm", "tokens", Period::MINUTE, 10)});
  CHECK(l.reserve({"r", "u", "llm", "tokens", 8, T0 + DAY}, T0).allowed);
  CHECK_FALSE(l.check({"", "llm", "tokens", 3}, T0 + 5 * MIN).allowed);
  l.setRules({rule("llm", "tokens", Period::DAY, 10)}, {}, T0 + 5 * MIN);
  CHECK(l.usage("", T0 + 5 * MIN)[0].reserved == 8);
  l.settle("r", T0 + 6 * MIN);
  CHECK(l.usage("", T0 + 6 * MIN)[0].reserved == 0);
}

TEST_CASE("Counters of users whose window has passed are pruned without changing answers") {
  Limiter l = withRules({rule("api", "calls", Period::MINUTE, 5, GateAction::BLOCK, Scope::USER)});
  for (int u = 0; u < 100; ++u) l.record("user" + std::to_string(u), "api", "calls", 1, T0, T0);
  l.reserve({"r", "keep", "api", "calls", 2, T0 + DAY}, T0);
  CHECK(l.userCounters() == 101);
  CHECK(l.prune(T0 + 30'000) == 0);  // Same minute: nothing to forget.
  CHECK(l.prune(T0 + MIN) == 100);   // The reservation holder stays.
  CHECK(l.userCounters() == 1);
  CHECK(l.usage("user7", T0 + MIN)[0].current == 0);
  CHECK(l.usage("keep", T0 + MIN)[0].reserved == 2);
}

TEST_CASE("Huge amounts saturate instead of wrapping past the limit") {
  Limiter l = withRules({rule("api", "calls", Period::DAY, 100)});
  int64_t big = int64_t{1} << 53;
  for (int i = 0; i < 2000; ++i) l.record("", "api", "calls", big, T0, T0);
  CHECK(l.usage("", T0)[0].current == std::numeric_limits<int64_t>::max());
  CHECK_FALSE(l.check({"", "api", "calls", big}, T0).allowed);
}

TEST_CASE("What remains under a limit is clamped at the int64 edge, never wrapped") {
  // A log rule with limit 0 lets a counter saturate; an open reservation then pushed
  // limit - current - reserved past INT64_MIN, which wrapped to 9223372036854775804.
  Limiter l = withRules({rule("api", "calls", Period::DAY, 0, GateAction::LOG)});
  constexpr int64_t MAX = std::numeric_limits<int64_t>::max();
  l.record("", "api", "calls", MAX, T0, T0);
  l.record("", "api", "calls", MAX, T0, T0);
  l.reserve({"r1", "", "api", "calls", 3, T0 + DAY}, T0);
  Decision d = l.reserve({"r2", "", "api", "calls", 3, T0 + DAY}, T0);
  REQUIRE(d.matched);
  CHECK(d.reported.reserved == 6);  // Both reservations, the new one included.
  CHECK(d.reported.current == MAX);
  CHECK(d.reported.remaining() == 0);
  RuleUsage u;
  u.limit = MAX;
  u.current = -5;  // Never stored, but remaining() must not wrap for any input.
  CHECK(u.remaining() == MAX);
  u.current = 10;
  u.reserved = 5;
  CHECK(u.remaining() == MAX - 15);
}

TEST_CASE("A wall clock stepped back does not reset the current window") {
  Limiter l = withRules({rule("api", "calls", Period::MINUTE, 5)});
  l.record("", "api", "calls", 5, T0 + 30'000, T0 + 30'000);
  CHECK_FALSE(l.check({"", "api", "calls", 1}, T0 - 10'000).allowed);
  CHECK(l.usage("", T0 + 30'000)[0].current == 5);
}

TEST_CASE("New rules start from the usage the store already holds") {
  Limiter l("pro", nullptr);
  l.setRules({rule("api", "calls", Period::MONTH, 100),
              rule("api", "calls", Period::DAY, 10, GateAction::BLOCK, Scope::USER)},
             {{0, "", 95}, {1, "alice", 10}}, T0);
  CHECK(l.usage("", T0)[0].current == 95);
  CHECK_FALSE(l.check({"alice", "api", "calls", 1}, T0).allowed);
  CHECK(l.check({"bob", "api", "calls", 5}, T0).allowed);
  CHECK_FALSE(l.check({"bob", "api", "calls", 6}, T0).allowed);
}

TEST_CASE("Periods follow the tenant's timezone") {
  Limiter l("pro", date::locate_zone("America/New_York"));
  l.setRules({rule("api", "calls", Period::DAY, 1)}, {}, T0);
  CHECK(l.consume({"", "api", "calls", 1}, T0).allowed);  // 05:00 in New York.
  // UTC midnight is not New York's: still the same day at 23:59 UTC.
  CHECK_FALSE(l.check({"", "api", "calls", 1}, T0 + 14 * HOUR - 1).allowed);
  CHECK_FALSE(l.check({"", "api", "calls", 1}, T0 + 18 * HOUR).allowed);
  CHECK(l.check({"", "api", "calls", 1}, T0 + 19 * HOUR).allowed);  // 00:00 EST.
}

// Property test: random operations against the engine and a naive model that keeps every event
// and recomputes each window from scratch. Every answer must match.
namespace {
struct Model {
  struct Event {
    std::string user;
    UnixMillis at;
    int64_t amount;
  };
  std::vector<Rule> rules;
  std::string plan;
  std::vector<Event> events;  // All for one (resource, metric).
  std::map<std::string, std::pair<std::string, int64_t>> reservations;  // id -> (user, amount)

  int64_t used(const Rule& r, const std::string& user, UnixMillis now) const {
    Window w = windowAt(r.period, now, nullptr);
    int64_t sum = 0;
    for (auto& e : events) {
      if (w.contains(e.at) && (r.scope == Scope::TENANT || e.user == user)) sum += e.amount;
    }
    return sum;
  }
  int64_t reserved(const Rule& r, const std::string& user) const {
    int64_t sum = 0;
    for (auto& [id, ur] : reservations) {
      if (r.scope == Scope::TENANT || ur.first == user) sum += ur.second;
    }
    return sum;
  }
  bool allowed(const std::string& user, int64_t amount, UnixMillis now) const {
    for (auto& r : rules) {
      if (r.scope == Scope::USER && user.empty()) continue;
      if (r.gateAction == GateAction::BLOCK &&
          used(r, user, now) + reserved(r, user) + amount > r.limitFor(plan)) {
        return false;
      }
    }
    return true;
  }
};
}  // namespace

TEST_CASE("The engine agrees with a naive model on random operation sequences") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 40; ++round) {
    Model m;
    m.plan = "pro";
    std::uniform_int_distribution<int> coin(0, 99);
    Period periods[] = {Period::MINUTE, Period::HOUR,  Period::DAY,
                        Period::WEEK,   Period::MONTH, Period::LIFETIME};
    for (int i = 0, n = 1 + coin(rng) % 4; i < n; ++i) {
      Rule r = rule("res", "m", periods[coin(rng) % 6], coin(rng) % 40,
                    coin(rng) < 70 ? GateAction::BLOCK : GateAction::WARN,
                    coin(rng) < 50 ? Scope::TENANT : Scope::USER);
      if (coin(rng) < 30) r.tiers = {{"pro", coin(rng) % 40}};
      if (!validateRules([&] {
            auto v = m.rules;
            v.push_back(r);
            return v;
          }())) {
        m.rules.push_back(r);
      }
    }
    Limiter l(m.plan, nullptr);
    UnixMillis now = T0 + coin(rng) * DAY;
    l.setRules(m.rules, {}, now);
    const char* users[] = {"", "u1", "u2"};
    int nextId = 0;
    for (int step = 0; step < 400; ++step) {
      now += (coin(rng) < 80 ? coin(rng) * 1000 : coin(rng) * 20 * MIN);
      std::string user = users[coin(rng) % 3];
      int64_t amount = 1 + coin(rng) % 6;
      int op = coin(rng);
      INFO("round " << round << " step " << step << " op " << op);
      if (op < 35) {
        bool expect = m.allowed(user, amount, now);
        auto d = l.consume({user, "res", "m", amount}, now);
        REQUIRE(d.allowed == expect);
        if (expect) m.events.push_back({user, now, amount});
      } else if (op < 55) {
        // A track: recorded whether or not allowed, sometimes back-dated or up to 5 min ahead.
        UnixMillis at = now + (coin(rng) < 20 ? -coin(rng) * MIN : coin(rng) < 20 ? 5 * MIN : 0);
        l.record(user, "res", "m", amount, at, now);
        m.events.push_back({user, at, amount});
      } else if (op < 70) {
        std::string id = "r" + std::to_string(nextId++);
        bool expect = m.allowed(user, amount, now);
        REQUIRE(l.reserve({id, user, "res", "m", amount, now + 10 * MIN}, now).allowed == expect);
        if (expect) m.reservations[id] = {user, amount};
      } else if (op < 80 && !m.reservations.empty()) {
        auto it = m.reservations.begin();
        std::advance(it, coin(rng) % m.reservations.size());
        REQUIRE(l.settle(it->first, now));
        m.reservations.erase(it);
      } else {
        REQUIRE(l.check({user, "res", "m", amount}, now).allowed == m.allowed(user, amount, now));
      }
      // Expire in both (the model's reservations carry their expiry in the engine only).
      for (auto& r : l.expire(now)) m.reservations.erase(r.id);
      for (auto& u : l.usage(user, now)) {
        REQUIRE(u.current == m.used(*u.rule, user, now));
        REQUIRE(u.reserved == m.reserved(*u.rule, user));
        REQUIRE(u.limit == u.rule->limitFor(m.plan));
      }
    }
  }
}

}  // namespace tenantd

namespace tenantd {

namespace {
std::map<std::string, int64_t> valuesOf(const std::vector<FleetCount>& counts) {
  std::map<std::string, int64_t> out;
  for (auto& c : counts) out[c.rule->resource + "/" + c.userKey] = c.value;
  return out;
}
}  // namespace

TEST_CASE("Without fleet tracking nothing is noted for the fleet") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100)});
  l.record("", "llm", "tokens", 5, T0, T0);
  CHECK(l.takeFleetChanges(false, T0).empty());
}

TEST_CASE("The fleet gets each changed counter's absolute contribution once per take") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100),
                         rule("llm", "tokens", Period::DAY, 10, GateAction::BLOCK, Scope::USER)});
  l.trackFleet(true);
  l.record("u1", "llm", "tokens", 4, T0, T0);
  l.record("u1", "llm", "tokens", 3, T0, T0);
  auto first = l.takeFleetChanges(false, T0);
  CHECK(valuesOf(first) == std::map<std::string, int64_t>{{"llm/", 7}, {"llm/u1", 7}});
  for (auto& c : first) CHECK(c.previous == 0);
  CHECK(l.takeFleetChanges(false, T0).empty());  // Nothing changed or read since.

  l.record("", "llm", "tokens", 2, T0, T0);  // Tenant-scoped only: no user.
  auto second = l.takeFleetChanges(false, T0);
  REQUIRE(second.size() == 1);
  CHECK(second[0].value == 9);
  CHECK(second[0].previous == 7);
}

TEST_CASE("Fleet figures of other hosts count in checks of this one") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100)});
  l.trackFleet(true);
  l.record("", "llm", "tokens", 10, T0, T0);
  auto sent = l.takeFleetChanges(false, T0);
  REQUIRE(sent.size() == 1);
  // The fleet total came back as 95: 85 used elsewhere.
  l.setFleetOthers(l.generation(), sent[0].rule, "", sent[0].window, 95 - sent[0].value);
  auto d = l.check({"", "llm", "tokens", 6}, T0);
  CHECK_FALSE(d.allowed);
  CHECK(d.reported.current == 95);
  CHECK(l.check({"", "llm", "tokens", 5}, T0).allowed);

  SECTION("A figure of older rules is ignored") {
    uint64_t old = l.generation();
    l.setRules({rule("llm", "tokens", Period::DAY, 100)}, {}, T0);
    l.setFleetOthers(old, &l.rules()[0], "", sent[0].window, 50);
    CHECK(l.check({"", "llm", "tokens", 1}, T0).reported.current == 0);
  }
  SECTION("A figure of another window is ignored, and a new window starts at zero") {
    l.setFleetOthers(l.generation(), sent[0].rule, "", windowAt(Period::DAY, T0 + DAY, nullptr), 1);
    CHECK(l.check({"", "llm", "tokens", 0}, T0).reported.current == 95);
    CHECK(l.check({"", "llm", "tokens", 0}, T0 + DAY).reported.current == 0);
  }
}

TEST_CASE("A check asks for the fleet's figure of the counters it read") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100)});
  l.trackFleet(true);
  CHECK(l.takeFleetChanges(false, T0).empty());
  l.check({"", "llm", "tokens", 1}, T0);
  auto read = l.takeFleetChanges(false, T0);
  REQUIRE(read.size() == 1);
  CHECK(read[0].value == 0);
}

TEST_CASE("A window that ends with unsent usage still sends its final figure") {
  Limiter l = withRules({rule("llm", "tokens", Period::MINUTE, 100)});
  l.trackFleet(true);
  l.record("", "llm", "tokens", 5, T0, T0);
  l.check({"", "llm", "tokens", 1}, T0 + MIN);  // Rolls into the next minute.
  l.record("", "llm", "tokens", 2, T0 + MIN, T0 + MIN);
  auto counts = l.takeFleetChanges(false, T0 + MIN);
  std::map<UnixMillis, int64_t> byWindow;
  for (auto& c : counts) byWindow[c.window.start] = c.value;
  CHECK(byWindow == std::map<UnixMillis, int64_t>{{T0, 5}, {T0 + MIN, 2}});
}

TEST_CASE("Reserved amounts are this host's and a counter with a strict call out waits") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100)});
  l.trackFleet(true);
  l.reserve({"r1", "", "llm", "tokens", 7, T0 + HOUR}, T0);
  l.holdForFleet({"", "llm", "tokens", 3}, 3, T0);
  CHECK(l.takeFleetChanges(false, T0).empty());  // The strict call adds in Redis itself.
  CHECK(l.takeFleetChanges(true, T0).empty());
  l.holdForFleet({"", "llm", "tokens", 3}, -3, T0);
  l.record("", "llm", "tokens", 3, T0, T0);  // Its answer: allowed.
  auto counts = l.takeFleetChanges(false, T0);
  REQUIRE(counts.size() == 1);
  CHECK(counts[0].value == 10);
  l.settle("r1", T0);
  counts = l.takeFleetChanges(false, T0);
  REQUIRE(counts.size() == 1);
  CHECK(counts[0].value == 3);
  CHECK(counts[0].previous == 10);
}

TEST_CASE("A user counter with a strict call out outlives its window until the answer") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 10, GateAction::BLOCK, Scope::USER)});
  l.trackFleet(true);
  l.holdForFleet({"u1", "llm", "tokens", 3}, 3, T0);
  CHECK(l.prune(T0 + DAY) == 0);  // Its window has passed, but the call is still out.
  l.holdForFleet({"u1", "llm", "tokens", 3}, -3, T0 + DAY);  // Refused, after midnight.
  // The hold is back to nothing: the counter is sent again (a held one never is).
  CHECK(valuesOf(l.takeFleetChanges(true, T0 + DAY)) ==
        std::map<std::string, int64_t>{{"llm/u1", 0}});
}

TEST_CASE("Counts go out as their counters stand when sent, not when taken") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100),
                         rule("llm", "tokens", Period::DAY, 10, GateAction::BLOCK, Scope::USER)});
  l.trackFleet(true);
  l.record("u1", "llm", "tokens", 4, T0, T0);
  auto counts = l.takeFleetChanges(false, T0);  // Waiting for room in the pipeline.
  // Meanwhile a strict call by u1 added 3 in Redis itself and was answered here: the figures
  // taken (4) would take it back.
  l.holdForFleet({"u1", "llm", "tokens", 3}, 3, T0);
  l.holdForFleet({"u1", "llm", "tokens", 3}, -3, T0);
  l.record("u1", "llm", "tokens", 3, T0, T0);
  l.refreshFleet(l.generation(), counts);
  CHECK(valuesOf(counts) == std::map<std::string, int64_t>{{"llm/", 7}, {"llm/u1", 7}});

  // A counter with a strict call out stays behind until its answer.
  l.record("u1", "llm", "tokens", 1, T0, T0);
  l.takeFleetChanges(false, T0);
  counts = l.takeFleetChanges(true, T0);
  l.holdForFleet({"u2", "llm", "tokens", 2}, 2, T0);  // Tenant counter and u2's.
  l.refreshFleet(l.generation(), counts);
  CHECK(valuesOf(counts) == std::map<std::string, int64_t>{{"llm/u1", 8}});
  CHECK(l.takeFleetChanges(false, T0).empty());
  l.holdForFleet({"u2", "llm", "tokens", 2}, -2, T0);  // Refused.
  CHECK(valuesOf(l.takeFleetChanges(false, T0)) == std::map<std::string, int64_t>{{"llm/", 8}});

  // Another generation's counts are not this one's.
  l.record("", "llm", "tokens", 1, T0, T0);
  counts = l.takeFleetChanges(false, T0);
  uint64_t before = l.generation();
  l.setRules({rule("llm", "tokens", Period::DAY, 100)}, {}, T0);
  l.refreshFleet(before, counts);
  CHECK(counts.empty());
}

TEST_CASE("A count whose window has ended before it goes out is that window's final figure") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100)});
  l.trackFleet(true);
  l.record("", "llm", "tokens", 4, T0, T0);
  auto counts = l.takeFleetChanges(false, T0);
  l.check({"", "llm", "tokens", 1}, T0 + DAY);  // Rolls the counter into the next day.
  l.refreshFleet(l.generation(), counts);
  REQUIRE(counts.size() == 1);
  CHECK(counts[0].value == 4);
  CHECK(counts[0].window.end == counts[0].window.start + DAY);
}

TEST_CASE("Taking everything sends every counter of the current windows") {
  Limiter l = withRules({rule("llm", "tokens", Period::DAY, 100),
                         rule("llm", "tokens", Period::DAY, 10, GateAction::BLOCK, Scope::USER)});
  l.trackFleet(true);
  l.record("u1", "llm", "tokens", 4, T0, T0);
  l.takeFleetChanges(false, T0);
  auto all = l.takeFleetChanges(true, T0);
  CHECK(valuesOf(all) == std::map<std::string, int64_t>{{"llm/", 4}, {"llm/u1", 4}});
  CHECK(l.hasStrictRule("llm", "tokens") == false);
}

}  // namespace tenantd
