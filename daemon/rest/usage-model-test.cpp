// A model-based test of the limits engine and the usage reports, through the REST handlers the
// daemon serves (RestServer::handle over the daemon's Services on a real SQLite file, with a
// manual clock). Random steps (rules, checks, consumes, tracks with and without ids and
// timestamps, reservations, commits, releases, clock jumps across months and DST changes,
// storage upkeep on demand, restarts) run against the daemon and against an independent model
// that keeps every event and computes windows straight from the tz database. Every decision and
// every report must agree.
//
// Seeded and reproducible: a failure prints its zone, seed and step. TENANTD_MODEL_SEEDS and
// TENANTD_MODEL_STEPS make it longer (`make soak`).

#include "rest/rest-server.h"

#include <catch2/catch.hpp>

#include "core/saturating.h"
#include "service/catalog-service.h"
#include "store/usage-store.h"
#include "testing/service-stack.h"
#include "testing/temp-dir.h"

#include <cstdlib>
#include <map>
#include <random>
#include <set>

namespace tenantd {

namespace {

using nlohmann::json;

constexpr int64_t MIN = 60'000, HOUR = 3'600'000, DAY = 86'400'000;
constexpr UnixMillis OCT_29_2026 = 1792800000000;  // 2026-10-29T00:00:00Z

int envOr(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// ---- The model: every event kept, windows from the tz database directly. ----

struct Event {
  std::string user, resource, metric;
  UnixMillis at;
  int64_t amount;
};

struct ModelRule {
  std::string resource, metric;
  std::string period;  // minute, hour, day, week, month
  int64_t limit;
  std::string action;  // block, warn, log
  std::string scope;   // tenant, user
};

struct Held {
  std::string user, resource, metric;
  int64_t amount;
  UnixMillis expiresAt;
};

using LocalMs = date::local_time<std::chrono::milliseconds>;

class Model {
public:
  explicit Model(const date::time_zone* zone) : zone_(zone) {}

  std::vector<ModelRule> rules;
  std::vector<Event> events;
  std::map<std::string, Held> held;  // Open reservations by id.

  bool allows(const std::string& user, const std::string& resource, const std::string& metric,
              int64_t amount, UnixMillis now) const {
    for (auto& r : rules) {
      if (r.resource != resource || r.metric != metric || r.action != "block") continue;
      if (r.scope == "user" && user.empty()) continue;
      auto [start, end] = window(r.period, now);
      int64_t total = amount;
      for (auto& e : events) {
        if (e.resource == resource && e.metric == metric && e.at >= start && e.at < end &&
            (r.scope == "tenant" || e.user == user)) {
          total = saturatingAdd(total, e.amount);
        }
      }
      for (auto& [id, h] : held) {
        if (h.resource == resource && h.metric == metric &&
            (r.scope == "tenant" || h.user == user)) {
          total = saturatingAdd(total, h.amount);
        }
      }
      if (total > r.limit) return false;
    }
    return true;
  }

  void expire(UnixMillis now) {
    std::erase_if(held, [now](auto& kv) { return kv.second.expiresAt <= now; });
  }

  // The local month [start, end) named "YYYY-MM" and the local date of an instant.
  std::pair<UnixMillis, UnixMillis> month(int y, unsigned m) const {
    using namespace date;
    return {toSys(local_days{year{y} / date::month{m} / 1}),
            toSys(local_days{(year{y} / date::month{m} + months{1}) / 1})};
  }
  std::string dayOf(UnixMillis t) const {
    auto local =
        zone_->to_local(date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{t}});
    return date::format("%F", date::floor<date::days>(local));
  }
  std::string monthOf(UnixMillis t) const { return dayOf(t).substr(0, 7); }

private:
  UnixMillis toSys(date::local_days d) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               zone_->to_sys(d, date::choose::earliest).time_since_epoch())
        .count();
  }

