#include "writer.h"

#include <kj/debug.h>

#include <chrono>

namespace tenantd {

Writer::Writer(std::string path, DbOptions options, Log& log, StoreStats& stats)
    : log_(log), stats_(stats) {
  thread_ = kj::heap<kj::Thread>(
      [this, path = kj::mv(path), options]() mutable { threadMain(kj::mv(path), options); });
  auto lock = started_.lockExclusive();
  lock.wait([](const Started& s) { return s.done; });
  KJ_IF_MAYBE (e, lock->error) {
    auto error = kj::mv(*e);
    lock.release();
    thread_ = nullptr;  // Joins: the thread has already returned.
    kj::throwFatalException(kj::mv(error));
  }
}

Writer::~Writer() noexcept(false) {
  if (thread_.get() == nullptr) return;
  // Queued behind every job already submitted, so those run and commit first.
  executor().executeSync([this]() {
    KJ_IF_MAYBE (b, batch_) {
      (void)b;
      commitBatch();
    }
    stop_->fulfill();
  });
  thread_ = nullptr;  // Joins.
}

void Writer::taskFailed(kj::Exception&& exception) {
  log_.error("writer", std::string("writer task failed: ") + exception.getDescription().cStr());
}

const kj::Executor& Writer::executor() {
  auto lock = started_.lockShared();
  return *lock->executor;
}

void Writer::threadMain(std::string path, DbOptions options) {
  kj::EventLoop loop;
  kj::WaitScope waitScope(loop);
  auto stop = kj::newPromiseAndFulfiller<void>();
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 db_ = kj::heap<Db>(path, options);
                 context_ = kj::heap<WriterContext>(*db_);
                 tasks_ = kj::heap<kj::TaskSet>(static_cast<kj::TaskSet::ErrorHandler&>(*this));
               })) {
    auto lock = started_.lockExclusive();
    lock->error = kj::mv(*e);
    lock->done = true;
    return;
  }
  stop_ = kj::mv(stop.fulfiller);
  {
    auto lock = started_.lockExclusive();
    lock->executor = &kj::getCurrentThreadExecutor();
    lock->done = true;
  }
  stop.promise.wait(waitScope);
  // Let the last commit's continuations deliver their results to the requesting threads.
  waitScope.poll();
  tasks_ = nullptr;
  context_ = nullptr;
  db_ = nullptr;
}

void Writer::runJob(kj::FunctionParam<void()> body) {
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { body(); })) {
    storeFailed(sqlite3_errcode(db_->handle()));
    if (sqlite3_get_autocommit(db_->handle()) != 0) {
      // SQLite rolled the whole transaction back (disk full, I/O error): every job of this
      // batch is lost, not just this one. Fail them all; the next job opens a new transaction.
      stats_.commitFailures.add();
      failBatch(kj::cp(*e));
    } else {
      db_->exec("ROLLBACK TO job");
      db_->exec("RELEASE job");
    }
    kj::throwFatalException(kj::mv(*e));
  }
  db_->exec("RELEASE job");
}

Writer::Batch& Writer::openBatch() {
  KJ_IF_MAYBE (b, batch_) {
    return **b;
  }
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { db_->exec("BEGIN IMMEDIATE"); })) {
    storeFailed(sqlite3_errcode(db_->handle()));
    kj::throwFatalException(kj::mv(*e));
  }
  auto paf = kj::newPromiseAndFulfiller<void>();
  auto batch = kj::heap<Batch>(
      Batch{paf.promise.fork(), kj::mv(paf.fulfiller), 0, sqlite3_total_changes64(db_->handle())});
  Batch& ref = *batch;
  batch_ = kj::mv(batch);
  // Runs once the jobs that have already arrived are done: they all share this commit.
  tasks_->add(kj::evalLast([this, &ref]() {
    KJ_IF_MAYBE (b, batch_) {
      if (b->get() == &ref) commitBatch();
    }
  }));
  return ref;
}

kj::Promise<void> Writer::afterJob(Batch& batch) {
  auto committed = batch.committed.addBranch();
  if (++batch.jobs >= MAX_BATCH) commitBatch();
  return committed;
}

void Writer::failBatch(kj::Exception error) {
  KJ_IF_MAYBE (b, batch_) {
    auto batch = kj::mv(*b);
    batch_ = nullptr;
    batch->fulfiller->reject(kj::mv(error));
  }
}

void Writer::commitBatch() {
  KJ_IF_MAYBE (b, batch_) {
    auto batch = kj::mv(*b);
    batch_ = nullptr;
    auto start = std::chrono::steady_clock::now();
    auto failure = kj::runCatchingExceptions([&]() { db_->exec("COMMIT"); });
    stats_.commitSeconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    stats_.batchJobs.observe(batch->jobs);
    KJ_IF_MAYBE (e, failure) {
      storeFailed(sqlite3_errcode(db_->handle()));
      if (sqlite3_get_autocommit(db_->handle()) == 0) {
        sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      }
      stats_.commitFailures.add();
      batch->fulfiller->reject(kj::mv(*e));
    } else {
      stats_.commits.add();
      if (health_.failing() && sqlite3_total_changes64(db_->handle()) > batch->changesAtOpen) {
        health_.committed();
        log_.info("writer", "writes commit again");
      }
      batch->fulfiller->fulfill();
    }
  }
}

void Writer::storeFailed(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PROTOCOL: break;
    default: return;  // A job's own refusal: the store is fine.
  }
  // sqlite3_errstr: the code's fixed words, never text from the failed statement.
  std::string reason = sqlite3_errstr(code);
  if (!health_.failing() || health_.reason() != reason) {
    log_.error("writer", "writes are failing: " + reason + "; checks and reads go on");
  }
  health_.failed(kj::mv(reason));
}

}  // namespace tenantd
