// End to end: the Admin capability and config watches through the real daemon, over its real
// socket. What Admin creates is served by REST at once; what REST saves reaches RPC watchers.

#include <capnp/ez-rpc.h>
#include <kj/async-io.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "tenantd.capnp.h"

namespace tenantd::testing {

using nlohmann::json;

namespace {
HttpResult call(RunningDaemon& d, const std::string& token, const std::string& method,
                const std::string& path, const std::string& body = "") {
  std::map<std::string, std::string> headers{{"Authorization", "Bearer " + token}};
  if (!body.empty()) headers.emplace("Content-Type", "application/json");
  return httpRequest(method, d.restUrl + path, headers, body);
}

// Counts changed() calls and wakes the test on each.
struct Changes {
  std::vector<std::pair<std::string, uint64_t>> seen;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> waiter;
};

class Watcher final : public rpc::ConfigWatcher::Server {
public:
  explicit Watcher(Changes& changes) : changes_(changes) {}

protected:
  kj::Promise<void> changed(ChangedContext context) override {
    changes_.seen.emplace_back(context.getParams().getJson().cStr(),
                               context.getParams().getVersion());
    KJ_IF_MAYBE (w, changes_.waiter) {
      (*w)->fulfill();
      changes_.waiter = nullptr;
    }
    return kj::READY_NOW;
  }

private:
  Changes& changes_;
};

// Waits (at most 10 s) until `changes` holds `count` calls.
void waitFor(capnp::EzRpcClient& client, Changes& changes, size_t count) {
  while (changes.seen.size() < count) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    changes.waiter = kj::mv(paf.fulfiller);
    bool arrived =
        paf.promise.then([]() { return true; })
            .exclusiveJoin(
                client.getIoProvider().getTimer().afterDelay(10 * kj::SECONDS).then([]() {
                  return false;
                }))
            .wait(client.getWaitScope());
    REQUIRE(arrived);
  }
}
}  // namespace

TEST_CASE("A tenant and token created over Admin RPC are served over REST at once") {
  RunningDaemon d;
  capnp::EzRpcClient client("unix:" + d.socketPath);
  auto& ws = client.getWaitScope();
  auto admin = client.getMain<rpc::Sidecar>().adminRequest().send().getAdmin();

  auto create = admin.createTenantRequest();
  create.setId("acme");
  create.setName("Acme Corp");
  create.setPlan("pro");
  create.send().wait(ws);
  auto token = admin.createTokenRequest();
  token.setTenantId("acme");
  token.setRole("admin");
  std::string secret = token.send().wait(ws).getToken();

  auto info = call(d, secret, "GET", "/tenant/info");
  REQUIRE(info.status == 200);
  CHECK(json::parse(info.body)["name"] == "Acme Corp");

  auto setConfig = admin.setConfigRequest();
  setConfig.setTenantId("acme");
  setConfig.setJson(R"({"cache":{"ttl":60}})");
  CHECK(setConfig.send().wait(ws).getVersion() == 1);
  auto config = call(d, secret, "GET", "/tenant/config");
  CHECK(json::parse(config.body) == json{{"cache", {{"ttl", 60}}}});
  CHECK(config.headers["etag"] == "\"1\"");

  auto status = admin.statusRequest().send().wait(ws);
  CHECK(status.getStatus().getReady());
  CHECK(status.getStatus().getSocketPath() == d.socketPath);
  CHECK("http://" + std::string(status.getStatus().getRestListen().cStr()) == d.restUrl);
  CHECK(status.getStatus().getTenants() == 2);  // The demo tenant and acme.
  CHECK(status.getStatus().getRpcConnections() == 1);
}

TEST_CASE("A config saved over REST reaches an RPC config watcher") {
  RunningDaemon d;
  capnp::EzRpcClient client("unix:" + d.socketPath);
  auto request = client.getMain<rpc::Sidecar>().tenantRequest();
  request.setId("tenant-123");
  auto watch = request.send().getTenant().watchConfigRequest();
  Changes changes;
  watch.setWatcher(kj::heap<Watcher>(changes));
  auto handle = watch.send().getHandle();
  waitFor(client, changes, 1);
  CHECK(changes.seen[0] == std::make_pair(std::string("{}"), uint64_t{0}));

  auto saved = call(d, d.demoToken(), "POST", "/tenant/config", R"({"cache":{"ttl":5}})");
  REQUIRE(saved.status == 200);
  waitFor(client, changes, 2);
  CHECK(changes.seen[1] == std::make_pair(std::string(R"({"cache":{"ttl":5}})"), uint64_t{1}));
}

}  // namespace tenantd::testing
