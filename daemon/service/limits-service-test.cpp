#include "limits-service.h"

#include <catch2/catch.hpp>

#include "testing/service-stack.h"

namespace tenantd {

// New rules install in two halves: a writer job stores them and reads the usage they count
// (the snapshot), then the event-loop thread swaps them in and replays the usage recorded since
// the snapshot was taken. These tests hold the event loop between the halves by not waiting.

namespace {
NewRules apiCallsPerDay(int64_t limit) {
  return newRules({Rule{"api", "calls", Period::DAY, limit, {}, GateAction::BLOCK, Scope::TENANT}});
}

TrackRequest apiCalls(const char* user, int64_t amount) {
  return TrackRequest{UsageRequest{user, "api", "calls", amount}, "", std::nullopt};
}

// The api.calls usage the tenant's one rule counts now, and that rule's limit.
RuleUsage apiUsage(testing::ServiceStack& s, TenantState& t) {
  auto usage = s.limits->usage(t, "");
  REQUIRE(usage.size() == 1);
  return usage[0];
}

// A store that refuses writes to the tenant's rules, as a full disk would.
void refuseRuleWrites(testing::ServiceStack& s) {
  Db db(s.path, {});
  db.exec(
      "CREATE TRIGGER refuse_rules_insert BEFORE INSERT ON tenant_rules "
      "BEGIN SELECT RAISE(ABORT, 'refused by test'); END;"
      "CREATE TRIGGER refuse_rules_update BEFORE UPDATE ON tenant_rules "
      "BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
}

void allowRuleWrites(testing::ServiceStack& s) {
  Db db(s.path, {});
  db.exec("DROP TRIGGER refuse_rules_insert; DROP TRIGGER refuse_rules_update");
}
}  // namespace

TEST_CASE("Usage tracked while new rules install counts once on them") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");
  s.limits->track(t, apiCalls("u1", 5)).wait(ws);

  auto installed = s.limits->putRules(t, apiCallsPerDay(100), "test");
  // The snapshot job is queued but has not run: this track is after it.
  auto tracked = s.limits->track(t, apiCalls("u1", 3));
  REQUIRE(t.sinceRulesSnapshot);
  CHECK(t.sinceRulesSnapshot->size() == 1);

  auto version = installed.wait(ws);
  REQUIRE(version);
  CHECK(*version == 1);
  CHECK_FALSE(t.sinceRulesSnapshot);
  tracked.wait(ws);
  // 5 from the snapshot, 3 replayed; neither twice.
  CHECK(apiUsage(s, t).current == 8);
  CHECK(apiUsage(s, t).limit == 100);
  CHECK(t.rulesVersion == 1);
}

TEST_CASE("A second update during an install is refused, and the first one lands") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");

  auto first = s.limits->putRules(t, apiCallsPerDay(100), "test");
  auto second = s.limits->putRules(t, apiCallsPerDay(7), "test").wait(ws);
  CHECK_FALSE(second);
  auto version = first.wait(ws);
  REQUIRE(version);
  CHECK(*version == 1);
  CHECK(apiUsage(s, t).limit == 100);
  CHECK(t.rulesJson == apiCallsPerDay(100).json);

  // Once installed, the next update goes through.
  auto third = s.limits->putRules(t, apiCallsPerDay(7), "test").wait(ws);
  REQUIRE(third);
  CHECK(*third == 2);
  CHECK(apiUsage(s, t).limit == 7);
}

TEST_CASE("A failed snapshot keeps the old rules and clears the replay") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");
  REQUIRE(s.limits->putRules(t, apiCallsPerDay(100), "test").wait(ws) == 1);
  std::string oldJson = t.rulesJson;
  s.limits->track(t, apiCalls("u1", 5)).wait(ws);

  refuseRuleWrites(s);
  auto refused = s.limits->putRules(t, apiCallsPerDay(1), "test");
  auto tracked = s.limits->track(t, apiCalls("u1", 2));
  REQUIRE(t.sinceRulesSnapshot);
  CHECK_THROWS_WITH(refused.wait(ws), Catch::Contains("refused by test"));
  tracked.wait(ws);

  CHECK_FALSE(t.sinceRulesSnapshot);
  CHECK(t.rulesVersion == 1);
  CHECK(t.rulesJson == oldJson);
  CHECK(apiUsage(s, t).limit == 100);
  CHECK(apiUsage(s, t).current == 7);  // The track during the failed install counted once.

  // Nothing is left installing: the next update is not refused, and counts the stored usage.
  allowRuleWrites(s);
  auto version = s.limits->putRules(t, apiCallsPerDay(50), "test").wait(ws);
  REQUIRE(version);
  CHECK(*version == 2);
  CHECK(apiUsage(s, t).limit == 50);
  CHECK(apiUsage(s, t).current == 7);
}

TEST_CASE("Usage consumed while new rules install is replayed onto them") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");

  auto installed = s.limits->putRules(t, apiCallsPerDay(10), "test");
  // No rules yet: allowed, and counted by no rule until the new ones land.
  auto consumed = s.limits->consume(t, UsageRequest{"u1", "api", "calls", 4});
  REQUIRE(t.sinceRulesSnapshot);
  CHECK(t.sinceRulesSnapshot->size() == 1);
  REQUIRE(installed.wait(ws) == 1);
  CHECK(consumed.wait(ws).allowed);

  CHECK(apiUsage(s, t).current == 4);
  // The replayed 4 count against the new limit of 10.
  CHECK_FALSE(s.limits->consume(t, UsageRequest{"u1", "api", "calls", 7}).wait(ws).allowed);
  CHECK(s.limits->consume(t, UsageRequest{"u1", "api", "calls", 6}).wait(ws).allowed);
  CHECK(apiUsage(s, t).current == 10);
}

