// RPC benchmarks: tenantd's Tenant calls beside their floors, interleaved in one run, median of
// --runs runs (results in BENCHMARKS.md). bench/rpc-bench starts the daemon and redis and runs
// this with their sockets. Floors, all built here:
//  (a) raw Unix-socket ping-pong of a fixed 64-byte message, sequential (a forked echo process);
//  (b) a bare Cap'n Proto server: capnp's stock TwoPartyServer in a forked process with a minimal
//      Sidecar/Tenant answering check (and the batch forms) from a hash map, no daemon code;
//  (c) redis-server INCR on a Unix socket through redis-benchmark (sequential and pipelined).
// The same client code (capnp's TwoPartyClient on one kj loop) drives (b) and tenantd.
// --profile NAME runs one measurement alone, for `strace -c -f` or `valgrind --tool=callgrind`.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/malloc-tuning.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <kj/vector.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "tenantd.capnp.h"

using namespace tenantd;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* TENANT = "tenant-123";
constexpr size_t PING_BYTES = 64;

double secondsSince(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double median(std::vector<double> v) {
  return percentile(std::move(v), 0.5);
}

// ---------------------------------------------------------------------------------------------
// Floors (a) and (b), forked before the parent sets up its event loop.

pid_t forkChild(const std::function<void()>& body) {
  pid_t pid = fork();
  KJ_ASSERT(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    body();
    _exit(0);
  }
  return pid;
}

// (a): echoes fixed-size messages until EOF.
void echoLoop(int fd) {
  char buf[PING_BYTES];
  for (;;) {
    size_t got = 0;
    while (got < PING_BYTES) {
      ssize_t n = read(fd, buf + got, PING_BYTES - got);
      if (n <= 0) return;
      got += static_cast<size_t>(n);
    }
    if (write(fd, buf, PING_BYTES) != static_cast<ssize_t>(PING_BYTES)) return;
  }
}

// (b): the minimal Tenant: counters in a hash map, results shaped like tenantd's.
struct FloorState {
  std::unordered_map<std::string, int64_t> used;
  static constexpr int64_t LIMIT = 1'000'000'000;
};

void fillDecision(rpc::Decision::Builder b, int64_t current) {
  b.setAllowed(current < FloorState::LIMIT);
  b.setMatched(true);
  b.setGateAction("block");
  b.setCurrent(current);
  b.setLimit(FloorState::LIMIT);
  b.setRemaining(FloorState::LIMIT - current);
  b.setPeriod("day");
  b.setScope("tenant");
  b.setResetAtMs(1'800'000'000'000);
}

// Items (calls, or batch items) completed, for --profile's per-item figures
// (bench/rpc-instructions).
uint64_t itemsDone = 0;

std::string keyOf(rpc::UsageRequest::Reader r) {
  std::string key(r.getResource().cStr());
  key += '/';
  key += r.getMetric().cStr();
  key += '/';
  key += r.getUserId().cStr();
  return key;
}

class FloorTenant final : public rpc::Tenant::Server {
public:
  explicit FloorTenant(FloorState& state) : state_(state) {}

protected:
  kj::Promise<void> check(CheckContext context) override {
    auto r = context.getParams().getRequest();
    fillDecision(context.getResults().initDecision(), state_.used[keyOf(r)]);
    return kj::READY_NOW;
  }
  kj::Promise<void> checkBatch(CheckBatchContext context) override {
    auto requests = context.getParams().getRequests();
    auto out = context.getResults().initDecisions(requests.size());
    for (uint i = 0; i < requests.size(); ++i)
      fillDecision(out[i], state_.used[keyOf(requests[i])]);
    return kj::READY_NOW;
  }
  kj::Promise<void> track(TrackContext context) override {
    auto r = context.getParams().getRequest().getUsage();
    int64_t& n = state_.used[keyOf(r)];
    n += r.getAmount();
    fillUsage(context.getResults().initResult(), r, n);
    return kj::READY_NOW;
  }
  kj::Promise<void> trackBatch(TrackBatchContext context) override {
    auto requests = context.getParams().getRequests();
    auto out = context.getResults().initResults(requests.size());
    for (uint i = 0; i < requests.size(); ++i) {
      auto r = requests[i].getUsage();
      int64_t& n = state_.used[keyOf(r)];
      n += r.getAmount();
      fillUsage(out[i], r, n);
    }
    return kj::READY_NOW;
  }

private:
  static void fillUsage(rpc::TrackResult::Builder b, rpc::UsageRequest::Reader r, int64_t n) {
    auto u = b.initUsage(1)[0];
    u.setResource(r.getResource());
    u.setMetric(r.getMetric());
    u.setPeriod("day");
    u.setScope("tenant");
    u.setCurrent(n);
    u.setLimit(FloorState::LIMIT);
    u.setResetAtMs(1'800'000'000'000);
  }
  FloorState& state_;
};

class FloorSidecar final : public rpc::Sidecar::Server {
public:
  explicit FloorSidecar(FloorState& state) : state_(state) {}

protected:
  kj::Promise<void> health(HealthContext context) override {
    context.getResults().setStatus("ok");
    return kj::READY_NOW;
  }
  kj::Promise<void> tenant(TenantContext context) override {
    context.getResults().setTenant(kj::heap<FloorTenant>(state_));
    return kj::READY_NOW;
  }

private:
  FloorState& state_;
};

void capnpFloorLoop(int listenFd) {
  auto io = kj::setupAsyncIo();
  FloorState state;
  auto listener = io.lowLevelProvider->wrapListenSocketFd(
      listenFd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  capnp::TwoPartyServer server(kj::heap<FloorSidecar>(state));
  server.listen(*listener).wait(io.waitScope);
}

int listenUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  KJ_REQUIRE(path.size() < sizeof(addr.sun_path), path);
  strcpy(addr.sun_path, path.c_str());
  unlink(path.c_str());
  KJ_SYSCALL(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), path);
  KJ_SYSCALL(listen(fd, 1024));
  return fd;
}

