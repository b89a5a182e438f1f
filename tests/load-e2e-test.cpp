// Load: 1,000 REST connections and 1,000 RPC clients at once against the real daemon, each
// sending limit checks at a steady pace (REST over kj's HTTP client, one connection each; RPC
// over capnp's two-party client, one Unix connection each), all on one kj event loop.
// Every answer must be right (200, allowed), every connection still served at the end, the
// paced rate reached, and the daemon's RSS bounded (sampled each second). The latencies are
// reported; the RPC p99's bound (within 2x its idle figure) is asserted by `make soak` only,
// where 60 s give a stable p99: a latency target is a measurement, not a unit test.
//
// The probe that measures that p99 runs at a real-time priority (SCHED_FIFO, when allowed):
// on two cores shared with the load generator, a normal-priority probe measured mostly its own
// wait for a CPU (perf sched: its scheduling delay's p99 was 530 us under load), not the
// daemon. See docs/RELIABILITY.md for both figures.
//
// TENANTD_LOAD_SECONDS (5; `make soak` 60), TENANTD_LOAD_CLIENTS (1,000 of each) and
// TENANTD_LOAD_P99_FACTOR (unset: reported only; `make soak` 2).

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <kj/compat/http.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "support/rpc-client.h"

namespace tenantd::testing {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

int envInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::atoi(text) : fallback;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool SANITIZED = true;
#else
constexpr bool SANITIZED = false;
#endif

const std::string CHECK_BODY = R"({"resource":"api","metric":"calls","amount":1})";

struct Latencies {
  std::vector<uint32_t> micros;

  void since(SteadyClock::time_point start) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start);
    micros.push_back(static_cast<uint32_t>(us.count()));
  }
  uint32_t percentile(double p) {
    if (micros.empty()) return 0;
    auto at = micros.begin() + static_cast<long>(p * static_cast<double>(micros.size() - 1));
    std::nth_element(micros.begin(), at, micros.end());
    return *at;
  }
};

int64_t rssKiB(pid_t pid, const char* field = "VmRSS:") {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::strlen(field)));
  }
  return -1;
}

// Everything the clients of one run share, on the one event loop.
struct Load {
  kj::AsyncIoContext& io;
  std::string socketPath;
  std::string restHost;  // "127.0.0.1:PORT"
  std::string auth;
  kj::Own<kj::HttpHeaderTable> table;
  kj::HttpHeaderId authorization;
  bool stopping = false;
  Latencies rpc, rest;
  uint64_t errors = 0;
  std::string firstError;

  Load(kj::AsyncIoContext& io, std::string socketPath, std::string restHost, std::string auth)
      : io(io), socketPath(kj::mv(socketPath)), restHost(kj::mv(restHost)), auth(kj::mv(auth)) {
    kj::HttpHeaderTable::Builder builder;
    authorization = builder.add("Authorization");
    table = builder.build();
  }
  void error(const std::string& what) {
    if (errors++ == 0) firstError = what;
  }
  kj::Timer& timer() { return io.provider->getTimer(); }
};

struct RpcClient {
  kj::Own<RpcConnection> connection;
  rpc::Tenant::Client tenant;

  RpcClient(kj::Own<RpcConnection> c, rpc::Tenant::Client t)
      : connection(kj::mv(c)), tenant(kj::mv(t)) {}
  // Connects; the tenant capability is pipelined with the first check.
  static kj::Own<RpcClient> open(Load& load) {
    auto c = kj::heap<RpcConnection>(
        within(load.io, connectUnix(load.io, load.socketPath)).wait(load.io.waitScope));
    auto get = c->sidecar.tenantRequest();
    get.setId(DEMO_TENANT);
    auto tenant = get.send().getTenant();
    return kj::heap<RpcClient>(kj::mv(c), kj::mv(tenant));
  }
  kj::Promise<void> check(Load& load, Latencies& into) {
    auto request = tenant.checkRequest();
    auto usage = request.initRequest();
    usage.setResource("api");
    usage.setMetric("calls");
    auto start = SteadyClock::now();
    return request.send().then(
        [&load, &into, start](capnp::Response<rpc::Tenant::CheckResults> r) {
          into.since(start);
          if (!r.getDecision().getAllowed()) load.error("an RPC check was not allowed");
        },
        [&load](kj::Exception&& e) { load.error(e.getDescription().cStr()); });
  }
};

