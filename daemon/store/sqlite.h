#pragma once
// A thin RAII layer over SQLite: a connection (Db), prepared statements (Statement) owned as
// members by the classes that use them, and scoped transactions. SQLite's return codes become
// kj exceptions here, once, with SQLite's own error text; SQL is never built from input.

#include "util/sync-level.h"

#include <sqlite3.h>

#include <kj/common.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd {

struct DbOptions {
  enum class Open { READ_WRITE_CREATE, READ_WRITE, READ_ONLY };
  Open open = Open::READ_WRITE_CREATE;
  SyncLevel sync = SyncLevel::NORMAL;
  int busyTimeoutMs = 5000;
  // PRAGMA max_page_count from a byte cap (0: SQLite's own limit). Per connection: the writer's.
  int64_t maxBytes = 0;
};

class Db {
public:
  Db(const std::string& path, DbOptions options);
  ~Db();
  KJ_DISALLOW_COPY(Db);

  // Runs fixed SQL text (schema, pragmas, transaction control). Never pass text built from input.
  void exec(const char* sql);
  sqlite3* handle() { return db_; }
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  // PRAGMA data_version: moves only when another connection commits to the file, never for
  // this connection's own commits. A cheap "did someone else change the store?" probe.
  int64_t dataVersion();

private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
public:
  Statement(Db& db, const char* sql);
  ~Statement();
  KJ_DISALLOW_COPY(Statement);

  // Binds are 1-based, like SQLite's.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bindBlob(int index, const void* data, size_t size);
  Statement& bindNull(int index);
  Statement& bind(int index, std::optional<int64_t> value) {
    return value ? bind(index, *value) : bindNull(index);
  }

  // Advances; true while a row is available. Resets itself after the last row or a failure.
  bool step();
  // Runs a statement that returns no rows, then resets it for the next use.
  void run();
  // Clears bindings and rewinds; step() does it on completion, call it after reading one row.
  void reset();

  int64_t columnInt(int index);
  std::string columnText(int index);
  std::vector<uint8_t> columnBlob(int index);
  bool columnIsNull(int index);
  std::optional<int64_t> columnOptionalInt(int index) {
    return columnIsNull(index) ? std::nullopt : std::optional<int64_t>(columnInt(index));
  }

private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction; rolls back in the destructor unless commit() was called.
class Transaction {
public:
  explicit Transaction(Db& db);
  ~Transaction() noexcept(false);
  KJ_DISALLOW_COPY(Transaction);
  void commit();

private:
  Db& db_;
  bool done_ = false;
};

}  // namespace tenantd
