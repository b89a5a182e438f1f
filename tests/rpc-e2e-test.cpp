// End to end: the real daemon's RPC socket under hostile and careless clients. After each abuse
// the daemon is still running, a connection opened before it and a fresh one both get answers
// (Sidecar.health and a Tenant.check on the demo tenant), and SIGTERM still ends it with exit 0
// (under `make asan`, a leak or sanitizer report would make that exit non-zero).

#include <signal.h>
#include <sys/resource.h>

#include <capnp/serialize.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/daemon-fixture.h"
#include "support/rpc-client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;

namespace {
struct Daemon {
  RunningDaemon daemon;
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::Own<RpcConnection> healthy;

  explicit Daemon(std::vector<std::string> extraArgs = {}) : daemon(std::move(extraArgs)) {
    healthy = RpcConnection::open(io, daemon.socketPath);
    REQUIRE(serves(io, *healthy) == "");
  }

  kj::Own<kj::AsyncIoStream> connect() {
    return within(io, connectUnix(io, daemon.socketPath)).wait(io.waitScope);
  }

  // The connection opened before the abuse and a new one both get answers.
  void stillServes() {
    CHECK_FALSE(daemon.process->waitForExit(0ms).has_value());
    CHECK(serves(io, *healthy) == "");
    auto fresh = RpcConnection::open(io, daemon.socketPath);
    CHECK(serves(io, *fresh) == "");
  }

  void stopsCleanly() {
    healthy = nullptr;
    daemon.process->signal(SIGTERM);
    CHECK(daemon.process->waitForExit(20s) == 0);
  }
};

// The bootstrap, then Sidecar.tenant("tenant-123") as question 1: the daemon answers with a
// Tenant capability it exports to us. Returns its export id.
uint32_t obtainTenant(Daemon& d, kj::AsyncIoStream& raw) {
  capnp::MallocMessageBuilder bootstrap;
  raw::initBootstrap(bootstrap, 0);
  raw::writeMessage(d.io, raw, bootstrap);
  capnp::MallocMessageBuilder call;
  raw::initParams<rpc::Sidecar::TenantParams>(raw::initCallOnAnswer(call, 1, 0),
                                              capnp::typeId<rpc::Sidecar>(), 1)
      .setId(DEMO_TENANT);
  raw::writeMessage(d.io, raw, call);
  auto reply = raw::readReturn(d.io, raw, 1);
  REQUIRE(reply.get() != nullptr);
  auto ret = reply->getRoot<capnp::rpc::Message>().getReturn();
  REQUIRE(ret.isResults());
  auto caps = ret.getResults().getCapTable();
  REQUIRE(caps.size() == 1);
  REQUIRE(caps[0].isSenderHosted());
  return caps[0].getSenderHosted();
}

void initCheck(rpc::Tenant::CheckParams::Builder params) {
  auto usage = params.initRequest();
  usage.setResource("api");
  usage.setMetric("calls");
}

// The daemon's resident memory, from /proc.
size_t rssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

size_t openFiles(pid_t pid) {
  auto fds = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd");
  return static_cast<size_t>(std::distance(fds, std::filesystem::directory_iterator()));
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool SANITIZED = true;  // ASan keeps freed memory in quarantine: RSS says little.
#else
constexpr bool SANITIZED = false;
#endif
}  // namespace

TEST_CASE("Truncated frames end only their own connection") {
  Daemon d;
  uint32_t partialTable[1] = {0};          // Half of a segment table, then EOF.
  uint32_t shortBody[2 + 6] = {0, 10, 0};  // One segment of 10 words, 3 sent, then EOF.
  for (auto bytes :
       {kj::arrayPtr(partialTable, 1).asBytes(), kj::arrayPtr(shortBody, 8).asBytes()}) {
    auto raw = d.connect();
    raw::writeBytes(d.io, *raw, bytes);
    raw->shutdownWrite();
    CHECK(raw::closedByServer(d.io, *raw));
    d.stillServes();
  }
  d.stopsCleanly();
}

TEST_CASE("A 4 GiB segment-size claim is refused at once without allocating it") {
  Daemon d;
  for (uint32_t words : {0xffffffffu, 0x20000000u, (1u << 20) + 1}) {  // 32 GiB, 4 GiB, 8 MiB+8.
    auto raw = d.connect();
    uint32_t header[2] = {0, words};
    raw::writeBytes(d.io, *raw, kj::arrayPtr(header, 2).asBytes());
    // Refused on the header alone: the connection stays open on our side and is closed by the
    // daemon without waiting for a body it will never read.
    CHECK(raw::closedByServer(d.io, *raw));
    d.stillServes();
  }
  d.stopsCleanly();
}

TEST_CASE("A message with too many segments is refused, 0xFFFFFFFF included") {
  Daemon d;
  // 0xFFFFFFFF + 1 wraps to 0 segments: capnp 0.9.2's own reader then writes past a zero-byte
  // allocation (advisory 2026-03-10); ours refuses it like any count over 511.
  for (uint32_t countMinusOne : {511u, 4095u, 0x7fffffffu, 0xffffffffu}) {
    auto raw = d.connect();
    uint32_t header[4] = {countMinusOne, 1, 1, 1};
    raw::writeBytes(d.io, *raw, kj::arrayPtr(header, 4).asBytes());
    CHECK(raw::closedByServer(d.io, *raw));
    d.stillServes();
  }
  d.stopsCleanly();
}

TEST_CASE("Garbage bytes on the socket end only that connection") {
  Daemon d;
  std::mt19937 random(20261201);
  for (int round = 0; round < 8; ++round) {
    auto raw = d.connect();
    std::vector<uint32_t> junk(4096);
    for (auto& w : junk) w = random();
    junk[0] = round;  // A plausible segment count, so the daemon reads into the body too.
    junk[1] = static_cast<uint32_t>(junk.size() / 2 - 2);
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                   raw::writeBytes(d.io, *raw, kj::arrayPtr(junk.data(), junk.size()).asBytes());
                   raw->shutdownWrite();
                 })) {
      // The daemon may close before it has read everything: a reset write is fine.
      CHECK(e->getType() == kj::Exception::Type::DISCONNECTED);
    }
    CHECK(raw::closedByServer(d.io, *raw));
  }
  d.stillServes();
  d.stopsCleanly();
}