struct RestClient {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<kj::HttpClient> http;

  static kj::Own<RestClient> open(Load& load) {
    auto address = load.io.provider->getNetwork()
                       .parseAddress(kj::StringPtr(load.restHost.c_str()))
                       .wait(load.io.waitScope);
    auto client = kj::heap<RestClient>();
    client->stream = within(load.io, address->connect()).wait(load.io.waitScope);
    // kj writes the head and the body apart: without this, Nagle holds the body until the
    // daemon's delayed ACK (40 ms a request).
    int one = 1;
    client->stream->setsockopt(IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    client->http = kj::newHttpClient(*load.table, *client->stream);
    return client;
  }
  kj::Promise<void> check(Load& load, Latencies& into) {
    // A closed connection throws from request(): an error of the run, not of the test process.
    return kj::evalNow([&]() { return send(load, into); }).catch_([&load](kj::Exception&& e) {
      load.error(e.getDescription().cStr());
    });
  }
  kj::Promise<void> send(Load& load, Latencies& into) {
    kj::HttpHeaders headers(*load.table);
    headers.set(load.authorization, kj::StringPtr(load.auth.c_str()));
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, "application/json");
    auto start = SteadyClock::now();
    auto request = http->request(kj::HttpMethod::POST, "/tenant/limits/resources/check", headers,
                                 static_cast<uint64_t>(CHECK_BODY.size()));
    auto written =
        request.body->write(CHECK_BODY.data(), CHECK_BODY.size()).attach(kj::mv(request.body));
    return written
        .then([response = kj::mv(request.response)]() mutable { return kj::mv(response); })
        .then([](kj::HttpClient::Response&& r) {
          auto status = r.statusCode;
          return r.body->readAllText().attach(kj::mv(r.body)).then([status](kj::String body) {
            return std::make_pair(status, std::string(body.cStr()));
          });
        })
        .then(
            [&load, &into, start](std::pair<unsigned, std::string> answer) {
              into.since(start);
              if (answer.first != 200 ||
                  answer.second.find("\"allowed\":true") == std::string::npos) {
                load.error("REST check answered " + std::to_string(answer.first) + " " +
                           answer.second);
              }
            },
            [&load](kj::Exception&& e) { load.error(e.getDescription().cStr()); });
  }
};

// One client's steady pace: a call every `period` from `next`, until the load stops (a call
// that outlasts its period is followed at once).
template <typename Client>
kj::Promise<void> paced(Load& load, Client& client, Latencies& into, kj::TimePoint next,
                        kj::Duration period) {
  return load.timer().atTime(next).then([&load, &client, &into, next, period]() {
    if (load.stopping) return kj::Promise<void>(kj::READY_NOW);
    return client.check(load, into).then([&load, &client, &into, next, period]() {
      return paced(load, client, into, next + period, period);
    });
  });
}

kj::Promise<void> sampleRss(Load& load, pid_t pid, int64_t& peakKiB) {
  return load.timer().afterDelay(1 * kj::SECONDS).then([&load, pid, &peakKiB]() {
    peakKiB = std::max(peakKiB, rssKiB(pid));
    if (load.stopping) return kj::Promise<void>(kj::READY_NOW);
    return sampleRss(load, pid, peakKiB);
  });
}

void raiseDescriptorLimit(size_t needed) {
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  INFO("hard RLIMIT_NOFILE " << limit.rlim_max << ", needed " << needed);
  REQUIRE(limit.rlim_max >= needed);
  limit.rlim_cur = limit.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &limit) == 0);
}

