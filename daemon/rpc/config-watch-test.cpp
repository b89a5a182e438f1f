#include "config-watch.h"

#include <catch2/catch.hpp>

#include "rpc/rpc-fixture.h"

namespace tenantd {

namespace {
using testing::RpcFixture;

// The app's side: records every changed() call; can hold calls open (a slow watcher) or fail.
struct WatcherLog {
  std::vector<std::pair<std::string, uint64_t>> calls;
  bool hold = false;
  bool fail = false;
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> held;
};

class RecordingWatcher final : public rpc::ConfigWatcher::Server {
public:
  explicit RecordingWatcher(WatcherLog& log) : log_(log) {}

protected:
  kj::Promise<void> changed(ChangedContext context) override {
    auto params = context.getParams();
    log_.calls.emplace_back(params.getJson().cStr(), params.getVersion());
    if (log_.fail) throwRpcError("unavailable", "this watcher is broken");
    if (!log_.hold) return kj::READY_NOW;
    auto paf = kj::newPromiseAndFulfiller<void>();
    log_.held.push_back(kj::mv(paf.fulfiller));
    return kj::mv(paf.promise);
  }

private:
  WatcherLog& log_;
};

rpc::WatchHandle::Client watch(rpc::Tenant::Client tenant, WatcherLog& log, RpcFixture& f) {
  auto request = tenant.watchConfigRequest();
  request.setWatcher(kj::heap<RecordingWatcher>(log));
  auto response = request.send().wait(f.io.waitScope);
  return response.getHandle();
}

// One round trip on the main connection: whatever the server sent before has arrived.
void roundTrip(RpcFixture& f) {
  f.sidecar().healthRequest().send().wait(f.io.waitScope);
}

const nlohmann::json CACHE_5 = {{"cache", {{"ttl", 5}}}};
}  // namespace

TEST_CASE("watchConfig delivers the current config at once, then each change of that tenant") {
  RpcFixture f;
  f.stack.saveConfig("t1", CACHE_5);
  WatcherLog log;
  auto handle = watch(f.tenant("t1"), log, f);
  REQUIRE(f.waitUntil([&]() { return log.calls.size() == 1; }));
  CHECK(log.calls[0] == std::make_pair(CACHE_5.dump(), uint64_t{1}));
  CHECK(f.settings->configWatchers() == 1);

  f.stack.saveConfig("t2", CACHE_5);  // Another tenant: not this watcher's business.
  f.stack.saveConfig("t1", nlohmann::json::object());
  REQUIRE(f.waitUntil([&]() { return log.calls.size() == 2; }));
  CHECK(log.calls[1] == std::make_pair(std::string("{}"), uint64_t{2}));
  roundTrip(f);
  CHECK(log.calls.size() == 2);
}

TEST_CASE("A slow watcher has one call in flight and then gets only the latest version") {
  RpcFixture f;
  WatcherLog log;
  log.hold = true;
  auto handle = watch(f.tenant("t1"), log, f);
  REQUIRE(f.waitUntil([&]() { return log.calls.size() == 1; }));
  CHECK(log.calls[0].second == 0);
  for (int i = 1; i <= 3; ++i) f.stack.saveConfig("t1", {{"cache", {{"ttl", i}}}});
  roundTrip(f);
  CHECK(log.calls.size() == 1);  // Still in flight: nothing more was sent.

  log.hold = false;
  log.held[0]->fulfill();
  REQUIRE(f.waitUntil([&]() { return log.calls.size() == 2; }));
  CHECK(log.calls[1].second == 3);  // Versions 1 and 2 were coalesced away.
  CHECK(log.calls[1].first == R"({"cache":{"ttl":3}})");
  roundTrip(f);
  roundTrip(f);
  CHECK(log.calls.size() == 2);  // Version 3 was answered; nothing newer to send.

  f.stack.saveConfig("t1", CACHE_5);
  REQUIRE(f.waitUntil([&]() { return log.calls.size() == 3; }));
  CHECK(log.calls[2].second == 4);
}

TEST_CASE("Dropping the watch handle ends the watch on the server") {
  RpcFixture f;
  WatcherLog log;
  kj::Maybe<rpc::WatchHandle::Client> handle = watch(f.tenant("t1"), log, f);
  REQUIRE(f.waitUntil([&]() { return log.calls.size() == 1; }));
  CHECK(f.settings->configWatchers() == 1);
  handle = nullptr;
  REQUIRE(f.waitUntil([&]() { return f.settings->configWatchers() == 0; }));
  f.stack.saveConfig("t1", CACHE_5);
  roundTrip(f);
  CHECK(log.calls.size() == 1);
}

TEST_CASE("A watch ends when its changed() call fails") {
  RpcFixture f;
  WatcherLog log;
  log.fail = true;
  auto handle = watch(f.tenant("t1"), log, f);
  REQUIRE(f.waitUntil([&]() { return log.calls.size() == 1; }));
  REQUIRE(f.waitUntil([&]() { return f.settings->configWatchers() == 0; }));
  log.fail = false;
  f.stack.saveConfig("t1", CACHE_5);
  roundTrip(f);
  CHECK(log.calls.size() == 1);
}

TEST_CASE("Closing the connection ends every watch it held") {
  RpcFixture f;
  auto app = f.connect();
  WatcherLog log;
  {
    auto tenant = app.sidecar().tenantRequest();
    tenant.setId("t1");
    kj::Maybe<rpc::WatchHandle::Client> first = watch(tenant.send().getTenant(), log, f);
    kj::Maybe<rpc::WatchHandle::Client> second = watch(f.tenant("t2"), log, f);
    (void)first;
    REQUIRE(f.waitUntil([&]() { return log.calls.size() == 2; }));
    CHECK(f.settings->configWatchers() == 2);
    // The app's end goes away (as when its process exits); its handle is never dropped.
    app.stream->shutdownWrite();
    REQUIRE(f.waitUntil([&]() { return f.settings->configWatchers() == 1; }));
    second = nullptr;  // On the main connection: still served.
    REQUIRE(f.waitUntil([&]() { return f.settings->configWatchers() == 0; }));
  }
  app.close();
}

TEST_CASE(
    "A connection holds at most MAX_PER_CONNECTION watches, and others are not limited by it") {
  RpcFixture f;
  auto app = f.connect();
  auto appTenant = [&]() {
    auto request = app.sidecar().tenantRequest();
    request.setId("t1");
    return request.send().getTenant();
  };
  WatcherLog log;
  {
    std::vector<rpc::WatchHandle::Client> handles;
    for (uint32_t i = 0; i < WatchBudget::MAX_PER_CONNECTION; ++i) {
      handles.push_back(watch(appTenant(), log, f));
    }
    REQUIRE(f.waitUntil([&]() { return log.calls.size() == WatchBudget::MAX_PER_CONNECTION; }));
    // One more on the same connection, through a new Tenant capability too: refused.
    auto refused = appTenant().watchConfigRequest();
    refused.setWatcher(kj::heap<RecordingWatcher>(log));
    CHECK(f.errorOf(refused.send().ignoreResult()).find("overloaded:") != std::string::npos);
    CHECK(f.settings->configWatchers() == WatchBudget::MAX_PER_CONNECTION);
    // Another connection has its own budget.
    auto other = watch(f.tenant("t1"), log, f);
    REQUIRE(f.waitUntil(
        [&]() { return f.settings->configWatchers() == WatchBudget::MAX_PER_CONNECTION + 1; }));
    // Dropping one of the app's watches gives its slot back.
    handles.pop_back();
    REQUIRE(f.waitUntil(
        [&]() { return f.settings->configWatchers() == WatchBudget::MAX_PER_CONNECTION; }));
    handles.push_back(watch(appTenant(), log, f));
    CHECK(f.settings->configWatchers() == WatchBudget::MAX_PER_CONNECTION + 1);
  }
  REQUIRE(f.waitUntil([&]() { return f.settings->configWatchers() == 0; }));
  app.close();
}

TEST_CASE("Watches of unknown tenants are refused") {
  RpcFixture f;
  WatcherLog log;
  auto request = f.tenant("nobody").watchConfigRequest();
  request.setWatcher(kj::heap<RecordingWatcher>(log));
  CHECK(f.errorOf(request.send().ignoreResult()).find("not-found:") != std::string::npos);
  CHECK(f.settings->configWatchers() == 0);
}

}  // namespace tenantd