TEST_CASE("A 512-deep pointer chain in parameters does not hurt the daemon") {
  Daemon d;
  auto raw = d.connect();
  capnp::MallocMessageBuilder bootstrap;
  raw::initBootstrap(bootstrap, 0);
  raw::writeMessage(d.io, *raw, bootstrap);
  {
    // Sidecar.health takes no parameters: the chain is never read and health answers.
    capnp::MallocMessageBuilder message;
    auto call = raw::initCallOnAnswer(message, 1, 0);
    call.setInterfaceId(capnp::typeId<rpc::Sidecar>());
    call.setMethodId(0);
    raw::initDeepChain(call.initParams().getContent(), 512);
    raw::writeMessage(d.io, *raw, message);
    auto reply = raw::readReturn(d.io, *raw, 1);
    REQUIRE(reply.get() != nullptr);
    CHECK(reply->getRoot<capnp::rpc::Message>().getReturn().isResults());
  }
  {
    // Tenant.check whose request is the chain: that call fails, the connection goes on.
    capnp::MallocMessageBuilder tenant;
    raw::initParams<rpc::Sidecar::TenantParams>(raw::initCallOnAnswer(tenant, 2, 0),
                                                capnp::typeId<rpc::Sidecar>(), 1)
        .setId(DEMO_TENANT);
    raw::writeMessage(d.io, *raw, tenant);
    capnp::MallocMessageBuilder message;
    auto call = raw::initCallOnAnswer(message, 3, 2);
    auto op = call.getTarget().getPromisedAnswer().initTransform(1)[0];
    op.setGetPointerField(0);
    call.setInterfaceId(capnp::typeId<rpc::Tenant>());
    call.setMethodId(1);
    auto params = call.initParams().getContent().initAsAnyStruct(0, 1);
    raw::initDeepChain(params.getPointerSection()[0], 512);
    raw::writeMessage(d.io, *raw, message);
    auto reply = raw::readReturn(d.io, *raw, 3);
    REQUIRE(reply.get() != nullptr);
    CHECK(reply->getRoot<capnp::rpc::Message>().getReturn().isException());
  }
  d.stillServes();
  d.stopsCleanly();
}