// ---------------------------------------------------------------------------------------------
// The client: the same code against the floor and tenantd.

struct Connection {
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyClient client;
  rpc::Tenant::Client tenant;

  explicit Connection(kj::Own<kj::AsyncIoStream> s)
      : stream(kj::mv(s)), client(*stream), tenant(obtainTenant(client)) {}

  static rpc::Tenant::Client obtainTenant(capnp::TwoPartyClient& client) {
    auto get = client.bootstrap().castAs<rpc::Sidecar>().tenantRequest();
    get.setId(TENANT);
    return get.send().getTenant();
  }
};

void fillCheck(rpc::UsageRequest::Builder b, const char* user = "user-123") {
  b.setUserId(user);
  b.setResource("workflow");
  b.setMetric("count");
  b.setAmount(1);
}

const std::vector<std::string>& users() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 1000; ++i) v.push_back("user-" + std::to_string(i));
    return v;
  }();
  return names;
}

class Client {
public:
  explicit Client(kj::AsyncIoContext& io) : io_(io) {}

  kj::Own<Connection> connect(const std::string& path) {
    auto address =
        io_.provider->getNetwork().parseAddress(kj::str("unix:", path.c_str())).wait(ws());
    auto c = kj::heap<Connection>(address->connect().wait(ws()));
    sequential(*c, 200);  // Resolves the pipelined Tenant capability; warms caches.
    return c;
  }

