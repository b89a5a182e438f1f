#pragma once
// The store's writer: one thread that owns the write connection. The event-loop thread submits
// jobs (functions of Db&) and gets a promise back that resolves only after the job's changes are
// committed to disk at the configured sync level.
//
// Group commit: jobs run inside one open transaction, each in its own savepoint (a job that
// throws rolls back alone and its promise rejects; the others go on). The transaction commits
// once every job that has already arrived has run (kj::evalLast), or as soon as MAX_BATCH jobs
// are pending. Under load batches grow by themselves; an idle writer commits each job at once.

#include "catalog.h"
#include "secret-store.h"
#include "settings-store.h"
#include "sqlite.h"
#include "sync-store.h"
#include "usage-store.h"
#include "util/histogram.h"
#include "util/log.h"
#include "write-health.h"

#include <kj/async.h>
#include <kj/function.h>
#include <kj/mutex.h>
#include <kj/thread.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <type_traits>

namespace tenantd {

// What a job sees on the writer thread: the write connection and its repositories, whose
// statements are prepared once for the life of the writer.
class WriterContext {
public:
  explicit WriterContext(Db& db) : db(db) {}
  Db& db;
  UsageStore& usage() {
    if (usage_.get() == nullptr) usage_ = kj::heap<UsageStore>(db);
    return *usage_;
  }
  Catalog& catalog() {
    if (catalog_.get() == nullptr) catalog_ = kj::heap<Catalog>(db);
    return *catalog_;
  }
  SecretStore& secrets() {
    if (secrets_.get() == nullptr) secrets_ = kj::heap<SecretStore>(db);
    return *secrets_;
  }
  SettingsStore& settings() {
    if (settings_.get() == nullptr) settings_ = kj::heap<SettingsStore>(db);
    return *settings_;
  }
  SyncStore& sync() {
    if (sync_.get() == nullptr) sync_ = kj::heap<SyncStore>(db);
    return *sync_;
  }

private:
  kj::Own<SecretStore> secrets_;
  kj::Own<SettingsStore> settings_;
  kj::Own<UsageStore> usage_;
  kj::Own<Catalog> catalog_;
  kj::Own<SyncStore> sync_;
};

class Writer final : private kj::TaskSet::ErrorHandler {
public:
  static constexpr uint32_t MAX_BATCH = 4096;

  // Opens the database on the writer thread; throws here if it cannot be opened. The writer
  // thread logs through `log` and counts its commits in `stats` (the metrics' store figures),
  // which must both outlive the Writer.
  Writer(std::string path, DbOptions options, Log& log, StoreStats& stats);
  // Drains: every submitted job runs and commits before the thread exits.
  ~Writer() noexcept(false);
  KJ_DISALLOW_COPY(Writer);

  // Whether writes are committing (readiness reads it from any thread).
  const WriteHealth& health() const { return health_; }

  // Runs `job(db)` on the writer thread; the promise resolves on the calling thread (which must
  // run a kj event loop) after the commit that includes it. If the job throws, it changed nothing.
  template <typename T>
  kj::Promise<T> submit(kj::Function<T(WriterContext&)> job) {
    return executor().executeAsync(
        [this, job = kj::mv(job)]() mutable -> kj::Promise<T> { return runInBatch<T>(job); });
  }

private:
  struct Batch {
    kj::ForkedPromise<void> committed;
    kj::Own<kj::PromiseFulfiller<void>> fulfiller;
    uint32_t jobs = 0;
    int64_t changesAtOpen = 0;  // sqlite3_total_changes64 when the transaction began.
  };

  const kj::Executor& executor();
  void threadMain(std::string path, DbOptions options);
  // A commit task of tasks_ failed (writer thread).
  void taskFailed(kj::Exception&& exception) override;

  // The rest runs on the writer thread only.
  template <typename T>
  kj::Promise<T> runInBatch(kj::Function<T(WriterContext&)>& job) {
    Batch& batch = openBatch();
    db_->exec("SAVEPOINT job");
    kj::Promise<void> committed = nullptr;
    if constexpr (std::is_void_v<T>) {
      runJob([&]() { job(*context_); });
      committed = afterJob(batch);
      return committed;
    } else {
      // On the heap: GCC 12 misreads a kj::Maybe<T> moved into the continuation as
      // maybe-uninitialized for many T.
      kj::Own<T> result;
      runJob([&]() { result = kj::heap<T>(job(*context_)); });
      committed = afterJob(batch);
      return committed.then([result = kj::mv(result)]() mutable -> T { return kj::mv(*result); });
    }
  }
  void runJob(kj::FunctionParam<void()> body);
  Batch& openBatch();
  kj::Promise<void> afterJob(Batch& batch);
  void commitBatch();
  void failBatch(kj::Exception error);
  // Records a failure of the store itself (not a job's refusal) in health_.
  void storeFailed(int code);

  Log& log_;
  StoreStats& stats_;  // Written on the writer thread only.
  WriteHealth health_;
  kj::Own<Db> db_;  // Writer thread only, like everything down to started_.
  kj::Own<WriterContext> context_;
  kj::Maybe<kj::Own<Batch>> batch_;
  kj::Own<kj::TaskSet> tasks_;

  // Handshake with the thread: its executor once running, or why it failed to start.
  struct Started {
    const kj::Executor* executor = nullptr;
    kj::Maybe<kj::Exception> error;
    bool done = false;
  };
  kj::MutexGuarded<Started> started_;
  kj::Own<kj::PromiseFulfiller<void>> stop_;  // Fulfilled on the writer thread to end it.
  kj::Own<kj::Thread> thread_;
};

}  // namespace tenantd