TEST_CASE("A call on an unknown interface fails that call and the connection goes on") {
  Daemon d;
  auto raw = d.connect();
  capnp::MallocMessageBuilder bootstrap;
  raw::initBootstrap(bootstrap, 0);
  raw::writeMessage(d.io, *raw, bootstrap);
  capnp::MallocMessageBuilder unknown;
  auto call = raw::initCallOnAnswer(unknown, 1, 0);
  call.setInterfaceId(0x1234567812345678ull);
  call.setMethodId(7);
  call.initParams();
  raw::writeMessage(d.io, *raw, unknown);
  auto failed = raw::readReturn(d.io, *raw, 1);
  REQUIRE(failed.get() != nullptr);
  auto ret = failed->getRoot<capnp::rpc::Message>().getReturn();
  REQUIRE(ret.isException());
  CHECK(ret.getException().getType() == capnp::rpc::Exception::Type::UNIMPLEMENTED);
  // An unknown method of a known interface, too.
  capnp::MallocMessageBuilder badMethod;
  auto call2 = raw::initCallOnAnswer(badMethod, 2, 0);
  call2.setInterfaceId(capnp::typeId<rpc::Sidecar>());
  call2.setMethodId(999);
  call2.initParams();
  raw::writeMessage(d.io, *raw, badMethod);
  auto failed2 = raw::readReturn(d.io, *raw, 2);
  REQUIRE(failed2.get() != nullptr);
  CHECK(failed2->getRoot<capnp::rpc::Message>().getReturn().isException());
  // The same connection still answers a good call.
  capnp::MallocMessageBuilder health;
  raw::initCallOnAnswer(health, 3, 0)
      .setInterfaceId(capnp::typeId<rpc::Sidecar>());  // health: method 0, no parameters.
  raw::writeMessage(d.io, *raw, health);
  auto answered = raw::readReturn(d.io, *raw, 3);
  REQUIRE(answered.get() != nullptr);
  CHECK(answered->getRoot<capnp::rpc::Message>().getReturn().isResults());
  d.stillServes();
  d.stopsCleanly();
}

TEST_CASE("A call on a capability the peer already released ends that connection only") {
  Daemon d;
  auto raw = d.connect();
  uint32_t tenant = obtainTenant(d, *raw);
  // A well-formed call on it works ...
  capnp::MallocMessageBuilder first;
  initCheck(raw::initParams<rpc::Tenant::CheckParams>(raw::initCallOnImport(first, 2, tenant),
                                                      capnp::typeId<rpc::Tenant>(), 1));
  raw::writeMessage(d.io, *raw, first);
  auto answered = raw::readReturn(d.io, *raw, 2);
  REQUIRE(answered.get() != nullptr);
  CHECK(answered->getRoot<capnp::rpc::Message>().getReturn().isResults());
  // ... then we finish question 1 (keeping its capability) and release our only reference ...
  capnp::MallocMessageBuilder finish;
  auto f = finish.initRoot<capnp::rpc::Message>().initFinish();
  f.setQuestionId(1);
  f.setReleaseResultCaps(false);
  raw::writeMessage(d.io, *raw, finish);
  capnp::MallocMessageBuilder release;
  auto r = release.initRoot<capnp::rpc::Message>().initRelease();
  r.setId(tenant);
  r.setReferenceCount(1);
  raw::writeMessage(d.io, *raw, release);
  // ... and call it again: a protocol error, so the daemon aborts this connection.
  capnp::MallocMessageBuilder stale;
  initCheck(raw::initParams<rpc::Tenant::CheckParams>(raw::initCallOnImport(stale, 3, tenant),
                                                      capnp::typeId<rpc::Tenant>(), 1));
  raw::writeMessage(d.io, *raw, stale);
  auto reply = raw::readReturn(d.io, *raw, 3);
  CHECK(reply.get() == nullptr);  // No answer: the connection ended instead.
  CHECK(raw::closedByServer(d.io, *raw));
  d.stillServes();
  d.stopsCleanly();
}