  // Latencies in µs of `n` checks, one at a time.
  std::vector<double> sequential(Connection& c, int n) {
    std::vector<double> lat;
    lat.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      auto start = Steady::now();
      auto req = c.tenant.checkRequest();
      fillCheck(req.initRequest());
      auto response = req.send().wait(ws());
      KJ_ASSERT(response.getDecision().getMatched());
      lat.push_back(secondsSince(start) * 1e6);
    }
    itemsDone += static_cast<uint64_t>(n);
    return lat;
  }

  // Latencies in µs of checks, one at a time, for `seconds`.
  std::vector<double> sequentialFor(Connection& c, double seconds) {
    std::vector<double> lat;
    auto start = Steady::now();
    while (secondsSince(start) < seconds) {
      auto more = sequential(c, 100);
      lat.insert(lat.end(), more.begin(), more.end());
    }
    return lat;
  }

  // Calls/s with `depth` checks in flight on one connection for `seconds`.
  double pipelined(Connection& c, int depth, double seconds) {
    return keepInFlight(depth, seconds, [&c]() {
      auto req = c.tenant.checkRequest();
      fillCheck(req.initRequest());
      return req.send().ignoreResult().then([]() -> uint64_t { return 1; });
    });
  }

  // Items/s of checkBatch calls of `batch` items, `depth` in flight.
  double checkBatches(Connection& c, uint batch, int depth, double seconds) {
    return keepInFlight(depth, seconds, [&c, batch]() {
      auto req = c.tenant.checkBatchRequest();
      auto items = req.initRequests(batch);
      for (uint i = 0; i < batch; ++i) fillCheck(items[i]);
      return req.send().then([batch](capnp::Response<rpc::Tenant::CheckBatchResults> r) {
        KJ_ASSERT(r.getDecisions().size() == batch);
        return uint64_t{batch};
      });
    });
  }

  // Items/s of trackBatch calls (durable in tenantd: answered after the group commit).
  double trackBatches(Connection& c, uint batch, int depth, double seconds) {
    return keepInFlight(depth, seconds, [this, &c, batch]() {
      auto req = c.tenant.trackBatchRequest();
      auto items = req.initRequests(batch);
      for (uint i = 0; i < batch; ++i) {
        fillCheck(items[i].initUsage(), users()[next_++ % 1000].c_str());
      }
      return req.send().then([batch](capnp::Response<rpc::Tenant::TrackBatchResults> r) {
        auto results = r.getResults();
        KJ_ASSERT(results.size() == batch);
        KJ_ASSERT(results[0].getError().size() == 0, results[0].getError());
        return uint64_t{batch};
      });
    });
  }

  // Tracks/s, one at a time on each of `connections`.
  double tracksOneAtATime(kj::ArrayPtr<kj::Own<Connection>> connections, double seconds) {
    uint64_t done = 0;
    bool stop = false;
    auto start = Steady::now();
    kj::Vector<kj::Promise<void>> loops;
    for (auto& c : connections) loops.add(trackLoop(*c, done, stop));
    auto timer = io_.provider->getTimer()
                     .afterDelay(static_cast<int64_t>(seconds * 1000) * kj::MILLISECONDS)
                     .then([&stop]() { stop = true; })
                     .eagerlyEvaluate(nullptr);
    kj::joinPromises(loops.releaseAsArray()).wait(ws());
    return static_cast<double>(done) / secondsSince(start);
  }

  kj::WaitScope& ws() { return io_.waitScope; }
  kj::Timer& timer() { return io_.provider->getTimer(); }

private:
  kj::Promise<void> trackLoop(Connection& c, uint64_t& done, bool& stop) {
    if (stop) return kj::READY_NOW;
    auto req = c.tenant.trackRequest();
    fillCheck(req.initRequest().initUsage(), users()[next_++ % 1000].c_str());
    return req.send().then([this, &c, &done, &stop](capnp::Response<rpc::Tenant::TrackResults>&&) {
      ++done;
      return trackLoop(c, done, stop);
    });
  }

  // Runs `depth` chains of `call` (each yields how many items it did) for `seconds`; items/s.
  double keepInFlight(int depth, double seconds, std::function<kj::Promise<uint64_t>()> call) {
    uint64_t done = 0;
    bool stop = false;
    std::function<kj::Promise<void>()> chain = [&]() -> kj::Promise<void> {
      if (stop) return kj::READY_NOW;
      return call().then([&](uint64_t n) {
        done += n;
        return chain();
      });
    };
    auto start = Steady::now();
    kj::Vector<kj::Promise<void>> chains;
    for (int i = 0; i < depth; ++i) chains.add(chain());
    KJ_DEFER(itemsDone += done);
    auto timer = io_.provider->getTimer()
                     .afterDelay(static_cast<int64_t>(seconds * 1000) * kj::MILLISECONDS)
                     .then([&stop]() { stop = true; })
                     .eagerlyEvaluate(nullptr);
    kj::joinPromises(chains.releaseAsArray()).wait(ws());
    return static_cast<double>(done) / secondsSince(start);
  }

  kj::AsyncIoContext& io_;
  size_t next_ = 0;
};

// Sequential round trips of PING_BYTES on a blocking socket: latencies in µs.
std::vector<double> pingPong(int fd, int n) {
  char buf[PING_BYTES] = {};
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto start = Steady::now();
    KJ_ASSERT(write(fd, buf, PING_BYTES) == static_cast<ssize_t>(PING_BYTES));
    size_t got = 0;
    while (got < PING_BYTES) {
      ssize_t r = read(fd, buf + got, PING_BYTES - got);
      KJ_ASSERT(r > 0);
      got += static_cast<size_t>(r);
    }
    lat.push_back(secondsSince(start) * 1e6);
  }
  return lat;
}