  // The rule window holding `now`. Sub-day windows: the instant's own UTC offset (the engine's
  // documented choice for repeated hours); day and longer: the local calendar.
  std::pair<UnixMillis, UnixMillis> window(const std::string& period, UnixMillis now) const {
    using namespace date;
    date::sys_time<std::chrono::milliseconds> sys{std::chrono::milliseconds{now}};
    auto info = zone_->get_info(sys);
    auto offset = std::chrono::duration_cast<std::chrono::milliseconds>(info.offset).count();
    int64_t step = period == "minute" ? MIN : period == "hour" ? HOUR : 0;
    if (step != 0) {
      int64_t local = now + offset;
      int64_t start = local - (local % step) - offset;
      auto lo = std::chrono::duration_cast<std::chrono::milliseconds>(info.begin.time_since_epoch())
                    .count();
      auto hi = std::chrono::duration_cast<std::chrono::milliseconds>(info.end.time_since_epoch())
                    .count();
      return {std::max(start, lo), std::min(start + step, hi)};
    }
    auto day = floor<days>(zone_->to_local(sys));
    local_days first = day, next = day + days{1};
    if (period == "week") {
      first = day - (weekday{day} - Monday);
      next = first + days{7};
    } else if (period == "month") {
      year_month_day ymd{day};
      first = local_days{ymd.year() / ymd.month() / 1};
      next = local_days{ymd.year() / ymd.month() / 1 + months{1}};
    }
    return {toSys(first), toSys(next)};
  }

  const date::time_zone* zone_;
};

// ---- The daemon side: Services + RestServer on a real store; restarts reopen the file. ----

class DaemonUnderTest {
public:
  DaemonUnderTest(kj::WaitScope& ws, const char* zone, UnixMillis now) : ws_(ws) {
    {
      Db db(path_, {});
      migrate(db);
      Catalog catalog(db);
      catalog.createTenant(Tenant{"t1", "Model", "pro", zone, now, {}, {}, {}});
      token_ =
          "Bearer " + createToken(catalog, "t1", Role::ADMIN, std::nullopt, now)->issued.secret;
    }
    start(now);
  }
  ~DaemonUnderTest() noexcept(false) { stop(); }

  void restart() {
    UnixMillis now = stack_->clock.now();
    stop();
    start(now);
  }
  testing::ServiceStack& stack() { return *stack_; }

  struct Answer {
    int status;
    json body;
  };
  Answer call(std::string_view method, std::string_view target, const json& body = nullptr) {
    std::string text = body.is_null() ? "" : body.dump();
    auto q = target.find('?');
    std::pair<std::string_view, std::string_view> headers[] = {
        {"authorization", token_}, {"content-type", "application/json"}};
    HttpRequest r{
        method, target.substr(0, q), q == target.npos ? "" : target.substr(q + 1), text, nullptr,
        headers};
    HttpResult result = rest_->handle(r);
    HttpResponse response;
    KJ_IF_MAYBE (now, result.tryGet<HttpResponse>()) {
      response = kj::mv(*now);
    } else {
      response = result.get<kj::Promise<HttpResponse>>().wait(ws_);
    }
    return {response.status, json::parse(response.body)};
  }

private:
  void start(UnixMillis now) {
    stack_ = std::make_unique<testing::ServiceStack>(ws_, path_, now);
    rest_ = std::make_unique<RestServer>(*stack_->services, stack_->metrics, stack_->log);
  }
  void stop() {
    rest_.reset();
    stack_.reset();
  }

  kj::WaitScope& ws_;
  testing::TempDir dir_;
  std::string path_ = dir_.file("model.db");
  std::string token_;
  std::unique_ptr<testing::ServiceStack> stack_;
  std::unique_ptr<RestServer> rest_;
};

// ---- One seeded run. ----

