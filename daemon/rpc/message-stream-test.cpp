#include "message-stream.h"

#include <sys/socket.h>

#include <capnp/message.h>
#include <capnp/serialize-async.h>
#include <capnp/serialize.h>
#include <kj/debug.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace tenantd {

namespace {
// Our stream on one end of a socket pair, the peer's raw stream on the other, on one kj loop,
// with time under the test's control.
struct Pair {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::TimerImpl timer{kj::origin<kj::TimePoint>()};
  kj::Own<kj::AsyncIoStream> ours;
  kj::Own<kj::AsyncIoStream> peer;
  kj::Own<BoundedMessageStream> stream;

  explicit Pair(BoundedMessageStream::Limits limits = {}) {
    int fds[2];
    KJ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    ours = io.lowLevelProvider->wrapSocketFd(fds[0], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    peer = io.lowLevelProvider->wrapSocketFd(fds[1], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    stream = kj::heap<BoundedMessageStream>(*ours, timer, limits);
  }
  ~Pair() { stream = nullptr; }

  kj::Own<capnp::MessageReader> read(capnp::ReaderOptions options = {}) {
    auto next = stream->tryReadMessage(nullptr, options, nullptr).wait(io.waitScope);
    KJ_IF_MAYBE (m, next) {
      return kj::mv(m->reader);
    }
    return {};
  }
  void peerWrites(kj::ArrayPtr<const kj::byte> bytes) {
    peer->write(bytes.begin(), bytes.size()).wait(io.waitScope);
  }
  void advance(kj::Duration d) {
    timer.advanceTo(timer.now() + d);
    io.waitScope.poll();
  }
};

// A message whose root struct holds `value` and `padBytes` of data behind a pointer.
kj::Array<capnp::word> message(uint64_t value, size_t padBytes = 0) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.getRoot<capnp::AnyPointer>().initAsAnyStruct(1, 1);
  memcpy(root.getDataSection().begin(), &value, sizeof(value));
  if (padBytes > 0) root.getPointerSection()[0].initAs<capnp::Data>(padBytes);
  return capnp::messageToFlatArray(builder);
}

uint64_t valueOf(capnp::MessageReader& reader) {
  uint64_t v;
  memcpy(&v, reader.getRoot<capnp::AnyStruct>().getDataSection().begin(), sizeof(v));
  return v;
}

kj::Array<kj::byte> concat(std::initializer_list<kj::ArrayPtr<const capnp::word>> parts) {
  kj::Vector<kj::byte> out;
  for (auto& p : parts) out.addAll(p.asBytes());
  return out.releaseAsArray();
}

// Queues a message(value, padBytes) on our stream's write side.
void send(Pair& p, uint64_t value, size_t padBytes = 0) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.getRoot<capnp::AnyPointer>().initAsAnyStruct(1, 1);
  memcpy(root.getDataSection().begin(), &value, sizeof(value));
  if (padBytes > 0) root.getPointerSection()[0].initAs<capnp::Data>(padBytes);
  // Accepted at once (queued); not waited on, so this works inside an event callback too.
  kj::Promise<void> accepted = p.stream->writeMessage(nullptr, builder.getSegmentsForOutput());
}

uint32_t readLe32ForTest(const kj::byte* p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

std::string failureOf(Pair& p, capnp::ReaderOptions options = {}) {
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { p.read(options); })) {
    return e->getDescription().cStr();
  }
  return "";
}
}  // namespace

TEST_CASE("Messages that arrive together are served from one read") {
  Pair p;
  auto a = message(1), b = message(2, 100), c = message(3);
  p.peerWrites(concat({a, b, c}));
  CHECK(valueOf(*p.read()) == 1);
  CHECK(valueOf(*p.read()) == 2);
  CHECK(valueOf(*p.read()) == 3);
  CHECK(p.stream->counters().reads == 1);
  CHECK(p.stream->counters().messagesIn == 3);
}