std::string runCommand(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  KJ_ASSERT(p != nullptr, command);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// redis-benchmark --csv: "INCR","rps","avg","min","p50","p95","p99","max" (latencies in ms).
std::vector<double> redisIncr(const std::string& socket, int n, int pipeline) {
  auto out = runCommand("redis-benchmark -s " + socket + " -t incr -c 1 -n " + std::to_string(n) +
                        " -P " + std::to_string(pipeline) + " --csv 2>/dev/null");
  auto at = out.find("\"INCR\"");
  KJ_REQUIRE(at != std::string::npos, "no INCR line from redis-benchmark", out);
  std::vector<double> fields;
  std::string line = out.substr(at, out.find('\n', at) - at);
  size_t pos = 0;
  while ((pos = line.find(",\"", pos)) != std::string::npos) {
    pos += 2;
    fields.push_back(std::stod(line.substr(pos)));
  }
  KJ_REQUIRE(fields.size() >= 6, line);
  return fields;  // rps, avg, min, p50, p95, p99, max
}

struct Results {
  std::map<std::string, std::vector<double>> values;
  void add(const std::string& name, double v) { values[name].push_back(v); }
  double median(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? 0 : ::median(it->second);
  }
  bool has(const std::string& name) const { return values.count(name) > 0; }
};

std::string fmt(double v, const char* unit) {
  char buf[64];
  if (std::string(unit) == "/s") {
    if (v >= 1e6) {
      snprintf(buf, sizeof(buf), "%.2f M/s", v / 1e6);
    } else {
      snprintf(buf, sizeof(buf), "%.1f k/s", v / 1e3);
    }
  } else {
    snprintf(buf, sizeof(buf), "%.1f %s", v, unit);
  }
  return buf;
}

struct Fairness {
  double p50 = 0, p99 = 0, restPerSecond = 0;
};

// wrk saturates the REST listener (one thread, 32 connections, the REST bench's check) while
// sequential checks run on RPC for `seconds`; wrk starts first and outlasts the RPC measurement.
Fairness fairness(Client& client, Connection& daemon, const std::string& restUrl,
                  const std::string& wrkScript, double seconds, int wrkConnections = 32) {
  FILE* wrk = popen(("wrk -t1 -c" + std::to_string(wrkConnections) + " -d" +
                     std::to_string(static_cast<int>(seconds) + 2) + "s -s " + wrkScript + " " +
                     restUrl + "/tenant/limits/resources/check 2>&1")
                        .c_str(),
                    "r");
  KJ_ASSERT(wrk != nullptr);
  client.timer().afterDelay(500 * kj::MILLISECONDS).wait(client.ws());
  auto lat = client.sequentialFor(daemon, seconds);
  Fairness f{percentile(lat, 0.5), percentile(lat, 0.99), 0};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), wrk)) > 0) out.append(buf, n);
  pclose(wrk);
  auto at = out.find("Requests/sec:");
  if (at != std::string::npos) f.restPerSecond = std::stod(out.substr(at + 13));
  return f;
}

// wrk's "99%    1.23ms" line of --latency output, in µs.
double wrkP99(const std::string& out) {
  auto at = out.find(" 99%");
  if (at == std::string::npos) return 0;
  char unit[8] = {};
  double v = 0;
  if (sscanf(out.c_str() + at + 4, "%lf%7s", &v, unit) != 2) return 0;
  std::string u(unit);
  return u == "us" ? v : u == "ms" ? v * 1e3 : u == "s" ? v * 1e6 : 0;
}

