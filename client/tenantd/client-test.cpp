#include "tenantd/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "tenantd/client-testing.h"

namespace tenantd::client {

using testing::kindOf;
using testing::messageOf;
using testing::ServerEnv;
using namespace std::chrono_literals;

namespace {
const Usage API_CALL{"", "api", "calls", 1};

void limitApiCalls(ServerEnv& env, int64_t limit) {
  env.limit("t1", "api", "calls", limit);
}

// A Unix socket that takes connections into its backlog and never answers.
struct SilentSocket {
  int fd = -1;
  std::string path;
  explicit SilentSocket(std::string socketPath) : path(std::move(socketPath)) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(fd, 16) == 0);
  }
  ~SilentSocket() { close(fd); }
  // A client of this socket whose calls time out after `timeout`.
  ClientOptions options(std::chrono::milliseconds timeout) const {
    ClientOptions o;
    o.socketPath = path;
    o.timeout = timeout;
    return o;
  }
  // The next connection, once it has sent something (a call is in flight); -1 at the deadline.
  int acceptWithRequest() {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10'000) != 1) return -1;
    int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    pollfd q{conn, POLLIN, 0};
    if (poll(&q, 1, 10'000) != 1) {
      close(conn);
      return -1;
    }
    return conn;
  }
};
}  // namespace

TEST_CASE("Client.health answers from the daemon") {
  ServerEnv env;
  Client client(env.options());
  Health h = client.health();
  CHECK(h.status == "ok");
  CHECK_FALSE(h.version.empty());
}

TEST_CASE("Client.check and consume answer with the tenant's rule") {
  ServerEnv env;
  limitApiCalls(env, 2);
  Client client(env.options());
  CHECK(client.consume("t1", API_CALL).allowed);
  CHECK(client.consume("t1", API_CALL).allowed);
  Decision over = client.consume("t1", API_CALL);
  CHECK_FALSE(over.allowed);
  Decision d = client.check("t1", API_CALL);
  CHECK_FALSE(d.allowed);
  CHECK(d.matched);
  CHECK(d.current == 2);
  CHECK(d.limit == 2);
  CHECK(d.remaining == 0);
  CHECK(d.gateAction == "block");
  CHECK(d.period == "day");
  CHECK(d.scope == "tenant");
  CHECK(d.resetAtMs > 0);
  // Another tenant is untouched, and a resource without rules is allowed and unmatched.
  CHECK(client.check("t2", API_CALL).allowed);
  Decision free = client.check("t1", Usage{"", "other", "calls", 5});
  CHECK(free.allowed);
  CHECK_FALSE(free.matched);
}

TEST_CASE("Client.track records usage once per id and reports every rule") {
  ServerEnv env;
  limitApiCalls(env, 100);
  Client client(env.options());
  TrackResult first = client.track("t1", TrackRequest{{"u1", "api", "calls", 5}, "req-1"});
  CHECK_FALSE(first.duplicate);
  REQUIRE(first.usage.size() == 1);
  CHECK(first.usage[0].resource == "api");
  CHECK(first.usage[0].metric == "calls");
  CHECK(first.usage[0].current == 5);
  CHECK(first.usage[0].limit == 100);
  TrackResult again = client.track("t1", TrackRequest{{"u1", "api", "calls", 5}, "req-1"});
  CHECK(again.duplicate);
  CHECK(client.check("t1", API_CALL).current == 5);
  TrackResult noId = client.track("t1", TrackRequest{{"", "api", "calls", 2}});
  CHECK(noId.usage[0].current == 7);
}

