// The crash driver (docs/RELIABILITY.md): every kind of write over REST and RPC at once, SIGKILL
// at a random moment, `tenantd check-db`, restart, and then proof that each acknowledged write
// is there exactly once and nothing unacknowledged was counted twice.
//
// Each worker is one sequential client, so at the kill at most one of its writes is in flight:
// after the restart the store must hold either what was acknowledged or that one write applied
// on top. A worker owns its own model (metrics, secret names, roles), so nothing is shared but
// the count of acknowledgements that decides when the kill lands.
//
// TENANTD_CRASH_ROUNDS (default 20) and TENANTD_CRASH_SEED (default: random, printed) choose
// the length and the moments; `make soak` runs 200 rounds.

#include <capnp/ez-rpc.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "tenantd.capnp.h"
#include "tenantd/client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string LIMITS = "/tenant/limits/resources";
const char* const TENANT = "tenant-123";
constexpr int64_t UNREACHABLE_LIMIT = int64_t{1} << 40;

int envInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::atoi(text) : fallback;
}

// What one round's workers share: when to stop, how many writes were acknowledged, and the
// answers no crash explains.
struct Round {
  int number = 0;
  std::string restUrl;
  std::string token;
  std::string socketPath;
  std::atomic<bool> killed{false};
  std::atomic<int> acks{0};
  std::mutex mutex;
  std::vector<std::string> faults;

  void fault(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    faults.push_back("round " + std::to_string(number) + ": " + what);
  }
  HttpResult rest(const std::string& method, const std::string& path, const json& body = nullptr,
                  std::map<std::string, std::string> headers = {}) {
    headers.emplace("Authorization", "Bearer " + token);
    std::string text;
    if (!body.is_null()) {
      headers.emplace("Content-Type", "application/json");
      text = body.dump();
    }
    return httpRequest(method, restUrl + path, headers, text);
  }
};

// A write failed: by the kill (its outcome is unknown) or not (a fault). Returns whether the
// worker should stop.
bool failed(Round& round, const std::string& what) {
  if (!round.killed.load()) round.fault(what);
  return true;
}

// The usage a worker recorded on its own metrics. `low` counts acknowledged amounts, `high` adds
// the one in flight at the kill; after a restart the stored figure must lie between them.
struct Counted {
  int64_t low = 0;
  int64_t high = 0;
};

struct UsageWorker {
  std::string name;  // "rest", "rpc0", ...: the prefix of its metrics and ids.
  std::map<std::string, Counted> counted;
  struct IdTrack {
    std::string id;
    std::string metric;
    int64_t amount;
  };
  std::optional<IdTrack> inFlight;
  std::vector<IdTrack> ackedThisRound;
  uint64_t next = 0;

  std::string metric(const char* kind) const { return name + "-" + kind; }
  void attempt(const std::string& m, int64_t amount) { counted[m].high += amount; }
  // The write in flight was answered: its amount counts, its id must be known from now on.
  void acked(const std::string& m, int64_t amount) {
    counted[m].low += amount;
    if (inFlight) ackedThisRound.push_back(*inFlight);
    inFlight.reset();
  }
};

json rulesFor(const std::vector<UsageWorker>& workers) {
  json rules = json::array();
  for (auto& w : workers) {
    for (const char* kind : {"tracked", "consumed", "committed"}) {
      rules.push_back({{"resource", "crash"},
                       {"metric", w.metric(kind)},
                       {"period", "lifetime"},
                       {"limit", UNREACHABLE_LIMIT}});
    }
  }
  return rules;
}

// REST: tracks with ids and consumes.
void restUsage(Round& round, UsageWorker& w, std::mt19937_64 rng) {
  while (!round.killed.load()) {
    int64_t amount = static_cast<int64_t>(rng() % 5) + 1;
    bool track = rng() % 2 == 0;
    std::string m = w.metric(track ? "tracked" : "consumed");
    json body = {{"resource", "crash"}, {"metric", m}, {"amount", amount}};
    if (track) {
      std::string id = w.name + "-" + std::to_string(w.next++);
      body["id"] = id;
      w.inFlight = UsageWorker::IdTrack{id, m, amount};
    }
    w.attempt(m, amount);
    try {
      auto r = round.rest("POST", LIMITS + (track ? "/track" : "/consume"), body);
      if (r.status != 200) return void(failed(round, m + " answered " + r.body));
      auto answer = json::parse(r.body);
      if (track && answer["duplicate"] != false) return void(round.fault("new id duplicate"));
      if (!track && answer["allowed"] != true) return void(round.fault("consume refused"));
    } catch (const std::exception& e) {
      return void(failed(round, m + ": " + e.what()));
    }
    w.acked(m, amount);
    ++round.acks;
  }
}