const char* USERS[] = {"", "alice", "bob"};
const std::pair<const char*, const char*> METRICS[] = {{"api", "calls"}, {"llm", "tokens"}};
const char* PERIODS[] = {"minute", "hour", "day", "week", "month"};
const char* ACTIONS[] = {"block", "block", "warn", "log"};
const std::string BASE = "/tenant/limits/resources";

// What a run exercised: a model that never refuses or never compacts proves little.
struct Coverage {
  int refused = 0, allowed = 0, duplicates = 0, expired = 0, restarts = 0, nonEmptyReports = 0;
  size_t compactedRows = 0;
};

class Run {
public:
  Run(kj::WaitScope& ws, const char* zone, uint64_t seed, Coverage& seen)
      : seen_(seen),
        rng_(seed),
        start_(OCT_29_2026 + static_cast<int64_t>(seed % 97) * HOUR),
        daemon_(ws, zone, start_),
        model_(date::locate_zone(zone)) {}

  void step() {
    int op = pick(100);
    if (op < 5) return putRules();
    if (op < 22) return check("/check");
    if (op < 40) return check("/consume");
    if (op < 62) return track();
    if (op < 70) return reserve();
    if (op < 75) return settle();
    if (op < 85) return advance();
    if (op < 88) return upkeep();
    if (op < 90) {
      ++seen_.restarts;
      return daemon_.restart();
    }
    return report();
  }

private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  template <typename T, size_t N>
  const T& any(const T (&items)[N]) {
    return items[pick(N)];
  }
  UnixMillis now() { return daemon_.stack().clock.now(); }

  void putRules() {
    json doc = json::array();
    model_.rules.clear();
    std::set<std::string> seen;
    for (int i = pick(4); i > 0; --i) {
      auto [resource, metric] = any(METRICS);
      ModelRule r{resource, metric,       any(PERIODS),
                  pick(60), any(ACTIONS), pick(3) == 0 ? "user" : "tenant"};
      if (!seen.insert(r.resource + r.period + r.scope).second) continue;  // One per key.
      doc.push_back({{"resource", r.resource},
                     {"metric", r.metric},
                     {"period", r.period},
                     {"limit", r.limit},
                     {"gateAction", r.action},
                     {"scope", r.scope}});
      model_.rules.push_back(r);
    }
    auto a = daemon_.call("PUT", BASE, doc);
    REQUIRE(a.status == 200);
  }

  json usageBody(int64_t amount) {
    auto [resource, metric] = any(METRICS);
    json body = {{"resource", resource}, {"metric", metric}, {"amount", amount}};
    std::string user = any(USERS);
    if (!user.empty()) body["userId"] = user;
    return body;
  }
  static std::string field(const json& body, const char* name) {
    return body.contains(name) ? body[name].get<std::string>() : "";
  }

  void expectDecision(const json& body, const json& answer, bool allowed) {
    INFO(body.dump() << " -> " << answer.dump());
    REQUIRE(answer["allowed"] == allowed);
    ++(allowed ? seen_.allowed : seen_.refused);
    if (answer.contains("remaining")) {
      int64_t remaining = answer["remaining"];
      CHECK(remaining >= 0);
      CHECK(remaining <= answer["usage"]["limit"].get<int64_t>());
    }
  }

  void check(const std::string& route) {
    json body = usageBody(1 + pick(8));
    bool allowed = model_.allows(field(body, "userId"), body["resource"], body["metric"],
                                 body["amount"], now());
    auto a = daemon_.call("POST", BASE + route, body);
    REQUIRE(a.status == 200);
    expectDecision(body, a.body, allowed);
    if (route == "/consume" && allowed) {
      model_.events.push_back(
          {field(body, "userId"), body["resource"], body["metric"], now(), body["amount"]});
    }
  }