TEST_CASE("Client.reserve holds capacity until commit or release settles it once") {
  ServerEnv env;
  limitApiCalls(env, 10);
  Client client(env.options());
  Reservation held = client.reserve("t1", Usage{"", "api", "calls", 8}, 60s);
  REQUIRE(held.decision.allowed);
  REQUIRE_FALSE(held.id.empty());
  CHECK_FALSE(client.check("t1", Usage{"", "api", "calls", 3}).allowed);
  client.commit("t1", held.id, 4);
  CHECK(client.check("t1", API_CALL).current == 4);
  CHECK(kindOf([&] { client.commit("t1", held.id, 4); }) == ErrorKind::NOT_FOUND);

  Reservation other = client.reserve("t1", Usage{"", "api", "calls", 6});
  REQUIRE(other.decision.allowed);
  client.release("t1", other.id);
  CHECK(kindOf([&] { client.release("t1", other.id); }) == ErrorKind::NOT_FOUND);
  CHECK(client.check("t1", Usage{"", "api", "calls", 6}).allowed);
  Reservation refused = client.reserve("t1", Usage{"", "api", "calls", 7});
  CHECK_FALSE(refused.decision.allowed);
  CHECK(refused.id.empty());
}

TEST_CASE("Client.getSecret returns the latest value and version as bytes") {
  ServerEnv env;
  std::string binary("a\0b\xff", 4);
  env.secret("t1", "K", "first");
  env.secret("t1", "K", binary);
  Client client(env.options());
  Secret secret = client.getSecret("t1", "K");
  CHECK(secret.value == binary);
  CHECK(secret.version == 2);
  CHECK(kindOf([&] { client.getSecret("t1", "MISSING"); }) == ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.getSecret("t2", "K"); }) == ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.getSecret("t1", "no/slash"); }) == ErrorKind::INVALID_ARGUMENT);
}

TEST_CASE("Unknown tenants are not-found for every method and the lookup is retried later") {
  ServerEnv env;
  Client client(env.options());
  CHECK(kindOf([&] { client.check("nobody", API_CALL); }) == ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.track("nobody", {API_CALL}); }) == ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.consume("nobody", API_CALL); }) == ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.reserve("nobody", API_CALL); }) == ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.getSecret("nobody", "K"); }) == ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.check("bad id", API_CALL); }) == ErrorKind::INVALID_ARGUMENT);
  // Each failed lookup was forgotten; a good tenant's capability is obtained once.
  uint64_t before = client.stats().tenantLookups;
  for (int i = 0; i < 5; ++i) client.check("t1", API_CALL);
  CHECK(kindOf([&] { client.getSecret("t1", "K"); }) == ErrorKind::NOT_FOUND);
  CHECK(client.stats().tenantLookups == before + 1);
}