// RPC through libtenantd-client: tracks with ids, consumes, and reservations settled by commit.
// Two of these share one Client, so their calls also go out as trackBatch/consumeBatch.
void rpcUsage(Round& round, UsageWorker& w, client::Client& client, std::mt19937_64 rng) {
  while (!round.killed.load()) {
    int64_t amount = static_cast<int64_t>(rng() % 5) + 1;
    int kind = static_cast<int>(rng() % 3);
    std::string m = w.metric(kind == 0 ? "tracked" : kind == 1 ? "consumed" : "committed");
    try {
      if (kind == 0) {
        std::string id = w.name + "-" + std::to_string(w.next++);
        w.inFlight = UsageWorker::IdTrack{id, m, amount};
        w.attempt(m, amount);
        auto result = client.track(TENANT, {{"", "crash", m, amount}, id});
        if (result.duplicate) return void(round.fault("new id duplicate over RPC"));
      } else if (kind == 1) {
        w.attempt(m, amount);
        if (!client.consume(TENANT, {"", "crash", m, amount}).allowed) {
          return void(round.fault("consume refused over RPC"));
        }
      } else {
        auto reservation = client.reserve(TENANT, {"", "crash", m, 5}, 60s);
        if (reservation.id.empty()) return void(round.fault("reservation refused"));
        ++round.acks;
        w.attempt(m, amount);
        client.commit(TENANT, reservation.id, amount);
      }
    } catch (const client::Error& e) {
      return void(failed(round, m + ": " + e.what()));
    }
    w.acked(m, amount);
    ++round.acks;
  }
}

// A named value written and deleted by one worker (secrets, roles). nullopt: absent.
struct Named {
  std::optional<std::string> acked;
  bool inFlight = false;
  std::optional<std::string> inFlightValue;

  // Whether `stored` is what an acknowledged or the in-flight write left.
  bool explains(const std::optional<std::string>& stored) const {
    return stored == acked || (inFlight && stored == inFlightValue);
  }
};

// A REST worker over named values only it writes (secrets, roles): each round it picks one and
// deletes it (a quarter of the time, when it exists) or gives it a new value; `send` makes the
// request for that (nullopt: delete).
using SendNamed = std::function<HttpResult(const std::string& name, const Named& before,
                                           const std::optional<std::string>& value)>;
void restNamed(Round& round, std::map<std::string, Named>& values, std::mt19937_64 rng,
               const std::string& what, const SendNamed& send) {
  for (uint64_t n = 0; !round.killed.load(); ++n) {
    auto at = values.begin();
    std::advance(at, static_cast<long>(rng() % values.size()));
    auto& [name, v] = *at;
    bool remove = v.acked && rng() % 4 == 0;
    v.inFlight = true;
    v.inFlightValue = remove ? std::nullopt
                             : std::optional<std::string>("v" + std::to_string(round.number) + "-" +
                                                          std::to_string(n));
    try {
      auto r = send(name, v, v.inFlightValue);
      if (r.status != 200 && r.status != 201) {
        return void(failed(round, what + " " + name + " answered " + r.body));
      }
    } catch (const std::exception& e) {
      return void(failed(round, what + " " + name + ": " + e.what()));
    }
    v.acked = v.inFlightValue;
    v.inFlight = false;
    ++round.acks;
  }
}

void restSecrets(Round& round, std::map<std::string, Named>& secrets, std::mt19937_64 rng) {
  restNamed(round, secrets, rng, "secret", [&](auto& name, auto&, auto& value) {
    return value ? round.rest("POST", "/tenant/secrets", {{"key", name}, {"value", *value}})
                 : round.rest("DELETE", "/tenant/secrets/" + name);
  });
}