TEST_CASE("Releasing more references than were exported, or unknown ones, ends that connection") {
  Daemon d;
  for (uint32_t extra : {2u, 0u}) {
    auto raw = d.connect();
    uint32_t tenant = obtainTenant(d, *raw);
    capnp::MallocMessageBuilder release;
    auto r = release.initRoot<capnp::rpc::Message>().initRelease();
    r.setId(extra == 0 ? tenant + 1000 : tenant);  // An id never exported, or one over-released.
    r.setReferenceCount(extra == 0 ? 1 : extra);
    raw::writeMessage(d.io, *raw, release);
    CHECK(raw::closedByServer(d.io, *raw));
    d.stillServes();
  }
  d.stopsCleanly();
}

TEST_CASE("A pipelined call on an answer already finished ends that connection only") {
  Daemon d;
  auto raw = d.connect();
  obtainTenant(d, *raw);
  capnp::MallocMessageBuilder finish;
  auto f = finish.initRoot<capnp::rpc::Message>().initFinish();
  f.setQuestionId(1);
  f.setReleaseResultCaps(true);
  raw::writeMessage(d.io, *raw, finish);
  capnp::MallocMessageBuilder late;
  auto call = raw::initCallOnAnswer(late, 2, 1);
  call.getTarget().getPromisedAnswer().initTransform(1)[0].setGetPointerField(0);
  initCheck(raw::initParams<rpc::Tenant::CheckParams>(call, capnp::typeId<rpc::Tenant>(), 1));
  raw::writeMessage(d.io, *raw, late);
  CHECK(raw::closedByServer(d.io, *raw));
  d.stillServes();
  d.stopsCleanly();
}

TEST_CASE(
    "A client that drops its capabilities and disconnects mid-call leaves the daemon serving") {
  Daemon d;
  for (int round = 0; round < 20; ++round) {
    auto careless = RpcConnection::open(d.io, d.daemon.socketPath);
    auto get = careless->sidecar.tenantRequest();
    get.setId(DEMO_TENANT);
    auto tenant = get.send().getTenant();
    // Durable calls (answered after a commit) and checks, all dropped in flight with the
    // connection.
    kj::Vector<kj::Promise<void>> inFlight;
    for (int i = 0; i < 50; ++i) {
      auto track = tenant.trackRequest();
      auto usage = track.initRequest().initUsage();
      usage.setResource("api");
      usage.setMetric("calls");
      usage.setAmount(1);
      inFlight.add(track.send().ignoreResult());
      auto check = tenant.checkRequest();
      initCheck(check);
      inFlight.add(check.send().ignoreResult());
    }
    // Let the calls reach the daemon, then vanish without finishing them.
    within(d.io, careless->health()).wait(d.io.waitScope);
    careless = nullptr;
    inFlight.clear();
  }
  d.stillServes();
  d.stopsCleanly();
}

}  // namespace tenantd::testing

namespace tenantd::testing {

namespace {
// A client that sends Tenant.check calls as fast as the socket takes them, 64 per write, and
// never reads a reply nor finishes a call.
struct Flood {
  kj::Own<kj::AsyncIoStream> socket;
  uint32_t tenant;
  uint32_t nextQuestion = 2;
  size_t calls = 0;
  std::chrono::steady_clock::time_point lastProgress = std::chrono::steady_clock::now();
  kj::Maybe<kj::Promise<void>> running;

  explicit Flood(Daemon& d) : socket(d.connect()), tenant(obtainTenant(d, *socket)) {
    running = writeMore().eagerlyEvaluate([](kj::Exception&&) {});
  }
  ~Flood() { running = nullptr; }