TEST_CASE("Bad requests are refused locally with invalid-argument and nothing is sent") {
  ServerEnv env;
  Client client(env.options());
  CHECK(kindOf([&] {
          client.check("t1", Usage{"", "API", "calls", 1});
        }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([&] {
          client.consume("t1", Usage{"", "api", "calls", 0});
        }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([&] {
          client.track("t1", TrackRequest{API_CALL, std::string(200, 'x')});
        }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(client.stats().rpcCalls == 0);
  // The daemon checks what is not batched.
  CHECK(kindOf([&] {
          client.reserve("t1", Usage{"", "API", "calls", 1});
        }) == ErrorKind::INVALID_ARGUMENT);
}

TEST_CASE("A call the daemon never answers fails with timeout after its timeout") {
  tenantd::testing::TempDir dir;
  SilentSocket silent(dir.file("silent.sock"));
  Client client(silent.options(100ms));
  // The message names the timeout that fired, so no wall clock is needed to tell them apart.
  CHECK(kindOf([&] { client.check("t1", API_CALL); }) == ErrorKind::TIMEOUT);
  CHECK(messageOf([&] { client.check("t1", API_CALL); }) == "no answer within 100 ms");
  CHECK(kindOf([&] { client.health(); }) == ErrorKind::TIMEOUT);
  CHECK(kindOf([&] { client.getSecret("t1", "K"); }) == ErrorKind::TIMEOUT);
  // A call's own timeout wins over the client's.
  CHECK(kindOf([&] { client.health(5ms); }) == ErrorKind::TIMEOUT);
  CHECK(messageOf([&] { client.health(5ms); }) == "no answer within 5 ms");
}

TEST_CASE("A call in flight when the connection drops fails with disconnected, unretried") {
  tenantd::testing::TempDir dir;
  SilentSocket server(dir.file("s.sock"));
  Client client(server.options(20s));
  auto pending = std::async(std::launch::async, [&] {
    return kindOf([&] { client.track("t1", TrackRequest{API_CALL}); });
  });
  int conn = server.acceptWithRequest();
  REQUIRE(conn >= 0);
  close(conn);
  CHECK(pending.get() == ErrorKind::DISCONNECTED);
  ClientStats stats = client.stats();
  CHECK(stats.connectAttempts == 1);
  CHECK(stats.rpcCalls == 1);
}

TEST_CASE("Without a daemon calls fail fast with unavailable while the client backs off") {
  tenantd::testing::TempDir dir;
  ClientOptions options;
  options.socketPath = dir.file("nobody.sock");
  options.minReconnectBackoff = 60s;
  options.maxReconnectBackoff = 60s;
  Client client(options);
  CHECK(kindOf([&] { client.check("t1", API_CALL); }) == ErrorKind::UNAVAILABLE);
  for (int i = 0; i < 20; ++i) {
    CHECK(kindOf([&] { client.health(); }) == ErrorKind::UNAVAILABLE);
  }
  CHECK(client.stats().connectAttempts == 1);

  ClientOptions eager = options;
  eager.minReconnectBackoff = eager.maxReconnectBackoff = 0ms;
  Client tryEveryTime(eager);
  for (int i = 0; i < 3; ++i) {
    CHECK(kindOf([&] { tryEveryTime.health(); }) == ErrorKind::UNAVAILABLE);
  }
  CHECK(tryEveryTime.stats().connectAttempts == 3);
}

TEST_CASE("After the daemon restarts the next call reconnects and tracked usage is kept") {
  ServerEnv env;
  limitApiCalls(env, 100);
  ClientOptions options = env.options();
  options.minReconnectBackoff = options.maxReconnectBackoff = 0ms;
  Client client(options);
  client.track("t1", TrackRequest{{"", "api", "calls", 7}, "before-restart"});
  env.stop();
  auto down = kindOf([&] { client.check("t1", API_CALL); });
  CHECK((down == ErrorKind::DISCONNECTED || down == ErrorKind::UNAVAILABLE));
  env.start();
  Decision d = client.check("t1", API_CALL);
  CHECK(d.current == 7);
  CHECK(client.track("t1", TrackRequest{{"", "api", "calls", 7}, "before-restart"}).duplicate);
  CHECK(client.stats().connects == 2);
}

TEST_CASE("Many threads share one client safely across a daemon restart") {
  ServerEnv env;
  limitApiCalls(env, 1'000'000);
  env.secret("t1", "K", "v");
  ClientOptions options = env.options(5s);
  options.minReconnectBackoff = options.maxReconnectBackoff = 0ms;
  Client client(options);
  std::atomic<bool> restarted{false}, done{false};
  std::atomic<int> okAfterRestart{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; !done; ++i) {
        try {
          switch (i % 5) {
            case 0: client.check("t1", API_CALL); break;
            case 1: client.consume("t1", API_CALL); break;
            case 2: client.track("t1", TrackRequest{API_CALL}); break;
            case 3: client.getSecret("t1", "K"); break;
            case 4: client.release("t1", client.reserve("t1", API_CALL).id); break;
          }
          if (restarted) ++okAfterRestart;
        } catch (const Error& e) {
          // Only transport failures, while the daemon is away. (Catch2 asserts on this thread
          // only: its macros are not thread-safe.)
          if (e.kind() != ErrorKind::DISCONNECTED && e.kind() != ErrorKind::UNAVAILABLE) {
            ++unexpected;
          }
        }
      }
    });
  }
  CHECK(testing::waitUntil([&] { return client.stats().requests > 200; }));
  env.stop();
  env.start();
  restarted = true;
  CHECK(testing::waitUntil([&] { return okAfterRestart >= 200; }));
  done = true;
  for (auto& t : threads) t.join();
  CHECK(unexpected == 0);
}

}  // namespace tenantd::client
