#include "usage-store.h"

#include "core/saturating.h"

#include <kj/debug.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace tenantd {

UsageStore::UsageStore(Db& db)
    : db_(db),
      upsertUsage_(db,
                   "INSERT INTO usage (tenant_id, resource, metric, user_id, bucket, amount) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE "
                   // Saturating: a sum past int64 would turn REAL and fail the STRICT column.
                   "SET amount = CASE WHEN amount > 9223372036854775807 - excluded.amount "
                   "THEN 9223372036854775807 ELSE amount + excluded.amount END"),
      upsertTrackId_(db,
                     "INSERT INTO track_ids (tenant_id, id, expires_at) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at"),
      deleteExpiredTrackIds_(db, "DELETE FROM track_ids WHERE expires_at <= ?1"),
      selectTrackIds_(db, "SELECT tenant_id, id, expires_at FROM track_ids WHERE expires_at > ?1"),
      upsertRules_(db,
                   "INSERT INTO tenant_rules (tenant_id, rules, version, updated_at) "
                   "VALUES (?1, ?2, 1, ?3) ON CONFLICT DO UPDATE SET rules = excluded.rules, "
                   "version = version + 1, updated_at = excluded.updated_at "
                   "RETURNING version"),
      selectRules_(db, "SELECT rules, version FROM tenant_rules WHERE tenant_id = ?1"),
      selectUsage_(db,
                   "SELECT user_id, bucket, amount FROM usage WHERE tenant_id = ?1 AND "
                   "resource = ?2 AND metric = ?3 AND bucket >= ?4"),
      insertReservation_(db,
                         "INSERT INTO reservations (tenant_id, id, user_id, resource, metric, "
                         "amount, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
      deleteReservation_(db, "DELETE FROM reservations WHERE tenant_id = ?1 AND id = ?2"),
      selectReservations_(db,
                          "SELECT id, user_id, resource, metric, amount, expires_at "
                          "FROM reservations WHERE tenant_id = ?1"),
      selectOld_(db,
                 "SELECT resource, metric, user_id, bucket, amount FROM usage "
                 "WHERE tenant_id = ?1 AND bucket > ?2 AND bucket < ?3"),
      deleteOld_(db, "DELETE FROM usage WHERE tenant_id = ?1 AND bucket > ?2 AND bucket < ?3") {}

void UsageStore::addUsage(std::string_view tenantId, std::string_view resource,
                          std::string_view metric, std::string_view userId, UnixMillis at,
                          int64_t amount) {
  upsertUsage_.bind(1, tenantId).bind(2, resource).bind(3, metric).bind(4, userId);
  upsertUsage_.bind(5, minuteBucket(at)).bind(6, amount).run();
}

void UsageStore::rememberTrackId(std::string_view tenantId, std::string_view id,
                                 UnixMillis expiresAt) {
  upsertTrackId_.bind(1, tenantId).bind(2, id).bind(3, expiresAt).run();
}

size_t UsageStore::expireTrackIds(UnixMillis now) {
  deleteExpiredTrackIds_.bind(1, now).run();
  return static_cast<size_t>(db_.changes());
}

std::vector<StoredTrackId> UsageStore::loadTrackIds(UnixMillis now) {
  std::vector<StoredTrackId> out;
  selectTrackIds_.bind(1, now);
  while (selectTrackIds_.step()) {
    out.push_back({selectTrackIds_.columnText(0), selectTrackIds_.columnText(1),
                   selectTrackIds_.columnInt(2)});
  }
  return out;
}

int64_t UsageStore::putRules(std::string_view tenantId, std::string_view json, UnixMillis now) {
  upsertRules_.bind(1, tenantId).bind(2, json).bind(3, now);
  KJ_ASSERT(upsertRules_.step());
  int64_t version = upsertRules_.columnInt(0);
  upsertRules_.reset();
  return version;
}

std::optional<StoredRules> UsageStore::loadRules(std::string_view tenantId) {
  selectRules_.bind(1, tenantId);
  if (!selectRules_.step()) return std::nullopt;
  StoredRules r{std::string(tenantId), selectRules_.columnText(0), selectRules_.columnInt(1)};
  selectRules_.reset();
  return r;
}

std::vector<UsageBucket> UsageStore::loadUsage(std::string_view tenantId, std::string_view resource,
                                               std::string_view metric, UnixMillis from) {
  std::vector<UsageBucket> out;
  selectUsage_.bind(1, tenantId).bind(2, resource).bind(3, metric).bind(4, from);
  while (selectUsage_.step()) {
    out.push_back(
        {selectUsage_.columnText(0), selectUsage_.columnInt(1), selectUsage_.columnInt(2)});
  }
  return out;
}

namespace {
struct BucketKey {
  std::string resource, metric, userId;
  UnixMillis bucket;
  bool operator<(const BucketKey& o) const {
    return std::tie(resource, metric, userId, bucket) <
           std::tie(o.resource, o.metric, o.userId, o.bucket);
  }
};
}  // namespace

size_t UsageStore::compact(std::string_view tenantId, UnixMillis cutoff,
                           const date::time_zone* zone) {
  struct Row {
    BucketKey key;
    int64_t amount;
    UnixMillis day;  // Start of the local day holding the bucket.
  };
  std::vector<Row> old;
  selectOld_.bind(1, tenantId).bind(2, LIFETIME_BASE_BUCKET).bind(3, cutoff);
  while (selectOld_.step()) {
    UnixMillis bucket = selectOld_.columnInt(3);
    old.push_back(
        {{selectOld_.columnText(0), selectOld_.columnText(1), selectOld_.columnText(2), bucket},
         selectOld_.columnInt(4),
         windowAt(Period::DAY, bucket, zone).start});
  }
  // A gauge's report is its latest reading, so each local day keeps its last minute's rows as
  // they are; only its earlier minutes merge into the day's first minute.
  std::map<UnixMillis, UnixMillis> lastGaugeMinute;  // Local day start -> latest bucket.
  for (auto& r : old) {
    if (!isGauge(r.key.resource, r.key.metric)) continue;
    auto [it, _] = lastGaugeMinute.try_emplace(r.day, r.key.bucket);
    it->second = std::max(it->second, r.key.bucket);
  }
  std::map<BucketKey, int64_t> merged;
  for (auto& r : old) {
    bool keep = isGauge(r.key.resource, r.key.metric) && lastGaugeMinute[r.day] == r.key.bucket;
    BucketKey key = r.key;
    if (!keep) key.bucket = minuteBucket(r.day);
    int64_t& sum = merged[key];
    sum = saturatingAdd(sum, r.amount);
  }
  if (old.size() == merged.size()) return 0;  // Nothing to merge.
  deleteOld_.bind(1, tenantId).bind(2, LIFETIME_BASE_BUCKET).bind(3, cutoff).run();
  for (auto& [k, amount] : merged) {
    upsertUsage_.bind(1, tenantId).bind(2, k.resource).bind(3, k.metric).bind(4, k.userId);
    upsertUsage_.bind(5, k.bucket).bind(6, amount).run();
  }
  return old.size() - merged.size();
}

size_t UsageStore::retire(std::string_view tenantId, UnixMillis before) {
  std::map<BucketKey, int64_t> totals;
  size_t rows = 0;
  selectOld_.bind(1, tenantId).bind(2, LIFETIME_BASE_BUCKET).bind(3, before);
  while (selectOld_.step()) {
    int64_t& sum = totals[BucketKey{selectOld_.columnText(0), selectOld_.columnText(1),
                                    selectOld_.columnText(2), LIFETIME_BASE_BUCKET}];
    sum = saturatingAdd(sum, selectOld_.columnInt(4));
    ++rows;
  }
  if (rows == 0) return 0;
  deleteOld_.bind(1, tenantId).bind(2, LIFETIME_BASE_BUCKET).bind(3, before).run();
  for (auto& [k, amount] : totals) {
    upsertUsage_.bind(1, tenantId).bind(2, k.resource).bind(3, k.metric).bind(4, k.userId);
    upsertUsage_.bind(5, k.bucket).bind(6, amount).run();
  }
  return rows;
}

void UsageStore::putReservation(std::string_view tenantId, const Reservation& r) {
  insertReservation_.bind(1, tenantId).bind(2, r.id).bind(3, r.userId).bind(4, r.resource);
  insertReservation_.bind(5, r.metric).bind(6, r.amount).bind(7, r.expiresAt).run();
}

void UsageStore::deleteReservation(std::string_view tenantId, std::string_view id) {
  deleteReservation_.bind(1, tenantId).bind(2, id).run();
}

std::vector<Reservation> UsageStore::loadReservations(std::string_view tenantId) {
  std::vector<Reservation> out;
  selectReservations_.bind(1, tenantId);
  while (selectReservations_.step()) {
    Reservation r;
    r.id = selectReservations_.columnText(0);
    r.userId = selectReservations_.columnText(1);
    r.resource = selectReservations_.columnText(2);
    r.metric = selectReservations_.columnText(3);
    r.amount = selectReservations_.columnInt(4);
    r.expiresAt = selectReservations_.columnInt(5);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace tenantd