// Roles created, changed and deleted; the value is the role's one permission.
void restRoles(Round& round, std::map<std::string, Named>& roles, std::mt19937_64 rng) {
  restNamed(round, roles, rng, "role", [&](auto& name, auto& before, auto& value) {
    if (!value) return round.rest("DELETE", "/tenant/rbac/roles/" + name);
    json permissions = json::array({*value});
    return before.acked
               ? round.rest("PUT", "/tenant/rbac/roles/" + name, {{"permissions", permissions}})
               : round.rest("POST", "/tenant/rbac/roles",
                            {{"name", name}, {"permissions", permissions}});
  });
}

// The tenant config, saved with If-Match on the version this worker last saw.
struct ConfigModel {
  int64_t version = 0;
  json body = json::object();
  std::optional<json> inFlight;
};

void restConfig(Round& round, ConfigModel& config) {
  for (uint64_t n = 0; !round.killed.load(); ++n) {
    json route = {{"path", "/crash/" + std::to_string(round.number) + "/" + std::to_string(n)},
                  {"method", "get"}};
    json body = {{"routes", json::array({route})}};
    config.inFlight = body;
    try {
      auto r = round.rest("POST", "/tenant/config", body,
                          {{"If-Match", "\"" + std::to_string(config.version) + "\""}});
      if (r.status != 200) return void(failed(round, "config save answered " + r.body));
      if (r.headers["etag"] != "\"" + std::to_string(config.version + 1) + "\"") {
        return void(round.fault("config saved as " + r.headers["etag"]));
      }
    } catch (const std::exception& e) {
      return void(failed(round, std::string("config save: ") + e.what()));
    }
    config.version += 1;
    config.body = body;
    config.inFlight.reset();
    ++round.acks;
  }
}

// Admin RPC: tokens created and revoked. At most three stay live.
struct TokenModel {
  struct Token {
    std::string id;
    std::string secret;
  };
  std::vector<Token> live;
  std::vector<Token> revokedThisRound;
};

void rpcTokens(Round& round, TokenModel& tokens) {
  try {
    capnp::EzRpcClient rpc("unix:" + round.socketPath);
    auto& ws = rpc.getWaitScope();
    auto admin = rpc.getMain<rpc::Sidecar>().adminRequest().send().getAdmin();
    while (!round.killed.load()) {
      if (tokens.live.size() >= 3) {
        auto victim = tokens.live.front();
        tokens.live.erase(tokens.live.begin());  // In flight: its outcome is unknown.
        auto revoke = admin.revokeTokenRequest();
        revoke.setTokenId(victim.id);
        revoke.send().wait(ws);
        tokens.revokedThisRound.push_back(victim);
      } else {
        auto create = admin.createTokenRequest();
        create.setTenantId(TENANT);
        create.setRole("reader");
        auto created = create.send().wait(ws);
        tokens.live.push_back({created.getInfo().getId(), created.getToken()});
      }
      ++round.acks;
    }
  } catch (const kj::Exception& e) {
    failed(round, std::string("tokens: ") + e.getDescription().cStr());
  }
}

int64_t storedUsage(const json& rows, const std::string& metric) {
  for (auto& row : rows) {
    if (row["metric"] == metric) return row["current"];
  }
  return -1;
}

}  // namespace

