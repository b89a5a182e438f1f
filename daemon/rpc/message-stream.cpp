#include "message-stream.h"

#include <sys/socket.h>

#include <capnp/rpc.capnp.h>
#include <kj/debug.h>

#include <cstring>
#include <utility>

namespace tenantd {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the segment table is read in place");

namespace {
// capnp's own limit: fewer than 512 segments (checked on segmentCount - 1 so that 0xFFFFFFFF,
// which wraps to 0 segments, is refused too).
constexpr uint32_t MAX_SEGMENTS_MINUS_ONE = 510;
// A write buffer that grew for a burst is given back once it drains.
constexpr size_t KEEP_WRITE_BUFFER_BYTES = 64 * 1024;

uint32_t readLe32(const kj::byte* p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

size_t tableBytes(uint32_t segments) {
  return (4 + 4 * size_t{segments} + 7) & ~size_t{7};
}

// Bytes that passed through (a secret value in Admin.putSecret, in a getSecret reply) are zeroed
// before their memory is reused or freed; explicit_bzero, so the compiler cannot drop it.
void wipe(void* p, size_t n) {
  if (n > 0) explicit_bzero(p, n);
}

// A message's words, zeroed when the reader that points into them goes away.
class WipedWords {
public:
  explicit WipedWords(kj::Array<capnp::word> words) : words_(kj::mv(words)) {}
  ~WipedWords() { wipe(words_.begin(), words_.asBytes().size()); }
  KJ_DISALLOW_COPY(WipedWords);

private:
  kj::Array<capnp::word> words_;
};

// Appends to `v`, growing it by hand so that no copy is left behind in a freed block.
void appendWiped(kj::Vector<kj::byte>& v, kj::ArrayPtr<const kj::byte> bytes) {
  if (v.size() + bytes.size() > v.capacity()) {
    kj::Vector<kj::byte> bigger(kj::max(v.capacity() * 2, v.size() + bytes.size()));
    bigger.addAll(v);
    wipe(v.begin(), v.size());
    v = kj::mv(bigger);
  }
  v.addAll(bytes);
}

kj::Exception disconnected(const char* why) {
  return kj::Exception(kj::Exception::Type::DISCONNECTED, __FILE__, __LINE__, kj::str(why));
}
}  // namespace

BoundedMessageStream::BoundedMessageStream(kj::AsyncIoStream& stream, kj::Maybe<kj::Timer&> timer,
                                           Limits limits)
    : stream_(stream), timer_(timer), limits_(limits), broken_(nullptr) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  brokenFulfiller_ = kj::mv(paf.fulfiller);
  broken_ = paf.promise.fork();
}

BoundedMessageStream::~BoundedMessageStream() noexcept(false) {
  wipe(in_.begin(), in_.size());
  wipe(queued_.begin(), queued_.size());
  wipe(inFlight_.begin(), inFlight_.size());
}

kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> BoundedMessageStream::tryReadMessage(
    kj::ArrayPtr<kj::AutoCloseFd>, capnp::ReaderOptions options, kj::ArrayPtr<capnp::word>) {
  KJ_IF_MAYBE (e, writeFailed_) {
    return kj::cp(*e);
  }
  if (unsentBytes() > limits_.outgoingBytes) {
    // The peer is not reading our replies: read none of its requests until half of them are
    // gone, so what it can make us hold stays bounded. (If it never reads, the write watchdog
    // stalls the stream.)
    ++counters_.pauses;
    return whenDrained(limits_.outgoingBytes / 2).then([this, options]() {
      return tryReadMessage(nullptr, options, nullptr);
    });
  }
  auto message = tryParse(options);
  if (message.get() != nullptr) {
    ++counters_.messagesIn;
    if (limits_.maxOpenQuestions > 0) countQuestions(*message);
    return kj::Maybe<capnp::MessageReaderAndFds>(capnp::MessageReaderAndFds{kj::mv(message), {}});
  }
  return readMore(options);
}

void BoundedMessageStream::countQuestions(capnp::MessageReader& message) {
  // A malformed root fails here as it would in the RpcSystem: the connection ends either way.
  switch (message.getRoot<capnp::rpc::Message>().which()) {
    case capnp::rpc::Message::CALL:
    case capnp::rpc::Message::BOOTSTRAP: ++counters_.openQuestions; break;
    case capnp::rpc::Message::FINISH: --counters_.openQuestions; break;
    default: break;
  }
  KJ_REQUIRE(counters_.openQuestions <= int64_t{limits_.maxOpenQuestions},
             "too many calls without a Finish message", limits_.maxOpenQuestions);
}

kj::Own<capnp::MessageReader> BoundedMessageStream::tryParse(const capnp::ReaderOptions& options) {
  size_t available = inEnd_ - inBegin_;
  size_t needed = 8;
  if (available >= 8) {
    const kj::byte* at = in_.begin() + inBegin_;
    uint32_t countMinusOne = readLe32(at);
    KJ_REQUIRE(countMinusOne <= MAX_SEGMENTS_MINUS_ONE, "Message has too many segments.",
               countMinusOne);
    uint32_t segments = countMinusOne + 1;
    size_t table = tableBytes(segments);
    needed = table;
    if (available >= table) {
      uint64_t words = 0;
      for (uint32_t i = 0; i < segments; ++i) words += readLe32(at + 4 + 4 * i);
      KJ_REQUIRE(words <= options.traversalLimitInWords,
                 "Message is too large. To increase the limit on the receiving end, see "
                 "capnp::ReaderOptions.",
                 words);
      needed = table + words * sizeof(capnp::word);
      if (available >= needed) {
        // Copied out: the message may outlive this buffer (a call waiting on a commit).
        auto body = kj::heapArray<capnp::word>(words);
        if (words > 0) memcpy(body.begin(), at + table, words * sizeof(capnp::word));
        auto pieces = kj::heapArray<kj::ArrayPtr<const capnp::word>>(segments);
        size_t offset = 0;
        for (uint32_t i = 0; i < segments; ++i) {
          size_t size = readLe32(at + 4 + 4 * i);
          pieces[i] = kj::arrayPtr(body.begin() + offset, size);
          offset += size;
        }
        wipe(in_.begin() + inBegin_, needed);
        inBegin_ += needed;
        if (inBegin_ == inEnd_) inBegin_ = inEnd_ = 0;
        if (in_.size() > limits_.readBufferBytes && inEnd_ - inBegin_ <= limits_.readBufferBytes) {
          // A large message grew the buffer: give it back.
          auto smaller = kj::heapArray<kj::byte>(limits_.readBufferBytes);
          memcpy(smaller.begin(), in_.begin() + inBegin_, inEnd_ - inBegin_);
          wipe(in_.begin() + inBegin_, inEnd_ - inBegin_);
          inEnd_ -= inBegin_;
          inBegin_ = 0;
          in_ = kj::mv(smaller);
        }
        auto reader = kj::heap<capnp::SegmentArrayMessageReader>(pieces.asPtr(), options);
        return reader.attach(kj::mv(pieces), kj::heap<WipedWords>(kj::mv(body)));
      }
    }
  }
  // Make room for the whole message (header first, then body) before reading on.
  if (inBegin_ > 0 && (inBegin_ + needed > in_.size())) {
    memmove(in_.begin(), in_.begin() + inBegin_, available);
    wipe(in_.begin() + available, inBegin_);  // What the move left behind past the new end.
    inBegin_ = 0;
    inEnd_ = available;
  }
  if (needed > in_.size()) {
    auto bigger = kj::heapArray<kj::byte>(kj::max(needed, limits_.readBufferBytes));
    // `in_` is still empty (null) before the first read: memcpy must not see it.
    if (available > 0) memcpy(bigger.begin(), in_.begin() + inBegin_, available);
    wipe(in_.begin() + inBegin_, available);
    inBegin_ = 0;
    inEnd_ = available;
    in_ = kj::mv(bigger);
  }
  return {};
}

kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> BoundedMessageStream::readMore(
    capnp::ReaderOptions options) {
  if (inEnd_ == in_.size() && inBegin_ > 0) {
    size_t kept = inEnd_ - inBegin_;
    memmove(in_.begin(), in_.begin() + inBegin_, kept);
    wipe(in_.begin() + kept, inEnd_ - kept);
    inEnd_ = kept;
    inBegin_ = 0;
  }
  return stream_.tryRead(in_.begin() + inEnd_, 1, in_.size() - inEnd_)
      .then([this, options](size_t n) -> kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> {
        if (n == 0) {
          if (inEnd_ == inBegin_) return kj::Maybe<capnp::MessageReaderAndFds>(nullptr);
          return disconnected("Premature EOF.");
        }
        ++counters_.reads;
        inEnd_ += n;
        return tryReadMessage(nullptr, options, nullptr);
      });
}

kj::Promise<void> BoundedMessageStream::writeMessage(
    kj::ArrayPtr<const int> fds, kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) {
  KJ_REQUIRE(fds.size() == 0, "this stream does not pass file descriptors");
  append(segments);
  return kj::READY_NOW;
}

kj::Promise<void> BoundedMessageStream::writeMessages(
    kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) {
  for (auto& segments : messages) append(segments);
  return kj::READY_NOW;
}

void BoundedMessageStream::append(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) {
  KJ_IF_MAYBE (e, writeFailed_) {
    kj::throwFatalException(kj::cp(*e));
  }
  KJ_REQUIRE(segments.size() > 0 && segments.size() <= MAX_SEGMENTS_MINUS_ONE + 1);
  auto addLe32 = [this](uint32_t v) {
    kj::byte b[4];
    memcpy(b, &v, sizeof(v));
    appendWiped(queued_, kj::arrayPtr(b, 4));
  };
  addLe32(static_cast<uint32_t>(segments.size() - 1));
  for (auto& segment : segments) addLe32(static_cast<uint32_t>(segment.size()));
  if (segments.size() % 2 == 0) addLe32(0);  // The table is padded to a whole word.
  for (auto& segment : segments) appendWiped(queued_, segment.asBytes());
  ++counters_.messagesOut;
  if (!flushActive_) {
    // Later in this turn, so replies produced together leave in one write. (Replacing the
    // previous flush's promise is safe: it has completed, and append() never runs inside it.)
    flushActive_ = true;
    flushing_ = kj::evalLater([this]() {
                  return flushLoop();
                }).eagerlyEvaluate([this](kj::Exception&& e) { breakWith(kj::mv(e)); });
  }
}

kj::Promise<void> BoundedMessageStream::flushLoop() {
  if (queued_.empty()) {
    if (inFlight_.capacity() > KEEP_WRITE_BUFFER_BYTES) inFlight_ = kj::Vector<kj::byte>();
    if (queued_.capacity() > KEEP_WRITE_BUFFER_BYTES) queued_ = kj::Vector<kj::byte>();
    writing_ = false;
    flushActive_ = false;  // The next append() starts a new flush.
    return kj::READY_NOW;
  }
  wipe(inFlight_.begin(), inFlight_.size());
  inFlight_.clear();
  std::swap(queued_, inFlight_);
  ++counters_.writes;
  writing_ = true;
  KJ_IF_MAYBE (t, timer_) {
    writeStartedAt_ = t->now();
    if (!watching_) {
      // Replacing the previous watchdog is safe: it has finished (watching_ is false).
      watching_ = true;
      watchdog_ = t->atTime(writeStartedAt_ + limits_.stallTimeout)
                      .then([this]() { return watchWrites(); })
                      .eagerlyEvaluate(nullptr);
    }
  }
  return stream_.write(inFlight_.begin(), inFlight_.size()).then([this]() {
    wipe(inFlight_.begin(), inFlight_.size());
    inFlight_.clear();
    notifyDrain();
    return flushLoop();
  });
}

kj::Promise<void> BoundedMessageStream::watchWrites() {
  if (!writing_) {
    watching_ = false;
    return kj::READY_NOW;
  }
  auto& t = KJ_ASSERT_NONNULL(timer_);
  auto deadline = writeStartedAt_ + limits_.stallTimeout;
  if (t.now() >= deadline) {
    // The current write has waited stallTimeout for the peer. (Cancelling it from here is safe:
    // the flush is a separate promise.)
    watching_ = false;
    flushing_ = kj::READY_NOW;
    breakWith(disconnected("the peer stopped reading replies"));
    return kj::READY_NOW;
  }
  return t.atTime(deadline).then([this]() { return watchWrites(); });
}

void BoundedMessageStream::breakWith(kj::Exception&& reason) {
  if (writeFailed_ == nullptr) writeFailed_ = kj::mv(reason);
  wipe(queued_.begin(), queued_.size());
  wipe(inFlight_.begin(), inFlight_.size());
  queued_.clear();
  inFlight_.clear();
  writing_ = false;
  notifyDrain();
  brokenFulfiller_->fulfill();
}

kj::Promise<void> BoundedMessageStream::whenDrained(size_t below) {
  if (unsentBytes() < below || writeFailed_ != nullptr) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  drainWaiters_.add(DrainWaiter{below, kj::mv(paf.fulfiller)});
  return kj::mv(paf.promise);
}

void BoundedMessageStream::notifyDrain() {
  size_t kept = 0;
  for (auto& w : drainWaiters_) {
    if (unsentBytes() < w.below || writeFailed_ != nullptr) {
      w.fulfiller->fulfill();
    } else {
      if (&drainWaiters_[kept] != &w) drainWaiters_[kept] = kj::mv(w);
      ++kept;
    }
  }
  drainWaiters_.resize(kept);
}

kj::Maybe<int> BoundedMessageStream::getSendBufferSize() {
  int size = 0;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 uint length = sizeof(size);
                 stream_.getsockopt(SOL_SOCKET, SO_SNDBUF, &size, &length);
               })) {
    return nullptr;
  }
  return size;
}

kj::Promise<void> BoundedMessageStream::end() {
  return whenDrained(1).exclusiveJoin(whenBroken()).then([this]() {
    if (writeFailed_ == nullptr && unsentBytes() == 0) stream_.shutdownWrite();
  });
}

}  // namespace tenantd