TEST_CASE(
    "A message larger than the read buffer arrives whole, in pieces, and the buffer shrinks") {
  Pair p({64, 1 << 20, 30 * kj::SECONDS});
  auto big = message(7, 100'000);
  auto bytes = big.asBytes();
  auto reading = p.stream->tryReadMessage(nullptr, {}, nullptr);
  p.peerWrites(bytes.slice(0, 5));  // Not even the whole segment table.
  CHECK_FALSE(reading.poll(p.io.waitScope));
  p.peerWrites(bytes.slice(5, 50'000));
  CHECK_FALSE(reading.poll(p.io.waitScope));
  p.peerWrites(bytes.slice(50'000, bytes.size()));
  auto got = reading.wait(p.io.waitScope);
  KJ_IF_MAYBE (m, got) {
    CHECK(valueOf(*m->reader) == 7);
    CHECK(
        m->reader->getRoot<capnp::AnyStruct>().getPointerSection()[0].getAs<capnp::Data>().size() ==
        100'000);
  } else {
    FAIL("no message");
  }
  auto small = message(8);
  p.peerWrites(small.asBytes());
  CHECK(valueOf(*p.read()) == 8);
}

TEST_CASE("A multi-segment message is framed and read back") {
  Pair p;
  capnp::MallocMessageBuilder builder(1, capnp::AllocationStrategy::FIXED_SIZE);  // 1-word segments
  auto root = builder.getRoot<capnp::AnyPointer>().initAsAnyStruct(1, 1);
  uint64_t value = 42;
  memcpy(root.getDataSection().begin(), &value, sizeof(value));
  root.getPointerSection()[0].initAs<capnp::Data>(64);
  REQUIRE(builder.getSegmentsForOutput().size() > 1);
  p.stream->writeMessage(nullptr, builder.getSegmentsForOutput()).wait(p.io.waitScope);
  auto echoed = capnp::readMessage(*p.peer).wait(p.io.waitScope);
  CHECK(valueOf(*echoed) == 42);
  p.peerWrites(capnp::messageToFlatArray(builder).asBytes());
  CHECK(valueOf(*p.read()) == 42);
}

TEST_CASE("Headers over the limits are refused before anything is allocated") {
  {
    Pair p;
    uint32_t wraps[2] = {0xffffffffu, 0};  // 0 segments after the + 1: capnp 0.9.2 overflows.
    p.peerWrites(kj::arrayPtr(wraps, 2).asBytes());
    CHECK(failureOf(p).find("too many segments") != std::string::npos);
  }
  {
    Pair p;
    uint32_t many[2] = {511, 1};  // 512 segments.
    p.peerWrites(kj::arrayPtr(many, 2).asBytes());
    CHECK(failureOf(p).find("too many segments") != std::string::npos);
  }
  {
    Pair p;
    uint32_t huge[2] = {0, (1u << 20) + 1};  // One word over the reader's traversal limit.
    p.peerWrites(kj::arrayPtr(huge, 2).asBytes());
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 1 << 20;
    CHECK(failureOf(p, options).find("Message is too large") != std::string::npos);
  }
  {
    Pair p;
    uint32_t sum[4] = {1, 0x80000000u, 0x80000000u, 0};  // Sizes that overflow 32 bits summed.
    p.peerWrites(kj::arrayPtr(sum, 4).asBytes());
    CHECK(failureOf(p).find("Message is too large") != std::string::npos);
  }
}

TEST_CASE("End of stream is clean at a message boundary and premature inside one") {
  {
    Pair p;
    p.peerWrites(message(1).asBytes());
    p.peer->shutdownWrite();
    CHECK(valueOf(*p.read()) == 1);
    CHECK(p.read().get() == nullptr);
  }
  {
    Pair p;
    auto m = message(1);
    p.peerWrites(m.asBytes().slice(0, 12));
    p.peer->shutdownWrite();
    CHECK(failureOf(p).find("Premature EOF") != std::string::npos);
  }
}

TEST_CASE("Messages written in one turn leave in one write") {
  Pair p;
  // Three replies produced in one turn: nothing runs the loop in between (wait() would).
  kj::Vector<kj::Promise<void>> accepted;
  for (uint64_t v = 1; v <= 3; ++v) {
    capnp::MallocMessageBuilder builder;
    auto root = builder.getRoot<capnp::AnyPointer>().initAsAnyStruct(1, 1);
    memcpy(root.getDataSection().begin(), &v, sizeof(v));
    accepted.add(p.stream->writeMessage(nullptr, builder.getSegmentsForOutput()));
  }
  for (uint64_t v = 1; v <= 3; ++v) {
    CHECK(valueOf(*capnp::readMessage(*p.peer).wait(p.io.waitScope)) == v);
  }
  CHECK(p.stream->counters().writes == 1);
  CHECK(p.stream->counters().messagesOut == 3);
  CHECK(p.stream->unsentBytes() == 0);
}

TEST_CASE("A peer that leaves replies unread is not read from, then disconnected") {
  Pair p({4096, 64 * 1024, 30 * kj::SECONDS});
  // 4 MiB of replies: far more than the socket holds, so most of it waits in our queue.
  for (int i = 0; i < 64; ++i) send(p, i, 64 * 1024);
  p.io.waitScope.poll();
  CHECK(p.stream->unsentBytes() > 64 * 1024);
  p.peerWrites(message(99).asBytes());
  auto reading = p.stream->tryReadMessage(nullptr, {}, nullptr);
  CHECK_FALSE(reading.poll(p.io.waitScope));  // Paused, though a request is there.
  CHECK(p.stream->counters().pauses == 1);
  p.advance(29 * kj::SECONDS);
  CHECK_FALSE(reading.poll(p.io.waitScope));
  p.advance(2 * kj::SECONDS);
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { reading.wait(p.io.waitScope); })) {
    CHECK(e->getType() == kj::Exception::Type::DISCONNECTED);
    CHECK(std::string(e->getDescription().cStr()).find("stopped reading") != std::string::npos);
  } else {
    FAIL("the stalled peer was not disconnected");
  }
}

TEST_CASE("A paused peer is read from again once it reads its replies") {
  Pair p({4096, 64 * 1024, 30 * kj::SECONDS});
  for (int i = 0; i < 64; ++i) send(p, i, 64 * 1024);
  p.peerWrites(message(99).asBytes());
  auto reading = p.stream->tryReadMessage(nullptr, {}, nullptr);
  CHECK_FALSE(reading.poll(p.io.waitScope));
  for (int i = 0; i < 64; ++i) {
    CHECK(valueOf(*capnp::readMessage(*p.peer).wait(p.io.waitScope)) == static_cast<uint64_t>(i));
  }
  auto got = reading.wait(p.io.waitScope);
  KJ_IF_MAYBE (m, got) {
    CHECK(valueOf(*m->reader) == 99);
  } else {
    FAIL("no message");
  }
  CHECK(p.stream->unsentBytes() == 0);
}

TEST_CASE("end() delivers what is queued, then the peer sees the end of the stream") {
  Pair p;
  send(p, 5, 300'000);  // More than the socket holds: end() has to wait for the peer.
  auto received = capnp::readMessage(*p.peer).eagerlyEvaluate(nullptr);
  p.stream->end().wait(p.io.waitScope);
  CHECK(valueOf(*received.wait(p.io.waitScope)) == 5);
  char byte;
  CHECK(p.peer->tryRead(&byte, 1, 1).wait(p.io.waitScope) == 0);
}

namespace {
// What a reader made of one message: the size of what its root reaches, or why it failed.
std::string summarize(capnp::MessageReader& reader) {
  std::string out;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 auto size = reader.getRoot<capnp::AnyPointer>().targetSize();
                 out = "root " + std::to_string(size.wordCount) + "w " +
                       std::to_string(size.capCount) + "c";
               })) {
    out = "bad root";
  }
  return out;
}

// Every message a stream yields until its end, then "end" or why it failed: the header limits
// by their (shared) messages, anything else (premature end) as "failed".
template <typename ReadNext>
std::vector<std::string> drain(ReadNext&& readNext) {
  std::vector<std::string> outcomes;
  for (;;) {
    kj::Maybe<kj::Own<capnp::MessageReader>> next;
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { next = readNext(); })) {
      std::string why = e->getDescription().cStr();
      outcomes.push_back(why.find("too many segments") != std::string::npos ? "failed: segments"
                         : why.find("too large") != std::string::npos       ? "failed: size"
                                                                            : "failed");
      return outcomes;
    }
    KJ_IF_MAYBE (m, next) {
      outcomes.push_back(summarize(**m));
    } else {
      outcomes.push_back("end");
      return outcomes;
    }
  }
}

// A stream of 1-4 well-formed messages, some of several segments, some with far pointers.
kj::Array<kj::byte> wellFormed(std::mt19937& rng) {
  kj::Vector<kj::byte> out;
  for (int n = 1 + rng() % 4; n > 0; --n) {
    uint firstSegmentWords = rng() % 2 ? 1 + rng() % 4 : 1024;
    capnp::MallocMessageBuilder builder(firstSegmentWords, capnp::AllocationStrategy::FIXED_SIZE);
    auto root = builder.getRoot<capnp::AnyPointer>().initAsAnyStruct(1, 2);
    uint64_t value = rng();
    memcpy(root.getDataSection().begin(), &value, sizeof(value));
    root.getPointerSection()[0].initAs<capnp::Data>(rng() % 200);
    if (rng() % 2) root.getPointerSection()[1].initAs<capnp::List<uint64_t>>(rng() % 40);
    out.addAll(capnp::messageToFlatArray(builder).asBytes());
  }
  return out.releaseAsArray();
}

// Mutates in place (keeping 8-byte alignment, so message starts stay where a reader looks for
// them), may truncate, may append garbage.
kj::Array<kj::byte> mutate(kj::Array<kj::byte> in, std::mt19937& rng) {
  kj::Vector<kj::byte> out;
  out.addAll(in);
  static constexpr uint32_t INTERESTING[] = {0,    1,          2,           7,          8,    255,
                                             510,  511,        512,         513,        1023, 1024,
                                             1025, 0x7fffffff, 0x80000000u, 0xfffffffeu};
  for (int n = rng() % 4; n > 0; --n) {
    size_t word = rng() % (out.size() / 4);
    uint32_t v = rng() % 3 == 0 ? uint32_t(rng()) : INTERESTING[rng() % std::size(INTERESTING)];
    memcpy(out.begin() + 4 * word, &v, 4);
  }
  for (int n = rng() % 3; n > 0; --n) out[rng() % out.size()] ^= kj::byte(1u << (rng() % 8));
  if (rng() % 4 == 0) out.resize(rng() % (out.size() + 1));
  if (rng() % 4 == 0) {
    for (int n = rng() % 40; n > 0; --n) out.add(kj::byte(rng()));
  }
  // 0xFFFFFFFF as a segment count overflows capnp 0.9.2's own reader, the reference here; ours
  // refuses it, which "Headers over the limits..." above tests.
  for (size_t i = 0; i + 4 <= out.size(); i += 4) {
    if (readLe32ForTest(out.begin() + i) == 0xffffffffu) out[i] = 0xfe;
  }
  return out.releaseAsArray();
}
}  // namespace

