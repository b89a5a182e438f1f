#include "schema.h"

#include <kj/debug.h>

#include <string>

namespace tenantd {

namespace {
const Migration MIGRATIONS[] = {
    {1, R"sql(
      CREATE TABLE tenants (
        id          TEXT PRIMARY KEY NOT NULL,
        name        TEXT NOT NULL,
        plan        TEXT NOT NULL,
        timezone    TEXT NOT NULL DEFAULT 'UTC',
        created_at  INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE tokens (
        id          TEXT PRIMARY KEY NOT NULL,
        tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        role        TEXT NOT NULL CHECK (role IN ('admin', 'reader')),
        hash        BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        revoked_at  INTEGER
      ) STRICT;
      CREATE INDEX tokens_by_tenant ON tokens(tenant_id);
    )sql"},
    {2, R"sql(
      -- The tenant's resource-limit rules, as the canonical JSON of PUT /tenant/limits/resources.
      CREATE TABLE tenant_rules (
        tenant_id   TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        rules       TEXT NOT NULL,
        version     INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      ) STRICT;
      -- Recorded usage, aggregated per UTC minute. Windows of every period start on whole
      -- minutes (all current UTC offsets are multiples of 15 minutes), so sums are exact.
      CREATE TABLE usage (
        tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        resource    TEXT NOT NULL,
        metric      TEXT NOT NULL,
        user_id     TEXT NOT NULL,  -- '' when the usage named no user
        bucket      INTEGER NOT NULL,  -- start of the UTC minute, Unix ms
        amount      INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, resource, metric, user_id, bucket)
      ) STRICT, WITHOUT ROWID;
      -- Idempotency keys of tracks, kept for the dedupe window.
      CREATE TABLE track_ids (
        tenant_id   TEXT NOT NULL,
        id          TEXT NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX track_ids_by_expiry ON track_ids(expires_at);
      -- Open reservations: they count against limits until committed, released or expired.
      CREATE TABLE reservations (
        tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        id          TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        resource    TEXT NOT NULL,
        metric      TEXT NOT NULL,
        amount      INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
      ) STRICT, WITHOUT ROWID;
    )sql"},
    {3, R"sql(
      -- Tenant secrets, sealed (secrets/sealer.h). Only the latest version of a name is kept:
      -- superseded values are not left decryptable. key_id names the master key that sealed it.
      CREATE TABLE secrets (
        tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        key_id      TEXT NOT NULL,
        nonce       BLOB NOT NULL,
        ciphertext  BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        PRIMARY KEY (tenant_id, name)
      ) STRICT, WITHOUT ROWID;
      -- Every change: when, who (token id or peer, never a token), what, the new version.
      CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        tenant_id   TEXT NOT NULL,
        at          INTEGER NOT NULL,
        actor       TEXT NOT NULL,
        action      TEXT NOT NULL,
        target      TEXT NOT NULL,
        version     INTEGER
      ) STRICT;
      CREATE INDEX audit_by_tenant ON audit(tenant_id, id);
    )sql"},
    {4, R"sql(
      -- GET/POST /tenant/config and /tenant/rbac: one JSON document each, versioned.
      CREATE TABLE tenant_config (
        tenant_id   TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        doc         TEXT NOT NULL,
        version     INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE tenant_rbac (
        tenant_id   TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        doc         TEXT NOT NULL,
        version     INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      ) STRICT;
      -- The limits GET /tenant/info shows, set by the operator.
      ALTER TABLE tenants ADD COLUMN api_calls_limit INTEGER;
      ALTER TABLE tenants ADD COLUMN llm_tokens_limit INTEGER;
      ALTER TABLE tenants ADD COLUMN storage_limit INTEGER;
    )sql"},
    {5, R"sql(
      -- How a secret was sealed (secrets/sealer.h SEAL_FORMAT): 2 binds expires_at too. Rows of
      -- format 1 are re-sealed by the daemon at start, which holds the keys this cannot.
      ALTER TABLE secrets ADD COLUMN seal_format INTEGER NOT NULL DEFAULT 1;
    )sql"},
    {6, R"sql(
      -- One row the daemon rewrites while writes are failing (a full disk): the first that
      -- commits again tells readiness the store takes writes, with no app write needed.
      CREATE TABLE store_probe (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        written_at  INTEGER NOT NULL
      ) STRICT;
    )sql"},
    {7, R"sql(
      -- Managed mode (docs/SYNC.md). As a central: a counter that every committed change of a
      -- tenant's documents moves, and per tenant the counter's value at its last change. The row
      -- stays when the tenant goes: that is how the feed reports deletions. Triggers keep both,
      -- so every writer (the daemon, the offline CLI, a migration) is covered. Usage tables have
      -- none: usage stays local and the hot path pays nothing.
      CREATE TABLE sync_counter (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        version     INTEGER NOT NULL
      ) STRICT;
      INSERT INTO sync_counter VALUES (1, 0);
      CREATE TABLE sync_changes (
        tenant_id   TEXT PRIMARY KEY NOT NULL,
        version     INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sync_changes_by_version ON sync_changes(version);
      -- As a sidecar: the central's payload it applied last, in the transaction that applied it.
      CREATE TABLE sync_applied (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        central     TEXT NOT NULL,
        version     INTEGER NOT NULL,
        applied_at  INTEGER NOT NULL
      ) STRICT;
      CREATE TRIGGER sync_tenants_insert AFTER INSERT ON tenants BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenants_update AFTER UPDATE ON tenants BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenants_delete AFTER DELETE ON tenants BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (OLD.id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tokens_insert AFTER INSERT ON tokens BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tokens_update AFTER UPDATE ON tokens BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tokens_delete AFTER DELETE ON tokens BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (OLD.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_rules_insert AFTER INSERT ON tenant_rules BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_rules_update AFTER UPDATE ON tenant_rules BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_rules_delete AFTER DELETE ON tenant_rules BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (OLD.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_config_insert AFTER INSERT ON tenant_config BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_config_update AFTER UPDATE ON tenant_config BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_config_delete AFTER DELETE ON tenant_config BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (OLD.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_rbac_insert AFTER INSERT ON tenant_rbac BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_rbac_update AFTER UPDATE ON tenant_rbac BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_tenant_rbac_delete AFTER DELETE ON tenant_rbac BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (OLD.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_secrets_insert AFTER INSERT ON secrets BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_secrets_update AFTER UPDATE ON secrets BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (NEW.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
      CREATE TRIGGER sync_secrets_delete AFTER DELETE ON secrets BEGIN
        UPDATE sync_counter SET version = version + 1;
        INSERT INTO sync_changes VALUES (OLD.tenant_id, (SELECT version FROM sync_counter))
          ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version;
      END;
    )sql"},
    {8, R"sql(
      -- Managed mode's hosts (docs/SYNC.md, "Hosts"). As a central: each sidecar it knows, the
      -- hash of its host token (NULL: a --dev host without one), the X25519 key secrets are
      -- sealed to for it, and the last status it reported.
      CREATE TABLE hosts (
        id               TEXT PRIMARY KEY NOT NULL,
        token_hash       BLOB UNIQUE CHECK (token_hash IS NULL OR length(token_hash) = 32),
        recipient_key    BLOB CHECK (recipient_key IS NULL OR length(recipient_key) = 32),
        created_at       INTEGER NOT NULL,
        seen_at          INTEGER,
        applied_version  INTEGER,
        last_error       TEXT,
        last_success_at  INTEGER
      ) STRICT;
      -- As a sidecar: its own stable host id, made on first start.
      CREATE TABLE host_identity (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        host_id     TEXT NOT NULL
      ) STRICT;
    )sql"},
};
}  // namespace

kj::ArrayPtr<const Migration> allMigrations() {
  return kj::arrayPtr(MIGRATIONS, kj::size(MIGRATIONS));
}

int latestSchemaVersion() {
  return MIGRATIONS[kj::size(MIGRATIONS) - 1].version;
}

int schemaVersion(Db& db) {
  Statement stmt(db, "PRAGMA user_version");
  KJ_ASSERT(stmt.step());
  int version = static_cast<int>(stmt.columnInt(0));
  stmt.reset();
  return version;
}

int migrate(Db& db, kj::ArrayPtr<const Migration> migrations) {
  KJ_REQUIRE(migrations.size() > 0);
  Transaction tx(db);
  int current = schemaVersion(db);
  int latest = migrations[migrations.size() - 1].version;
  KJ_REQUIRE(current <= latest,
             "database schema is newer than this tenantd understands; upgrade tenantd", current,
             latest);
  int applied = 0;
  for (auto& m : migrations) {
    if (m.version <= current) continue;
    db.exec(m.sql);
    // user_version takes no bound parameter; the number comes from our own table, not input.
    std::string setVersion = "PRAGMA user_version = " + std::to_string(m.version);
    db.exec(setVersion.c_str());
    ++applied;
  }
  tx.commit();
  return applied;
}

}  // namespace tenantd
