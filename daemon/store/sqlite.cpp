#include "sqlite.h"

#include "core/saturating.h"

#include <kj/debug.h>

#include <algorithm>
#include <string>

namespace tenantd {

namespace {
// saturating_sum(x): sum() that pins at the int64 limits as the limits engine does, where
// SQLite's sum() fails the whole statement with "integer overflow". NULLs are skipped.
void saturatingSumStep(sqlite3_context* context, int, sqlite3_value** args) {
  auto* sum = static_cast<int64_t*>(sqlite3_aggregate_context(context, sizeof(int64_t)));
  if (sum == nullptr) return sqlite3_result_error_nomem(context);
  if (sqlite3_value_type(args[0]) == SQLITE_NULL) return;
  *sum = saturatingAdd(*sum, sqlite3_value_int64(args[0]));
}
void saturatingSumFinal(sqlite3_context* context) {
  auto* sum = static_cast<int64_t*>(sqlite3_aggregate_context(context, 0));
  sqlite3_result_int64(context, sum != nullptr ? *sum : 0);
}

[[noreturn]] void fail(sqlite3* db, int rc, const char* what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  KJ_FAIL_REQUIRE("sqlite", what, sqlite3_errstr(rc), detail);
}
}  // namespace

Db::Db(const std::string& path, DbOptions options) : path_(path) {
  int flags = SQLITE_OPEN_NOMUTEX;  // One thread uses a connection: its owner.
  switch (options.open) {
    case DbOptions::Open::READ_WRITE_CREATE:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case DbOptions::Open::READ_WRITE: flags |= SQLITE_OPEN_READWRITE; break;
    case DbOptions::Open::READ_ONLY: flags |= SQLITE_OPEN_READONLY; break;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    KJ_FAIL_REQUIRE("cannot open database", path, detail);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, options.busyTimeoutMs);
  rc = sqlite3_create_function(db_, "saturating_sum", 1,
                               SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                               nullptr, saturatingSumStep, saturatingSumFinal);
  if (rc != SQLITE_OK) fail(db_, rc, "create_function");
  exec("PRAGMA foreign_keys = ON");
  if (options.open != DbOptions::Open::READ_ONLY) {
    exec("PRAGMA journal_mode = WAL");
    exec(options.sync == SyncLevel::FULL ? "PRAGMA synchronous = FULL"
                                         : "PRAGMA synchronous = NORMAL");
  }
  if (options.maxBytes > 0) {
    // A number of ours, not input text. SQLite never sets it below the pages in use.
    Statement pageSize(*this, "PRAGMA page_size");
    KJ_ASSERT(pageSize.step());
    int64_t pages = std::max<int64_t>(1, options.maxBytes / pageSize.columnInt(0));
    std::string cap = "PRAGMA max_page_count = " + std::to_string(pages);
    Statement set(*this, cap.c_str());
    set.step();
  }
}

Db::~Db() {
  // Statements are finalized by their owners first; close_v2 tolerates stragglers.
  sqlite3_close_v2(db_);
}

int64_t Db::dataVersion() {
  Statement version(*this, "PRAGMA data_version");
  KJ_ASSERT(version.step());
  return version.columnInt(0);
}

void Db::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    KJ_FAIL_REQUIRE("sqlite exec failed", sqlite3_errstr(rc), message);
  }
}

Statement::Statement(Db& db, const char* sql) : db_(db) {
  int rc = sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db.handle(), rc, "prepare failed");
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) fail(db_.handle(), rc, "bind failed");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(db_.handle(), rc, "bind failed");
  return *this;
}

Statement& Statement::bindBlob(int index, const void* data, size_t size) {
  int rc = sqlite3_bind_blob(stmt_, index, data, static_cast<int>(size), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(db_.handle(), rc, "bind failed");
  return *this;
}

Statement& Statement::bindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail(db_.handle(), rc, "bind failed");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    reset();
    return false;
  }
  // Reset before throwing so the statement is usable again; report the step's code.
  std::string detail = sqlite3_errmsg(db_.handle());
  reset();
  KJ_FAIL_REQUIRE("sqlite step failed", sqlite3_errstr(rc), detail);
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::columnInt(int index) {
  return sqlite3_column_int64(stmt_, index);
}

std::string Statement::columnText(int index) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, index));
}

std::vector<uint8_t> Statement::columnBlob(int index) {
  auto p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, index));
  return p == nullptr ? std::vector<uint8_t>()
                      : std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, index));
}

bool Statement::columnIsNull(int index) {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

Transaction::Transaction(Db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() noexcept(false) {
  if (!done_) {
    // Rolling back cannot meaningfully fail; don't throw from a destructor during unwinding.
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace tenantd