  kj::Promise<void> writeMore() {
    kj::Vector<kj::byte> bytes;
    for (int i = 0; i < 64; ++i) {
      capnp::MallocMessageBuilder message;
      initCheck(raw::initParams<rpc::Tenant::CheckParams>(
          raw::initCallOnImport(message, nextQuestion++, tenant), capnp::typeId<rpc::Tenant>(), 1));
      bytes.addAll(capnp::messageToFlatArray(message).asBytes());
    }
    auto data = bytes.releaseAsArray();
    auto written = socket->write(data.begin(), data.size());
    return written.attach(kj::mv(data)).then([this]() {
      calls += 64;
      lastProgress = std::chrono::steady_clock::now();
      return writeMore();
    });
  }
  bool stuckFor(std::chrono::milliseconds d) const {
    return std::chrono::steady_clock::now() - lastProgress > d;
  }
};
}  // namespace

TEST_CASE("A client that floods calls and never reads is throttled while others are served") {
  Daemon d;
  pid_t pid = d.daemon.process->pid();
  size_t rssBefore = rssKiB(pid);
  auto flood = kj::heap<Flood>(d);
  // Sequential checks on the healthy connection until the flood has been stuck for 2 s: the
  // daemon stopped reading it (its unfinished calls reached the connection's flow limit).
  double slowestMs = 0;
  int checks = 0;
  while (!flood->stuckFor(std::chrono::seconds(2)) && flood->calls < 2'000'000) {
    auto start = std::chrono::steady_clock::now();
    REQUIRE(serves(d.io, *d.healthy) == "");
    slowestMs =
        std::max(slowestMs,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    ++checks;
  }
  INFO("flood calls written " << flood->calls << ", healthy checks " << checks << ", slowest "
                              << slowestMs << " ms, daemon RSS " << rssBefore << " -> "
                              << rssKiB(pid) << " KiB");
  CHECK(flood->stuckFor(std::chrono::seconds(2)));
  // Throttled early: what the daemon read (about FLOW_LIMIT_WORDS of calls) plus socket buffers.
  CHECK(flood->calls < 20'000);
  CHECK(checks > 10);
  CHECK(slowestMs < 1000);
  if (!SANITIZED) CHECK(rssKiB(pid) < rssBefore + 64 * 1024);
  // The flooder vanishes with its calls unfinished; everything it held is released (LSan checks
  // at exit under `make asan`).
  flood = nullptr;
  d.stillServes();
  d.stopsCleanly();
}

TEST_CASE("Ten thousand clients connected at once each get their calls answered") {
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  // This process needs a descriptor per client too, plus its own few.
  size_t clients = 10'000;
  if (limit.rlim_max < clients + 200) {
    clients = limit.rlim_max > 400 ? limit.rlim_max - 200 : 0;
    WARN("hard RLIMIT_NOFILE is " << limit.rlim_max << ": testing " << clients << " clients");
  }
  REQUIRE(clients > 0);
  // The daemon starts with the soft limit a login shell gives (1024) and must raise its own.
  rlimit low = limit;
  low.rlim_cur = std::min<rlim_t>(1024, limit.rlim_max);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  Daemon d;
  limit.rlim_cur = limit.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &limit) == 0);
  size_t rssBefore = rssKiB(d.daemon.process->pid());

  // Connect with at most 256 handshakes under way (the listen backlog is 1024), each client
  // making one health call; every connection stays open.
  kj::Vector<kj::Own<RpcConnection>> open;
  size_t started = 0, answered = 0;
  std::function<kj::Promise<void>()> next = [&]() -> kj::Promise<void> {
    if (started == clients) return kj::READY_NOW;
    ++started;
    return connectUnix(d.io, d.daemon.socketPath)
        .then([&](kj::Own<kj::AsyncIoStream> stream) {
          open.add(kj::heap<RpcConnection>(kj::mv(stream)));
          return open.back()->health();
        })
        .then([&](std::string status) {
          if (status == "ok") ++answered;
          return next();
        });
  };
  kj::Vector<kj::Promise<void>> lanes;
  for (int i = 0; i < 256; ++i) lanes.add(next());
  within(d.io, kj::joinPromises(lanes.releaseAsArray()), 100 * kj::SECONDS).wait(d.io.waitScope);
  CHECK(answered == clients);
  CHECK(openFiles(d.daemon.process->pid()) >= clients);
  size_t rssConnected = rssKiB(d.daemon.process->pid());

  // All of them call again at once: clients × calls in flight.
  size_t again = 0;
  kj::Vector<kj::Promise<void>> calls;
  for (auto& c : open) {
    calls.add(c->health().then([&again](std::string&& status) { again += status == "ok"; }));
  }
  within(d.io, kj::joinPromises(calls.releaseAsArray()), 60 * kj::SECONDS).wait(d.io.waitScope);
  CHECK(again == clients);
  INFO("daemon RSS " << rssBefore << " KiB idle, " << rssConnected << " KiB with " << clients
                     << " clients connected, " << rssKiB(d.daemon.process->pid())
                     << " KiB after they all called at once");
  d.stillServes();
  open.clear();
  d.stillServes();
  d.stopsCleanly();
}

TEST_CASE("Out of file descriptors the daemon keeps serving and accepts again as clients leave") {
#ifdef TENANTD_SANITIZED
  // UBSan's vptr check proves a vtable readable by writing it into a pipe (sanitizer_common's
  // IsAccessibleMemoryRange). Out of descriptors that pipe() fails, so the first check of each
  // new type reports a false "invalid vptr" and halts the daemon. The release suite runs this.
  WARN("skipped under the sanitizers: their vptr check needs free descriptors");
  return;
#endif
  TempDir dir;
  NotifySocket notify(dir.file("notify.sock"));
  std::string socketPath = dir.file("run/t.sock");
  // 96 descriptors: about 70 left for connections once the store, loops and listeners have theirs.
  Process daemon("/usr/bin/prlimit",
                 {{"--nofile=96:96", TENANTD_BIN, "--dev", "--listen", "127.0.0.1:0", "--socket",
                   socketPath, "--data-dir", dir.file("var")},
                  dir.path().string(),
                  {{"NOTIFY_SOCKET", notify.path()}},
                  dir.file("out"),
                  dir.file("err")});
  REQUIRE(notify.waitFor("READY=1", READY_DEADLINE, &daemon));
  kj::AsyncIoContext io = kj::setupAsyncIo();

  // 150 clients, each with a health call in flight: more than the daemon can accept.
  constexpr size_t CLIENTS = 150;
  struct Client {
    kj::Own<RpcConnection> connection;
    bool answered = false;
    kj::Maybe<kj::Promise<void>> call;
  };
  kj::Vector<kj::Own<Client>> clients;
  size_t answered = 0;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> progress;
  for (size_t i = 0; i < CLIENTS; ++i) {
    auto c = kj::heap<Client>();
    c->connection = RpcConnection::open(io, socketPath);
    c->call = c->connection->health()
                  .then([&, client = c.get()](std::string) {
                    client->answered = true;
                    ++answered;
                    KJ_IF_MAYBE (p, progress) {
                      (*p)->fulfill();
                    }
                  })
                  .eagerlyEvaluate(nullptr);
    clients.add(kj::mv(c));
  }
  REQUIRE(waitForFileText(dir.file("err"), "cannot accept more connections", 20s));
  io.waitScope.poll();
  INFO("answered before any client left: " << answered);
  CHECK(answered < CLIENTS);
  CHECK_FALSE(daemon.waitForExit(0ms).has_value());

  // Answered clients leave; those waiting in the listen backlog are accepted and answered in
  // their turn, as descriptors free up.
  while (answered < CLIENTS) {
    for (auto& c : clients) {
      if (c->answered) {
        c->call = nullptr;
        c->connection = nullptr;
      }
    }
    auto paf = kj::newPromiseAndFulfiller<void>();
    progress = kj::mv(paf.fulfiller);
    within(io, kj::mv(paf.promise), 20 * kj::SECONDS).wait(io.waitScope);
    progress = nullptr;
  }
  CHECK(answered == CLIENTS);
  CHECK(waitForFileText(dir.file("err"), "accepting connections again", 10s));
  clients.clear();
  daemon.signal(SIGTERM);
  CHECK(daemon.waitForExit(20s) == 0);
}

}  // namespace tenantd::testing
