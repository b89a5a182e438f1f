#pragma once
// Limits and usage in the store: rule lists, per-minute usage buckets, track idempotency keys and
// open reservations. Writes run on the writer thread (inside its group-commit transaction);
// loading at start runs on the daemon's start-up connection. Statements are prepared once.

#include "core/limiter.h"
#include "sqlite.h"

#include <optional>
#include <string>
#include <vector>

namespace tenantd {

// Start of the UTC minute holding `t`.
inline UnixMillis minuteBucket(UnixMillis t) {
  UnixMillis b = t - t % 60000;
  return t < 0 && t % 60000 != 0 ? b - 60000 : b;
}

// storage/bytes is a gauge: apps track readings, and /usage/summary reports the latest one.
inline bool isGauge(std::string_view resource, std::string_view metric) {
  return resource == "storage" && metric == "bytes";
}

// Bucket key of the row holding usage folded in by retention: before any window but lifetime.
constexpr UnixMillis LIFETIME_BASE_BUCKET = -(int64_t{1} << 62);

struct StoredRules {
  std::string tenantId;
  std::string json;
  int64_t version = 0;
};

struct UsageBucket {
  std::string userId;
  UnixMillis bucket;
  int64_t amount;
};

struct StoredTrackId {
  std::string tenantId;
  std::string id;
  UnixMillis expiresAt;
};

class UsageStore {
public:
  explicit UsageStore(Db& db);

  void addUsage(std::string_view tenantId, std::string_view resource, std::string_view metric,
                std::string_view userId, UnixMillis at, int64_t amount);
  void rememberTrackId(std::string_view tenantId, std::string_view id, UnixMillis expiresAt);
  size_t expireTrackIds(UnixMillis now);
  std::vector<StoredTrackId> loadTrackIds(UnixMillis now);

  // Replaces the tenant's rules; returns the new version.
  int64_t putRules(std::string_view tenantId, std::string_view json, UnixMillis now);
  std::optional<StoredRules> loadRules(std::string_view tenantId);

  // Every bucket of (tenant, resource, metric) at or after `from` (all of them for INT64_MIN).
  std::vector<UsageBucket> loadUsage(std::string_view tenantId, std::string_view resource,
                                     std::string_view metric, UnixMillis from);

  // Storage stays bounded. compact(): minute buckets before `cutoff` (a local day boundary) merge
  // into one row per tenant-local day, keyed at the day's first minute; windows of a day or
  // longer, and report months and days, are unions of local days, so their sums do not change.
  // A gauge also keeps each day's last minute as it was, so its latest reading does not change
  // either. Returns rows removed.
  size_t compact(std::string_view tenantId, UnixMillis cutoff, const date::time_zone* zone);
  // Rows before `before` fold into one lifetime row per (resource, metric, user): lifetime
  // totals stay exact, older windows lose their detail. Returns rows removed.
  size_t retire(std::string_view tenantId, UnixMillis before);

  void putReservation(std::string_view tenantId, const Reservation& r);
  void deleteReservation(std::string_view tenantId, std::string_view id);
  std::vector<Reservation> loadReservations(std::string_view tenantId);

private:
  Db& db_;
  Statement upsertUsage_;
  Statement upsertTrackId_;
  Statement deleteExpiredTrackIds_;
  Statement selectTrackIds_;
  Statement upsertRules_;
  Statement selectRules_;
  Statement selectUsage_;
  Statement insertReservation_;
  Statement deleteReservation_;
  Statement selectReservations_;
  Statement selectOld_;
  Statement deleteOld_;
};

}  // namespace tenantd