TEST_CASE("Killed at random moments under every kind of write nothing acknowledged is lost") {
  const int rounds = envInt("TENANTD_CRASH_ROUNDS", 20);
  unsigned seed = static_cast<unsigned>(envInt("TENANTD_CRASH_SEED", 0));
  if (seed == 0) seed = std::random_device{}();
  INFO("TENANTD_CRASH_SEED=" << seed);
  std::mt19937_64 rng(seed);

  // A real master key (not --dev's), so that check-db opens every sealed secret too.
  auto writeConfig = [](RunningDaemon& self, const char* sync) {
    std::ofstream(self.dir.file("tenantd.toml"))
        << "[store]\nsync = \"" << sync << "\"\n[secrets]\nkey_file = \""
        << self.dir.file("master.key") << "\"\n";
  };
  RunningDaemon d({"--config", "tenantd.toml"}, [&](RunningDaemon& self) {
    REQUIRE(run(TENANTD_BIN, {"keys", "generate", self.dir.file("master.key")}, self.dir.path())
                .exitCode == 0);
    writeConfig(self, "full");
  });
  std::vector<UsageWorker> usage(3);
  usage[0].name = "rest";
  usage[1].name = "rpc0";
  usage[2].name = "rpc1";
  std::map<std::string, Named> secrets, roles;
  for (auto name : {"CRASH_A", "CRASH_B", "CRASH_C"}) secrets[name];
  for (auto name : {"crash-a", "crash-b", "crash-c"}) roles[name];
  ConfigModel config;
  TokenModel tokens;
  {
    Round setup;
    setup.restUrl = d.restUrl;
    setup.token = d.demoToken();
    auto put = setup.rest("PUT", LIMITS, rulesFor(usage));
    REQUIRE(put.status == 200);
  }

  int totalAcks = 0;
  int inFlightAtKill = 0;  // Writes sent but not answered when the kill landed,
  int landed = 0;          // and those of them the store holds after the restart.
  for (int r = 1; r <= rounds; ++r) {
    Round round;
    round.number = r;
    round.restUrl = d.restUrl;
    round.token = d.demoToken();
    round.socketPath = d.socketPath;
    const int killAfter = 20 + static_cast<int>(rng() % 300);
    {
      client::ClientOptions options;
      options.socketPath = d.socketPath;
      options.timeout = 10s;
      client::Client rpc(options);
      std::vector<std::thread> workers;
      workers.emplace_back(restUsage, std::ref(round), std::ref(usage[0]), std::mt19937_64(rng()));
      workers.emplace_back(rpcUsage, std::ref(round), std::ref(usage[1]), std::ref(rpc),
                           std::mt19937_64(rng()));
      workers.emplace_back(rpcUsage, std::ref(round), std::ref(usage[2]), std::ref(rpc),
                           std::mt19937_64(rng()));
      workers.emplace_back(restSecrets, std::ref(round), std::ref(secrets), std::mt19937_64(rng()));
      workers.emplace_back(restRoles, std::ref(round), std::ref(roles), std::mt19937_64(rng()));
      workers.emplace_back(restConfig, std::ref(round), std::ref(config));
      workers.emplace_back(rpcTokens, std::ref(round), std::ref(tokens));
      // The moment: once this round has its share of acknowledgements, with every worker busy.
      bool exited = false;
      while (round.acks.load() < killAfter) {
        if (d.process->waitForExit(1ms).has_value()) {
          round.fault("tenantd exited by itself: " + d.process->err());
          exited = true;
          break;
        }
        std::lock_guard<std::mutex> lock(round.mutex);
        if (!round.faults.empty()) break;
      }
      round.killed = true;
      if (!exited) {
        d.process->signal(SIGKILL);
        CHECK(d.process->waitForExit(5s) == 128 + SIGKILL);
      }
      for (auto& t : workers) t.join();
    }
    totalAcks += round.acks.load();
    for (auto& f : round.faults) FAIL_CHECK(f);
    REQUIRE(round.faults.empty());

    auto checked = d.cli({"check-db", "--config", d.dir.file("tenantd.toml")});
    INFO("round " << r << " check-db: " << checked.out << checked.err);
    REQUIRE(checked.exitCode == 0);

    // Alternate the durability level: both promise survival of kill -9.
    writeConfig(d, r % 2 ? "normal" : "full");
    d.restart();
    round.restUrl = d.restUrl;
    round.token = d.demoToken();

    // Usage: between what was acknowledged and that plus what was in flight. Then the in-flight
    // id is sent again: counted already, it must be a duplicate; if not, it counts now. Either way
    // the total is exact again.
    auto rows = json::parse(round.rest("GET", LIMITS + "/usage").body);
    for (auto& w : usage) {
      for (auto& [metric, c] : w.counted) {
        int64_t stored = storedUsage(rows, metric);
        INFO("round " << r << " " << metric << " acked " << c.low << " in flight " << c.high - c.low
                      << " stored " << stored);
        REQUIRE(stored >= c.low);
        REQUIRE(stored <= c.high);
        if (c.high > c.low) ++inFlightAtKill;
        if (stored > c.low) ++landed;
        c.low = c.high = stored;
      }
      if (w.inFlight) {
        auto again = round.rest("POST", LIMITS + "/track",
                                {{"resource", "crash"},
                                 {"metric", w.inFlight->metric},
                                 {"amount", w.inFlight->amount},
                                 {"id", w.inFlight->id}});
        REQUIRE(again.status == 200);
        if (json::parse(again.body)["duplicate"] == false) {
          w.counted[w.inFlight->metric].low += w.inFlight->amount;
          w.counted[w.inFlight->metric].high += w.inFlight->amount;
        }
        w.inFlight.reset();
      }
      // The acknowledged ids are known: sending one again changes nothing.
      for (auto& t : w.ackedThisRound) {
        auto again = round.rest(
            "POST", LIMITS + "/track",
            {{"resource", "crash"}, {"metric", t.metric}, {"amount", t.amount}, {"id", t.id}});
        INFO("round " << r << " acknowledged id " << t.id);
        REQUIRE(json::parse(again.body)["duplicate"] == true);
      }
      w.ackedThisRound.clear();
    }
    rows = json::parse(round.rest("GET", LIMITS + "/usage").body);
    for (auto& w : usage) {
      for (auto& [metric, c] : w.counted) REQUIRE(storedUsage(rows, metric) == c.low);
    }

    // Secrets open to the last acknowledged value, or to the one in flight.
    {
      client::ClientOptions options;
      options.socketPath = d.socketPath;
      options.timeout = 10s;
      client::Client rpc(options);
      for (auto& [key, s] : secrets) {
        std::optional<std::string> stored;
        try {
          stored = rpc.getSecret(TENANT, key).value;
        } catch (const client::Error& e) {
          REQUIRE(e.kind() == client::ErrorKind::NOT_FOUND);
        }
        INFO("round " << r << " secret " << key << " acked " << s.acked.value_or("(none)")
                      << " stored " << stored.value_or("(none)"));
        REQUIRE(s.explains(stored));
        if (s.inFlight) ++inFlightAtKill;
        if (stored != s.acked) ++landed;
        s.acked = stored;
        s.inFlight = false;
      }
    }

    // Roles likewise.
    auto rbac = json::parse(round.rest("GET", "/tenant/rbac").body);
    for (auto& [name, role] : roles) {
      std::optional<std::string> stored;
      for (auto& listed : rbac["roles"]) {
        if (listed["name"] == name) stored = listed["permissions"][0].get<std::string>();
      }
      INFO("round " << r << " role " << name);
      REQUIRE(role.explains(stored));
      if (role.inFlight) ++inFlightAtKill;
      if (stored != role.acked) ++landed;
      role.acked = stored;
      role.inFlight = false;
    }

    // The config: the acknowledged version with its body, or the one in flight after it.
    auto saved = round.rest("GET", "/tenant/config");
    REQUIRE(saved.status == 200);
    int64_t version = std::stoll(saved.headers["etag"].substr(1));
    json body = json::parse(saved.body);
    INFO("round " << r << " config acked v" << config.version << " stored v" << version);
    if (config.inFlight) ++inFlightAtKill;
    if (version == config.version) {
      REQUIRE(body == config.body);
    } else {
      REQUIRE(config.inFlight);
      REQUIRE(version == config.version + 1);
      REQUIRE(body == *config.inFlight);
      ++landed;
    }
    config.version = version;
    config.body = body;
    config.inFlight.reset();

    // Tokens: the live ones authenticate, the revoked ones no longer do.
    for (auto& t : tokens.live) {
      auto info =
          httpRequest("GET", d.restUrl + "/tenant/info", {{"Authorization", "Bearer " + t.secret}});
      INFO("round " << r << " live token " << t.id);
      REQUIRE(info.status == 200);
    }
    for (auto& t : tokens.revokedThisRound) {
      auto info =
          httpRequest("GET", d.restUrl + "/tenant/info", {{"Authorization", "Bearer " + t.secret}});
      INFO("round " << r << " revoked token " << t.id);
      REQUIRE(info.status == 401);
    }
    tokens.revokedThisRound.clear();
  }
  // The figures docs/RELIABILITY.md quotes.
  std::cout << "crash driver: " << rounds << " rounds (seed " << seed << "), " << totalAcks
            << " acknowledged writes, all present; " << inFlightAtKill
            << " writes in flight at the kills, " << landed << " of them applied\n";
  CHECK(totalAcks >= rounds * 20);
  d.process->signal(SIGTERM);
  CHECK(d.process->waitForExit(10s) == 0);
  CHECK(d.cli({"check-db", "--config", d.dir.file("tenantd.toml")}).exitCode == 0);
}

}  // namespace tenantd::testing