  void track() {
    json body = usageBody(1 + pick(20));
    if (pick(4) == 0) {  // Reports only: bandwidth, and storage as a gauge.
      body["resource"] = pick(2) == 0 ? "bandwidth" : "storage";
      body["metric"] = "bytes";
      body["amount"] = 100 + pick(1000);
    }
    UnixMillis at = now();
    int when = pick(6);
    if (when == 0) at -= std::uniform_int_distribution<int64_t>(0, 3 * DAY)(rng_);
    if (when == 1) at += std::uniform_int_distribution<int64_t>(0, 4 * MIN)(rng_);
    if (at != now()) body["timestamp"] = at;
    bool resend = !lastId_.empty() && pick(4) == 0;
    if (resend) {
      body = lastBody_;  // The same request again: counted once.
    } else if (pick(2) == 0) {
      lastId_ = "id-" + std::to_string(++ids_);
      body["id"] = lastId_;
      lastBody_ = body;
    }
    auto a = daemon_.call("POST", BASE + "/track", body);
    INFO(body.dump() << " -> " << a.body.dump());
    REQUIRE(a.status == 200);
    REQUIRE(a.body["duplicate"] == resend);
    seen_.duplicates += resend;
    if (!resend) {
      model_.events.push_back(
          {field(body, "userId"), body["resource"], body["metric"],
           body.contains("timestamp") ? body["timestamp"].get<int64_t>() : now(), body["amount"]});
    }
  }

  void reserve() {
    json body = usageBody(1 + pick(10));
    int ttl = 1 + pick(3 * 3600);
    body["ttlSeconds"] = ttl;
    std::string user = field(body, "userId");
    bool allowed = model_.allows(user, body["resource"], body["metric"], body["amount"], now());
    auto a = daemon_.call("POST", BASE + "/reserve", body);
    REQUIRE(a.status == 200);
    expectDecision(body, a.body, allowed);
    if (allowed) {
      model_.held[a.body["reservationId"]] = {user, body["resource"], body["metric"],
                                              body["amount"], now() + ttl * 1000};
      reservations_.push_back(a.body["reservationId"]);
    }
  }

  void settle() {
    if (reservations_.empty()) return;
    size_t i = static_cast<size_t>(pick(static_cast<int>(reservations_.size())));
    std::string id = reservations_[i];
    reservations_.erase(reservations_.begin() + static_cast<ptrdiff_t>(i));
    auto open = model_.held.find(id);
    bool commit = pick(3) != 0;
    int64_t amount = pick(12);
    auto a =
        commit ? daemon_.call("POST", BASE + "/commit", {{"reservationId", id}, {"amount", amount}})
               : daemon_.call("POST", BASE + "/release", {{"reservationId", id}});
    INFO(id << " -> " << a.body.dump());
    REQUIRE(a.status == (open != model_.held.end() ? 200 : 404));
    seen_.expired += open == model_.held.end();
    if (open == model_.held.end()) return;
    if (commit) {
      auto& h = open->second;
      model_.events.push_back({h.user, h.resource, h.metric, now(), amount});
    }
    model_.held.erase(open);
  }

  void advance() {
    int64_t by = 0;
    switch (pick(3)) {
      case 0: by = std::uniform_int_distribution<int64_t>(1000, 10 * MIN)(rng_); break;
      case 1: by = std::uniform_int_distribution<int64_t>(MIN, 12 * HOUR)(rng_); break;
      default: by = std::uniform_int_distribution<int64_t>(HOUR, 3 * DAY)(rng_); break;
    }
    daemon_.stack().clock.advance(by);
    daemon_.stack().limits->expire();
    model_.expire(now());
    lastId_.clear();  // Ids expire after 48 h; resends happen only without a jump.
  }

  void upkeep() {
    seen_.compactedRows +=
        daemon_.stack().limits->maintainStorage(0).wait(daemon_.stack().waitScope);
  }