TEST_CASE("Fuzz: mutated streams frame exactly as capnp's own reader frames them") {
  // Differential: BoundedMessageStream against capnp::AsyncIoMessageStream (the reader it
  // replaces) on the same bytes. Both must yield the same messages (the same roots, or both fail
  // to read a root), then end cleanly or fail at the same point. Small read buffers make messages
  // straddle reads and the buffer grow and shrink.
  std::mt19937 rng(20261128);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 512;
  options.nestingLimit = 16;
  size_t mutated = 0, failedStreams = 0;
  for (int i = 0; i < 3000; ++i) {
    auto bytes = wellFormed(rng);
    if (rng() % 8 != 0) {
      bytes = mutate(kj::mv(bytes), rng);
      ++mutated;
    }
    BoundedMessageStream::Limits limits;
    static constexpr size_t BUFFERS[] = {8, 20, 64, 4096};
    limits.readBufferBytes = BUFFERS[rng() % std::size(BUFFERS)];
    Pair p(limits);
    p.peerWrites(bytes);
    p.peer->shutdownWrite();
    auto ours = drain([&]() -> kj::Maybe<kj::Own<capnp::MessageReader>> {
      auto next = p.stream->tryReadMessage(nullptr, options, nullptr).wait(p.io.waitScope);
      KJ_IF_MAYBE (m, next) {
        return kj::mv(m->reader);
      }
      return nullptr;
    });

    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    auto refIn =
        p.io.lowLevelProvider->wrapSocketFd(fds[0], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    auto refPeer =
        p.io.lowLevelProvider->wrapSocketFd(fds[1], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    refPeer->write(bytes.begin(), bytes.size()).wait(p.io.waitScope);
    refPeer->shutdownWrite();
    capnp::AsyncIoMessageStream reference(*refIn);
    auto theirs = drain([&]() -> kj::Maybe<kj::Own<capnp::MessageReader>> {
      auto next = reference.tryReadMessage(nullptr, options, nullptr).wait(p.io.waitScope);
      KJ_IF_MAYBE (m, next) {
        return kj::mv(m->reader);
      }
      return nullptr;
    });
    INFO("case " << i << ", " << bytes.size() << " bytes, read buffer " << limits.readBufferBytes);
    REQUIRE(ours == theirs);
    if (ours.back().rfind("failed", 0) == 0) ++failedStreams;
  }
  // The mutations must reach the failure paths, and not only them.
  CHECK(failedStreams > 300);
  CHECK(failedStreams < mutated);
}

}  // namespace tenantd
