#pragma once
// The byte layer under each RPC connection: Cap'n Proto's framing (segment table, then segments)
// over a socket, written here instead of capnp's AsyncIoMessageStream for these reasons, each
// measured or tested:
//  1. Reads: one read() takes whatever the socket holds (up to the buffer) and every complete
//     message in it is served from memory. capnp 0.9.2 reads each message with two reads (a
//     sequential call cost the daemon 7 syscalls, now 4; pipelined calls 4 reads each, now 0.1).
//  2. Limits on the header alone, before any allocation: at most 512 segments (also the
//     0xFFFFFFFF segment count that overflows capnp 0.9.2's own check, advisory 2026-03-10) and
//     at most the reader's traversal limit in words.
//  3. Questions left open are bounded: a Call or Bootstrap opens one, its Finish closes it; a
//     peer with more than `maxOpenQuestions` open is refused (each costs an answer-table entry
//     in capnp's RpcSystem until its Finish arrives, returned or not).
//  4. Writes are queued and flushed a turn later, so replies produced in one turn leave in one
//     write. (Holding the flush until the RpcSystem had taken every message already read saved
//     syscalls under strace but lost wall-clock time, up to half of checkBatch throughput: the
//     client's window waited on replies held back. Not kept.) What waits unsent is bounded: past
//     `outgoingBytes` we stop reading the peer's requests until it reads our replies, and a write
//     the peer leaves unread for `stallTimeout` stalls the stream: whenBroken() resolves and the
//     owner drops the connection.
// One stream per connection, owned next to the socket it borrows; the event-loop thread only.

#include <capnp/serialize-async.h>
#include <kj/async-io.h>
#include <kj/timer.h>
#include <kj/vector.h>

#include <cstdint>

namespace tenantd {

class BoundedMessageStream final : public capnp::MessageStream {
public:
  struct Limits {
    size_t readBufferBytes = 4096;   // Per connection, while it lives.
    size_t outgoingBytes = 1 << 20;  // Unsent replies before we stop reading requests.
    kj::Duration stallTimeout = 30 * kj::SECONDS;  // One write pending this long: stalled.
    uint32_t maxOpenQuestions = 0;                 // 0: not counted.
  };
  // What went through the socket, for tests and benchmarks.
  struct Counters {
    uint64_t reads = 0;  // read() calls that returned data
    uint64_t writes = 0;
    uint64_t messagesIn = 0;
    uint64_t messagesOut = 0;
    uint64_t pauses = 0;        // Times reading stopped because replies waited unread.
    int64_t openQuestions = 0;  // Calls and bootstraps received without their Finish yet.
  };

  // Without a timer nothing times out (in-process tests that have none to give).
  BoundedMessageStream(kj::AsyncIoStream& stream, kj::Maybe<kj::Timer&> timer, Limits limits);
  ~BoundedMessageStream() noexcept(false);
  KJ_DISALLOW_COPY(BoundedMessageStream);

  kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> tryReadMessage(
      kj::ArrayPtr<kj::AutoCloseFd> fdSpace, capnp::ReaderOptions options,
      kj::ArrayPtr<capnp::word> scratchSpace) override;
  kj::Promise<void> writeMessage(
      kj::ArrayPtr<const int> fds,
      kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) override;
  kj::Promise<void> writeMessages(
      kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) override;
  kj::Maybe<int> getSendBufferSize() override;
  // Flushes what is queued (unless the peer stalls), then shuts down writes.
  kj::Promise<void> end() override;

  // Resolves once the peer has left one write unaccepted for `stallTimeout`, or a write failed;
  // from then on reads and writes fail. The owner drops the connection: the RpcSystem may be
  // waiting on its flow limit and not reading, so a failed read alone would not end it.
  kj::Promise<void> whenBroken() { return broken_.addBranch(); }

  // Bytes accepted by writeMessage() and not yet taken by the kernel.
  size_t unsentBytes() const { return queued_.size() + inFlight_.size(); }
  const Counters& counters() const { return counters_; }

private:
  // A complete message at the front of the buffer, or nullptr if more bytes are needed. Throws
  // on a header over the limits.
  kj::Own<capnp::MessageReader> tryParse(const capnp::ReaderOptions& options);
  void countQuestions(capnp::MessageReader& message);
  kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> readMore(capnp::ReaderOptions options);
  kj::Promise<void> whenDrained(size_t below);
  void append(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments);
  kj::Promise<void> flushLoop();
  kj::Promise<void> watchWrites();
  void breakWith(kj::Exception&& reason);
  void notifyDrain();

  kj::AsyncIoStream& stream_;
  kj::Maybe<kj::Timer&> timer_;
  Limits limits_;
  Counters counters_;

  kj::Array<kj::byte> in_;  // Bytes [inBegin_, inEnd_) are read and not yet parsed.
  size_t inBegin_ = 0;
  size_t inEnd_ = 0;

  kj::Vector<kj::byte> queued_;    // Appended since the current write began.
  kj::Vector<kj::byte> inFlight_;  // Handed to the kernel by the current write.
  kj::Promise<void> flushing_ = kj::READY_NOW;
  bool flushActive_ = false;
  bool writing_ = false;
  kj::TimePoint writeStartedAt_ = kj::origin<kj::TimePoint>();
  // One timer per connection at a time, and only while a write is pending.
  kj::Promise<void> watchdog_ = kj::READY_NOW;
  bool watching_ = false;
  kj::Own<kj::PromiseFulfiller<void>> brokenFulfiller_;
  kj::ForkedPromise<void> broken_;
  kj::Maybe<kj::Exception> writeFailed_;
  struct DrainWaiter {
    size_t below;
    kj::Own<kj::PromiseFulfiller<void>> fulfiller;
  };
  kj::Vector<DrainWaiter> drainWaiters_;
};

}  // namespace tenantd