struct Probe {
  Latencies rpc, rest;
  uint64_t errors = 0;
  std::string firstError;
  bool realTime = false;
};

// `calls` paced checks of each kind, or until `stop` (when given) is set. On a thread of its
// own, raised to SCHED_FIFO where the process may (root, or RLIMIT_RTPRIO), so a wake-up runs
// at once instead of waiting behind the load generator for one of the two cores.
Probe probe(RunningDaemon& d, int calls, const std::atomic<bool>* stop) {
  Probe figures;
  sched_param priority{};
  priority.sched_priority = 1;
  figures.realTime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &priority) == 0;
  auto io = kj::setupAsyncIo();
  Load load(io, d.socketPath, d.restUrl.substr(std::strlen("http://")), "Bearer " + d.demoToken());
  auto rpc = RpcClient::open(load);
  auto rest = RestClient::open(load);
  for (int i = 0; stop ? !stop->load() : i < calls; ++i) {
    load.timer().afterDelay(5 * kj::MILLISECONDS).wait(io.waitScope);
    rpc->check(load, figures.rpc).wait(io.waitScope);
    rest->check(load, figures.rest).wait(io.waitScope);
  }
  figures.errors = load.errors;
  figures.firstError = load.firstError;
  return figures;
}

}  // namespace

TEST_CASE("A thousand REST connections and a thousand RPC clients are all served within bounds") {
  const int seconds = envInt("TENANTD_LOAD_SECONDS", 5);
  const int clients = envInt("TENANTD_LOAD_CLIENTS", 1000);
  // Each client's pace: RPC 5 checks/s, REST 1 check/s (5,000 and 1,000 a second for 1,000 of
  // each); under the sanitizers, whose daemon is several times slower, RPC 1/s and REST 0.5/s
  // (a REST connection idle past the daemon's request timeout, 10 s, is closed, as it should).
  const auto rpcPeriod = (SANITIZED ? 1000 : 200) * kj::MILLISECONDS;
  const auto restPeriod = (SANITIZED ? 2000 : 1000) * kj::MILLISECONDS;
  raiseDescriptorLimit(2 * static_cast<size_t>(clients) + 200);

  RunningDaemon d;
  auto rules = httpRequest(
      "PUT", d.restUrl + "/tenant/limits/resources",
      {{"Authorization", "Bearer " + d.demoToken()}, {"Content-Type", "application/json"}},
      json::array({{{"resource", "api"},
                    {"metric", "calls"},
                    {"period", "month"},
                    {"limit", int64_t{1} << 40}}})
          .dump());
  REQUIRE(rules.status == 200);
  int64_t rssBefore = rssKiB(d.process->pid());

  // The p99 the promise is about is a probe's: one RPC client and one REST connection on a
  // thread of their own, a check each every 5 ms, first with nothing else running (the idle
  // figure), then beside the load. Same client, same pace, same wake-ups: only the daemon's
  // load differs (the load's own latencies also count the load generator's queue).
  Probe idle;
  std::thread([&]() { idle = probe(d, std::max(400, 100 * seconds), nullptr); }).join();
  REQUIRE(idle.errors == 0);

  // Set up only now: a kj timer's now() is the last time its loop polled.
  auto io = kj::setupAsyncIo();
  Load load(io, d.socketPath, d.restUrl.substr(std::strlen("http://")), "Bearer " + d.demoToken());
  std::vector<kj::Own<RpcClient>> rpcClients;
  std::vector<kj::Own<RestClient>> restClients;
  for (int i = 0; i < clients; ++i) rpcClients.push_back(RpcClient::open(load));
  for (int i = 0; i < clients; ++i) restClients.push_back(RestClient::open(load));

  // Phases spread evenly over each period, so the arrivals are steady.
  io.waitScope.poll();
  auto start = load.timer().now() + 100 * kj::MILLISECONDS;
  kj::Vector<kj::Promise<void>> running;
  for (int i = 0; i < clients; ++i) {
    running.add(paced(load, *rpcClients[static_cast<size_t>(i)], load.rpc,
                      start + rpcPeriod * i / clients, rpcPeriod));
    running.add(paced(load, *restClients[static_cast<size_t>(i)], load.rest,
                      start + restPeriod * i / clients, restPeriod));
  }
  std::atomic<bool> loadDone{false};
  Probe loaded;
  std::thread prober([&]() { loaded = probe(d, 0, &loadDone); });
  int64_t peakKiB = rssBefore;
  running.add(sampleRss(load, d.process->pid(), peakKiB));
  // Eager: a join runs a branch's continuation only when every branch is done.
  running.add(load.timer()
                  .afterDelay(seconds * kj::SECONDS + 100 * kj::MILLISECONDS)
                  .then([&]() { load.stopping = true; })
                  .eagerlyEvaluate(nullptr));
  kj::joinPromises(running.releaseAsArray()).wait(io.waitScope);
  loadDone = true;
  prober.join();
  int64_t hwmKiB = rssKiB(d.process->pid(), "VmHWM:");

  // Every connection still answers.
  for (auto& c : rpcClients) c->check(load, load.rpc).wait(io.waitScope);
  for (auto& c : restClients) c->check(load, load.rest).wait(io.waitScope);

  size_t expectedRpc = static_cast<size_t>(clients) * static_cast<size_t>(seconds) * 1000 /
                       static_cast<size_t>(rpcPeriod / kj::MILLISECONDS);
  size_t expectedRest = static_cast<size_t>(clients) * static_cast<size_t>(seconds) * 1000 /
                        static_cast<size_t>(restPeriod / kj::MILLISECONDS);
  std::ostringstream figures;
  figures << "load: " << clients << " REST connections and " << clients << " RPC clients for "
          << seconds << " s: " << load.rpc.micros.size() << " RPC checks, "
          << load.rest.micros.size() << " REST checks, " << load.errors
          << " errors; the probe's RPC p50/p99 " << loaded.rpc.percentile(0.5) << "/"
          << loaded.rpc.percentile(0.99) << " us (idle " << idle.rpc.percentile(0.5) << "/"
          << idle.rpc.percentile(0.99) << "), REST p50/p99 " << loaded.rest.percentile(0.5) << "/"
          << loaded.rest.percentile(0.99) << " us (idle " << idle.rest.percentile(0.5) << "/"
          << idle.rest.percentile(0.99) << "); the load's own RPC p50/p99 "
          << load.rpc.percentile(0.5) << "/" << load.rpc.percentile(0.99) << " us, REST "
          << load.rest.percentile(0.5) << "/" << load.rest.percentile(0.99) << " us; the probe "
          << (loaded.realTime ? "at SCHED_FIFO" : "at normal priority (SCHED_FIFO refused)")
          << "; daemon RSS " << rssBefore / 1024 << " MiB before, peak "
          << std::max(peakKiB, hwmKiB) / 1024 << " MiB";
  std::cout << figures.str() << "\n";
  INFO(figures.str());
  INFO("first error: " << load.firstError << loaded.firstError);
  CHECK(load.errors + loaded.errors == 0);
  CHECK(load.rpc.micros.size() >= expectedRpc * 3 / 4);
  CHECK(load.rest.micros.size() >= expectedRest * 3 / 4);
  if (int factor = envInt("TENANTD_LOAD_P99_FACTOR", 0); factor > 0) {
    CHECK(loaded.rpc.percentile(0.99) <= static_cast<uint32_t>(factor) * idle.rpc.percentile(0.99));
  }
  // Bounded: 2,000 connections' buffers and state, not a leak per call.
  CHECK(std::max(peakKiB, hwmKiB) < rssBefore + (SANITIZED ? 1024 : 256) * 1024);
}

}  // namespace tenantd::testing
