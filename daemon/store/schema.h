#pragma once
// Versioned schema. PRAGMA user_version holds the version; migrate() applies every missing step
// in one transaction at start, so a database is always at exactly one known version.

#include "sqlite.h"

#include <kj/common.h>

namespace tenantd {

struct Migration {
  int version;      // The version the database has after this step.
  const char* sql;  // Fixed DDL, applied as one script.
};

// Every migration, oldest first. Append only: a released step never changes.
kj::ArrayPtr<const Migration> allMigrations();

int schemaVersion(Db& db);
int latestSchemaVersion();

// Brings `db` to the last version of `migrations`; refuses a database newer than that.
// Returns the number of steps applied.
int migrate(Db& db, kj::ArrayPtr<const Migration> migrations = allMigrations());

}  // namespace tenantd