// The other direction: REST check latency (wrk, 4 connections) while one RPC connection keeps
// 64 checks in flight for `seconds`.
Fairness restUnderRpc(Client& client, Connection& daemon, const std::string& restUrl,
                      const std::string& wrkScript, double seconds) {
  FILE* wrk = popen(("wrk -t1 -c4 --latency -d" + std::to_string(static_cast<int>(seconds)) +
                     "s -s " + wrkScript + " " + restUrl + "/tenant/limits/resources/check 2>&1")
                        .c_str(),
                    "r");
  KJ_ASSERT(wrk != nullptr);
  double rpcRate = client.pipelined(daemon, 64, seconds + 0.5);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), wrk)) > 0) out.append(buf, n);
  pclose(wrk);
  Fairness f{0, wrkP99(out), 0};
  auto at = out.find("Requests/sec:");
  if (at != std::string::npos) f.restPerSecond = std::stod(out.substr(at + 13));
  f.p50 = rpcRate;  // Calls/s the RPC side kept up meanwhile.
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  holdFreedHeap();  // As tenantd does; the forked floors inherit it.
  CLI::App app{"RPC benchmarks: tenantd beside raw-socket, bare Cap'n Proto and redis floors"};
  std::string daemonSocket, redisSocket, restUrl, wrkScript = "bench/check.lua", profile;
  std::string floorSocket, serveFloor;
  int runs = 3, calls = 20000, wrkConnections = 32;
  double seconds = 2;
  app.add_option("--daemon", daemonSocket, "tenantd's RPC socket");
  app.add_option("--floor", floorSocket, "use a floor (b) already serving here, not a fork");
  app.add_option("--serve-floor", serveFloor,
                 "only serve floor (b) on this socket, in the foreground (for callgrind)");
  app.add_option("--redis", redisSocket, "redis-server's Unix socket (floor c)");
  app.add_option("--rest", restUrl, "tenantd's REST URL, for the fairness run (wrk; $TOKEN)");
  app.add_option("--wrk-script", wrkScript, "wrk script for the REST check");
  app.add_option("--wrk-connections", wrkConnections, "wrk's connections in --profile fair-daemon");
  app.add_option("--runs", runs, "interleaved runs (medians are reported)");
  app.add_option("--calls", calls, "sequential calls per latency measurement");
  app.add_option("--seconds", seconds, "seconds per throughput measurement");
  app.add_option("--profile", profile,
                 "run one measurement alone: {seq,pipe,batch}-{daemon,floor}, track16-daemon, "
                 "trackbatch-daemon, "
                 "fair-daemon, fair-rest, "
                 "connections (--calls of them held --seconds)");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (!serveFloor.empty()) {
    capnpFloorLoop(listenUnix(serveFloor));
    return 0;
  }
  if (daemonSocket.empty()) {
    fprintf(stderr, "--daemon is required\n");
    return 2;
  }

  // Floors first, before this process has an event loop or threads.
  auto scratch =
      std::filesystem::temp_directory_path() / ("rpc-bench-" + std::to_string(getpid()) + ".sock");
  pid_t floorPid = -1;
  if (floorSocket.empty()) {
    int floorListen = listenUnix(scratch.string());
    floorPid = forkChild([floorListen]() { capnpFloorLoop(floorListen); });
    close(floorListen);
    floorSocket = scratch.string();
  }
  int pair[2];
  KJ_SYSCALL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
  pid_t echoPid = forkChild([&pair]() {
    close(pair[0]);
    echoLoop(pair[1]);
  });
  close(pair[1]);
  KJ_DEFER({
    close(pair[0]);
    if (floorPid > 0) {
      kill(floorPid, SIGKILL);
      waitpid(floorPid, nullptr, 0);
      std::filesystem::remove(scratch);
    }
    kill(echoPid, SIGKILL);
    waitpid(echoPid, nullptr, 0);
  });

  auto io = kj::setupAsyncIo();
  Client client(io);
  auto floor = client.connect(floorSocket);
  auto daemon = client.connect(daemonSocket);

  if (!profile.empty()) {
    // Prints p50 (µs) or calls/s, so a profile run can be compared with a plain one.
    double result = 0;
    if (profile == "seq-daemon") result = percentile(client.sequential(*daemon, calls), 0.5);
    if (profile == "seq-floor") result = percentile(client.sequential(*floor, calls), 0.5);
    if (profile == "pipe-daemon") result = client.pipelined(*daemon, 16, seconds);
    if (profile == "pipe-floor") result = client.pipelined(*floor, 16, seconds);
    if (profile == "batch-daemon") result = client.checkBatches(*daemon, 128, 4, seconds);
    if (profile == "batch-floor") result = client.checkBatches(*floor, 128, 4, seconds);
    if (profile == "trackbatch-daemon") result = client.trackBatches(*daemon, 128, 4, seconds);
    if (profile == "track16-daemon") {
      kj::Vector<kj::Own<Connection>> conns;
      for (int i = 0; i < 16; ++i) conns.add(client.connect(daemonSocket));
      result = client.tracksOneAtATime(conns, seconds);
    }
    if (profile == "connections") {
      // --calls connections, each with one health call answered, held until all are open.
      kj::Vector<kj::Own<kj::AsyncIoStream>> streams;
      kj::Vector<kj::Own<capnp::TwoPartyClient>> clients;
      for (int i = 0; i < calls; ++i) {
        auto address = io.provider->getNetwork()
                           .parseAddress(kj::str("unix:", daemonSocket.c_str()))
                           .wait(io.waitScope);
        streams.add(address->connect().wait(io.waitScope));
        clients.add(kj::heap<capnp::TwoPartyClient>(*streams.back()));
        clients.back()->bootstrap().castAs<rpc::Sidecar>().healthRequest().send().wait(
            io.waitScope);
      }
      printf("connections: %d open\n", calls);
      fflush(stdout);
      if (seconds > 0) {
        client.timer()
            .afterDelay(static_cast<int64_t>(seconds * 1000) * kj::MILLISECONDS)
            .wait(io.waitScope);
      }
    }
    if (profile == "fair-rest") {
      auto f = restUnderRpc(client, *daemon, restUrl, wrkScript, seconds);
      printf("REST under RPC: REST p99 %.1f µs at %.0f/s, RPC %.0f calls/s\n", f.p99,
             f.restPerSecond, f.p50);
    }
    if (profile == "fair-daemon") {
      auto f = fairness(client, *daemon, restUrl, wrkScript, seconds, wrkConnections);
      printf("fair: p50 %.1f µs p99 %.1f µs, REST %.0f/s\n", f.p50, f.p99, f.restPerSecond);
    }
    printf("%s: %.1f (items %llu)\n", profile.c_str(), result,
           static_cast<unsigned long long>(itemsDone));
    return 0;
  }

  kj::Vector<kj::Own<Connection>> floor16, daemon16;
  for (int i = 0; i < 16; ++i) {
    floor16.add(client.connect(floorSocket));
    daemon16.add(client.connect(daemonSocket));
  }
  pingPong(pair[0], 2000);

  Results r;
  for (int run = 0; run < runs; ++run) {
    fprintf(stderr, "run %d/%d\n", run + 1, runs);
    auto seq = [&](const char* name, std::vector<double> lat) {
      r.add(std::string(name) + " p50", percentile(lat, 0.5));
      r.add(std::string(name) + " p99", percentile(lat, 0.99));
    };
    seq("raw", pingPong(pair[0], calls));
    seq("floor", client.sequential(*floor, calls));
    seq("tenantd", client.sequential(*daemon, calls));
    if (!redisSocket.empty()) {
      auto incr = redisIncr(redisSocket, calls, 1);
      r.add("redis p50", incr[3] * 1000);
      r.add("redis p99", incr[5] * 1000);
      r.add("redis pipe16", redisIncr(redisSocket, calls * 10, 16)[0]);
    }
    for (int depth : {16, 64}) {
      auto d = std::to_string(depth);
      r.add("floor pipe" + d, client.pipelined(*floor, depth, seconds));
      r.add("tenantd pipe" + d, client.pipelined(*daemon, depth, seconds));
    }
    r.add("floor batch", client.checkBatches(*floor, 128, 4, seconds));
    r.add("tenantd batch", client.checkBatches(*daemon, 128, 4, seconds));
    r.add("floor trackBatch", client.trackBatches(*floor, 128, 4, seconds));
    r.add("tenantd trackBatch", client.trackBatches(*daemon, 128, 4, seconds));
    r.add("floor track16", client.tracksOneAtATime(floor16, seconds));
    r.add("tenantd track16", client.tracksOneAtATime(daemon16, seconds));
    if (!restUrl.empty()) {
      auto fair = fairness(client, *daemon, restUrl, wrkScript, seconds);
      r.add("fair p50", fair.p50);
      r.add("fair p99", fair.p99);
      r.add("fair rest", fair.restPerSecond);
      auto reverse = restUnderRpc(client, *daemon, restUrl, wrkScript, seconds);
      r.add("rev p99", reverse.p99);
      r.add("rev rest", reverse.restPerSecond);
      r.add("rev rpc", reverse.p50);
    }
  }

  auto ratio = [&](const std::string& a, const std::string& b) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%.2f×", r.median(a) / r.median(b));
    return std::string(buf);
  };
  auto row = [&](const char* what, const std::string& value, const std::string& floorValue,
                 const std::string& ratioText, const char* target, bool met) {
    printf("| %s | %s | %s | %s | %s | %s |\n", what, value.c_str(), floorValue.c_str(),
           ratioText.c_str(), target, met ? "yes" : "**no**");
  };
  printf("\nmedian of %d interleaved runs; %d sequential calls, %.0f s per throughput run\n\n",
         runs, calls, seconds);
  printf("| measurement | tenantd | bare capnp floor | ratio | target | met |\n");
  printf("|---|---|---|---|---|---|\n");
  row("sequential check p50", fmt(r.median("tenantd p50"), "µs"), fmt(r.median("floor p50"), "µs"),
      ratio("tenantd p50", "floor p50"), "≤ 1.15× floor",
      r.median("tenantd p50") <= 1.15 * r.median("floor p50"));
  row("sequential check p99", fmt(r.median("tenantd p99"), "µs"), fmt(r.median("floor p99"), "µs"),
      ratio("tenantd p99", "floor p99"), "≤ 1.15× floor",
      r.median("tenantd p99") <= 1.15 * r.median("floor p99"));
  for (const char* d : {"16", "64"}) {
    std::string t = std::string("tenantd pipe") + d, f = std::string("floor pipe") + d;
    std::string what = std::string("pipelined checks, ") + d + " in flight";
    row(what.c_str(), fmt(r.median(t), "/s"), fmt(r.median(f), "/s"), ratio(t, f), "≥ 0.85× floor",
        r.median(t) >= 0.85 * r.median(f));
  }
  row("checkBatch 128 × 4 in flight, items", fmt(r.median("tenantd batch"), "/s"),
      fmt(r.median("floor batch"), "/s"), ratio("tenantd batch", "floor batch"), "≥ 3 M/s",
      r.median("tenantd batch") >= 3e6);
  row("durable trackBatch 128 × 4 in flight, items", fmt(r.median("tenantd trackBatch"), "/s"),
      fmt(r.median("floor trackBatch"), "/s") + " (in memory)",
      ratio("tenantd trackBatch", "floor trackBatch"), "≥ 200 k/s",
      r.median("tenantd trackBatch") >= 200e3);
  row("durable track, 16 connections one at a time", fmt(r.median("tenantd track16"), "/s"),
      fmt(r.median("floor track16"), "/s") + " (in memory)",
      ratio("tenantd track16", "floor track16"), "≥ 20 k/s", r.median("tenantd track16") >= 20e3);
  if (r.has("fair p99")) {
    row("sequential check p99 while wrk saturates REST", fmt(r.median("fair p99"), "µs"),
        "p50 " + fmt(r.median("fair p50"), "µs") + ", REST " + fmt(r.median("fair rest"), "/s"),
        "—", "≤ 2000 µs", r.median("fair p99") <= 2000);
    printf(
        "| (other way) REST check p99 (wrk -c4) while RPC pipelines 64 | %s | REST %s, RPC %s "
        "| — | — | — |\n",
        fmt(r.median("rev p99"), "µs").c_str(), fmt(r.median("rev rest"), "/s").c_str(),
        fmt(r.median("rev rpc"), "/s").c_str());
  }
  printf("\nother floors, same runs\n\n| floor | p50 | p99 | throughput |\n|---|---|---|---|\n");
  printf("| raw Unix-socket ping-pong, %zu bytes | %s | %s | — |\n", PING_BYTES,
         fmt(r.median("raw p50"), "µs").c_str(), fmt(r.median("raw p99"), "µs").c_str());
  if (r.has("redis p50")) {
    printf("| redis INCR (redis-benchmark -c 1; pipelined -P 16) | %s | %s | %s |\n",
           fmt(r.median("redis p50"), "µs").c_str(), fmt(r.median("redis p99"), "µs").c_str(),
           fmt(r.median("redis pipe16"), "/s").c_str());
  }
  return 0;
}