TEST_CASE("Usage whose commit fails during an install is not replayed") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");
  {
    Db db(s.path, {});
    db.exec(
        "CREATE TRIGGER refuse_doomed BEFORE INSERT ON usage WHEN NEW.user_id = 'doomed' "
        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
  }

  auto installed = s.limits->putRules(t, apiCallsPerDay(100), "test");
  auto doomed = s.limits->track(t, apiCalls("doomed", 3));
  auto fine = s.limits->track(t, apiCalls("fine", 2));
  REQUIRE(t.sinceRulesSnapshot);
  CHECK(t.sinceRulesSnapshot->size() == 2);
  // Whether the refused track is undone before or after the replay, it must not count.
  REQUIRE(installed.wait(ws) == 1);
  CHECK_THROWS_WITH(doomed.wait(ws), Catch::Contains("refused by test"));
  fine.wait(ws);
  CHECK(apiUsage(s, t).current == 2);
}

TEST_CASE("A retried track id waits for the first commit and leaves nothing behind") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");
  s.limits->putRules(t, apiCallsPerDay(100), "test").wait(ws);
  auto withId = [](const char* user, const char* id) {
    TrackRequest r = apiCalls(user, 4);
    r.id = id;
    return r;
  };

  // The retry arrives while the first is still committing: answered after it, as a duplicate.
  auto first = s.limits->track(t, withId("u1", "a"));
  auto retry = s.limits->track(t, withId("u1", "a"));
  CHECK(t.committingIds.size() == 1);
  CHECK_FALSE(first.wait(ws).duplicate);
  CHECK(retry.wait(ws).duplicate);
  // Both answers taken together, as trackBatch does: the retry must not wait for its own batch.
  kj::Vector<kj::Promise<TrackResult>> joined;
  joined.add(s.limits->track(t, withId("u1", "c")));
  joined.add(s.limits->track(t, withId("u1", "c")));
  auto both = kj::joinPromises(joined.releaseAsArray()).wait(ws);
  CHECK_FALSE(both[0].duplicate);
  CHECK(both[1].duplicate);
  // After the commit: a duplicate at once, and no entry kept for the id (each used to stay).
  CHECK(t.committingIds.empty());
  CHECK(s.limits->track(t, withId("u1", "a")).wait(ws).duplicate);
  CHECK(apiUsage(s, t).current == 8);

  // A first track whose commit fails fails its waiting retry too, and a later retry counts.
  {
    Db db(s.path, {});
    db.exec(
        "CREATE TRIGGER refuse_doomed BEFORE INSERT ON usage WHEN NEW.user_id = 'doomed' "
        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
  }
  auto doomed = s.limits->track(t, withId("doomed", "b"));
  auto doomedRetry = s.limits->track(t, withId("doomed", "b"));
  CHECK_THROWS_WITH(doomed.wait(ws), Catch::Contains("refused by test"));
  CHECK_THROWS_WITH(doomedRetry.wait(ws), Catch::Contains("refused by test"));
  CHECK(t.committingIds.empty());
  CHECK_FALSE(s.limits->track(t, withId("u1", "b")).wait(ws).duplicate);
  CHECK(apiUsage(s, t).current == 12);
}

TEST_CASE("trackBatch answers each item as track would, refusals alone") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");
  s.limits->putRules(t, apiCallsPerDay(100), "test").wait(ws);
  {
    Db db(s.path, {});
    db.exec(
        "CREATE TRIGGER refuse_doomed BEFORE INSERT ON usage WHEN NEW.user_id = 'doomed' "
        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
  }
  auto item = [](const char* user, int64_t amount, const char* id) {
    TrackRequest r = apiCalls(user, amount);
    r.id = id;
    return r;
  };
  s.limits->track(t, item("u1", 1, "old")).wait(ws);

  std::vector<TrackRequest> batch;
  batch.push_back(item("u1", 2, ""));
  batch.push_back(item("doomed", 4, "d"));  // Its write fails: refused alone, its id forgotten.
  batch.push_back(item("u2", 8, "x"));
  batch.push_back(item("u2", 8, "x"));     // A retry of the item before it, in the same batch.
  batch.push_back(item("u1", 16, "old"));  // Already counted before this batch.
  auto outcomes = s.limits->trackBatch(t, std::move(batch)).wait(ws);
  REQUIRE(outcomes.size() == 5);
  for (size_t i : {0, 2, 3, 4}) {
    INFO("item " << i);
    CHECK(outcomes[i].result != nullptr);
    CHECK(outcomes[i].refused == nullptr);
  }
  CHECK_FALSE(KJ_ASSERT_NONNULL(outcomes[0].result).duplicate);
  CHECK_FALSE(KJ_ASSERT_NONNULL(outcomes[2].result).duplicate);
  CHECK(KJ_ASSERT_NONNULL(outcomes[3].result).duplicate);
  CHECK(KJ_ASSERT_NONNULL(outcomes[4].result).duplicate);
  CHECK(outcomes[1].result == nullptr);
  CHECK_THAT(std::string(KJ_ASSERT_NONNULL(outcomes[1].refused).getDescription().cStr()),
             Catch::Contains("refused by test"));
  // 1 before, then 2 and 8: the refused 4 and the two duplicates not counted.
  CHECK(apiUsage(s, t).current == 11);
  CHECK(t.committingIds.empty());
  CHECK_FALSE(t.trackIds.holds("d"));
  CHECK(t.trackIds.holds("x"));
}

}  // namespace tenantd