  void report() {
    std::string month = model_.monthOf(now());
    if (!model_.events.empty() && pick(2) == 0) {
      month = model_.monthOf(
          model_.events[static_cast<size_t>(pick(static_cast<int>(model_.events.size())))].at);
    }
    int y = std::stoi(month.substr(0, 4));
    unsigned m = static_cast<unsigned>(std::stoi(month.substr(5, 2)));
    auto [start, end] = model_.month(y, m);

    json sums = {{"api", 0}, {"llm", 0}, {"bandwidth", 0}};
    std::map<std::string, json> days;
    UnixMillis latest = 0;
    int64_t storage = 0;
    for (auto& e : model_.events) {
      if (e.at < start || e.at >= end) continue;
      if (e.resource == "storage") {
        UnixMillis minute = minuteBucket(e.at);
        if (minute > latest) latest = minute, storage = 0;
        if (minute == latest) storage += e.amount;
        continue;
      }
      sums[e.resource] = sums[e.resource].get<int64_t>() + e.amount;
      json& day = days[model_.dayOf(e.at)];
      if (day.is_null()) day = {{"api", 0}, {"llm", 0}, {"bandwidth", 0}};
      day[e.resource] = day[e.resource].get<int64_t>() + e.amount;
    }
    bool implicit = month == model_.monthOf(now()) && pick(2) == 0;  // No period: the current.
    std::string query = implicit ? "" : "?period=" + month;

    auto summary = daemon_.call("GET", "/usage/summary" + query);
    INFO(month << " summary " << summary.body.dump());
    REQUIRE(summary.status == 200);
    CHECK(summary.body["period"] == month);
    CHECK(summary.body["api_calls"] == sums["api"]);
    seen_.nonEmptyReports += !days.empty();
    CHECK(summary.body["llm_tokens"] == sums["llm"]);
    CHECK(summary.body["bandwidth_bytes"] == sums["bandwidth"]);
    CHECK(summary.body["storage_bytes"] == storage);

    json expected = json::array();
    for (auto& [date, d] : days) {
      expected.push_back({{"date", date},
                          {"api_calls", d["api"]},
                          {"llm_tokens", d["llm"]},
                          {"bandwidth_bytes", d["bandwidth"]}});
    }
    auto history = daemon_.call("GET", "/usage/history" + query);
    INFO("history " << history.body.dump());
    REQUIRE(history.status == 200);
    CHECK(history.body["history"] == expected);

    // A period that is not exactly YYYY-MM is refused, never read as another month.
    const char* bad[] = {"2026-1x", "2027-1a", "2026-1-", "2026-1", "2026-13"};
    CHECK(daemon_.call("GET", std::string("/usage/summary?period=") + any(bad)).status == 400);
  }

  Coverage& seen_;
  std::mt19937_64 rng_;
  UnixMillis start_;
  DaemonUnderTest daemon_;
  Model model_;
  std::vector<std::string> reservations_;
  std::string lastId_;
  json lastBody_;
  int ids_ = 0;
};

void runModel(const char* zone) {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  int seeds = envOr("TENANTD_MODEL_SEEDS", 4);
  int steps = envOr("TENANTD_MODEL_STEPS", 250);
  Coverage seen;
  for (int s = 1; s <= seeds; ++s) {
    uint64_t seed = static_cast<uint64_t>(s) * 7919;
    Run run(ws, zone, seed, seen);
    for (int i = 0; i < steps; ++i) {
      INFO(zone << " seed " << seed << " step " << i);
      run.step();
    }
  }
  CHECK(seen.refused > 0);
  CHECK(seen.allowed > 0);
  CHECK(seen.duplicates > 0);
  CHECK(seen.expired > 0);
  CHECK(seen.restarts > 0);
  CHECK(seen.nonEmptyReports > 0);
  CHECK(seen.compactedRows > 0);
}

}  // namespace

TEST_CASE("Usage model: UTC") {
  runModel("UTC");
}
TEST_CASE("Usage model: America/New_York") {
  runModel("America/New_York");
}
TEST_CASE("Usage model: Asia/Kolkata") {
  runModel("Asia/Kolkata");
}

}  // namespace tenantd
