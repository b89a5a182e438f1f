#include "settings-store.h"

#include "core/saturating.h"

#include <kj/debug.h>

namespace tenantd {

SettingsStore::SettingsStore(Db& db)
    : selectConfig_(db, "SELECT doc, version FROM tenant_config WHERE tenant_id = ?1"),
      upsertConfig_(db,
                    "INSERT INTO tenant_config (tenant_id, doc, version, updated_at) "
                    "VALUES (?1, ?2, 1, ?3) ON CONFLICT DO UPDATE SET doc = excluded.doc, "
                    "version = version + 1, updated_at = excluded.updated_at "
                    "RETURNING version"),
      selectRbac_(db, "SELECT doc, version FROM tenant_rbac WHERE tenant_id = ?1"),
      upsertRbac_(db,
                  "INSERT INTO tenant_rbac (tenant_id, doc, version, updated_at) "
                  "VALUES (?1, ?2, 1, ?3) ON CONFLICT DO UPDATE SET doc = excluded.doc, "
                  "version = version + 1, updated_at = excluded.updated_at "
                  "RETURNING version"),
      // The reports sum with saturating_sum (sqlite.h): a month past int64 pins at the
      // maximum, as the limits engine's counters do, instead of failing the statement.
      sums_(db,
            "SELECT resource, metric, saturating_sum(amount) FROM usage WHERE tenant_id = ?1 AND "
            "bucket >= ?2 AND bucket < ?3 AND ((resource = 'api' AND metric = 'calls') OR "
            "(resource = 'llm' AND metric = 'tokens') OR "
            "(resource = 'bandwidth' AND metric = 'bytes')) GROUP BY resource, metric"),
      latestStorage_(db,
                     "SELECT saturating_sum(amount) FROM usage WHERE tenant_id = ?1 AND "
                     "resource = 'storage' AND metric = 'bytes' AND bucket = ("
                     "SELECT max(bucket) FROM usage WHERE tenant_id = ?1 AND "
                     "resource = 'storage' AND metric = 'bytes' AND bucket >= ?2 AND "
                     "bucket < ?3)"),
      // Per minute bucket, in order: the caller groups minutes into the tenant's local days.
      perMinute_(db,
                 "SELECT bucket, resource, metric, saturating_sum(amount) FROM usage "
                 "WHERE tenant_id = ?1 AND bucket >= ?2 AND bucket < ?3 AND "
                 "((resource = 'api' AND metric = 'calls') OR "
                 "(resource = 'llm' AND metric = 'tokens') OR "
                 "(resource = 'bandwidth' AND metric = 'bytes')) "
                 "GROUP BY 1, 2, 3 ORDER BY 1") {}

namespace {
std::optional<VersionedDoc> readDoc(Statement& select, std::string_view tenantId) {
  select.bind(1, tenantId);
  if (!select.step()) return std::nullopt;
  VersionedDoc d{select.columnText(0), select.columnInt(1)};
  select.reset();
  return d;
}

int64_t writeDoc(Statement& upsert, std::string_view tenantId, std::string_view doc,
                 UnixMillis now) {
  upsert.bind(1, tenantId).bind(2, doc).bind(3, now);
  KJ_ASSERT(upsert.step());
  int64_t version = upsert.columnInt(0);
  upsert.reset();
  return version;
}

// The summed field of a report row for one of the three summed (resource, metric) pairs.
template <typename Row>
int64_t* field(Row& row, const std::string& resource) {
  if (resource == "api") return &row.apiCalls;
  if (resource == "llm") return &row.llmTokens;
  return &row.bandwidthBytes;
}
}  // namespace

std::optional<VersionedDoc> SettingsStore::getConfig(std::string_view tenantId) {
  return readDoc(selectConfig_, tenantId);
}
int64_t SettingsStore::putConfig(std::string_view tenantId, std::string_view doc, UnixMillis now) {
  return writeDoc(upsertConfig_, tenantId, doc, now);
}
std::optional<VersionedDoc> SettingsStore::getRbac(std::string_view tenantId) {
  return readDoc(selectRbac_, tenantId);
}
int64_t SettingsStore::putRbac(std::string_view tenantId, std::string_view doc, UnixMillis now) {
  return writeDoc(upsertRbac_, tenantId, doc, now);
}

UsageTotals SettingsStore::totals(std::string_view tenantId, Window range) {
  UsageTotals t;
  sums_.bind(1, tenantId).bind(2, range.start).bind(3, range.end);
  while (sums_.step()) *field(t, sums_.columnText(0)) = sums_.columnInt(2);
  latestStorage_.bind(1, tenantId).bind(2, range.start).bind(3, range.end);
  if (latestStorage_.step()) {
    t.storageBytes = latestStorage_.columnOptionalInt(0).value_or(0);
    latestStorage_.reset();
  }
  return t;
}

std::vector<DayUsage> SettingsStore::days(std::string_view tenantId, Window range,
                                          const date::time_zone* zone) {
  std::vector<DayUsage> out;
  Window day{0, 0};
  perMinute_.bind(1, tenantId).bind(2, range.start).bind(3, range.end);
  while (perMinute_.step()) {
    UnixMillis bucket = perMinute_.columnInt(0);
    if (out.empty() || !day.contains(bucket)) {  // Buckets come in order.
      day = windowAt(Period::DAY, bucket, zone);
      out.push_back(DayUsage{dayLabel(bucket, zone)});
    }
    int64_t* f = field(out.back(), perMinute_.columnText(1));
    *f = saturatingAdd(*f, perMinute_.columnInt(3));
  }
  return out;
}

}  // namespace tenantd
