#include "contract.h"

namespace tenantd::contract {

namespace {
constexpr std::string_view AT_MOST_128 = "at most 128 bytes";
static_assert(MAX_USER_ID_BYTES == 128 && MAX_TRACK_ID_BYTES == 128 &&
                  MAX_RESERVATION_ID_BYTES == 128 && MAX_NAME_BYTES == 64,
              "the messages below spell these bounds");
static_assert(MAX_FUTURE_MS == 5 * 60 * 1000 && MAX_RESERVE_TTL_SECONDS == 86400);
}  // namespace

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > MAX_NAME_BYTES || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Check checkUsage(std::string_view userId, std::string_view resource, std::string_view metric,
                 int64_t amount) {
  if (!isValidName(resource)) return FieldError{"resource", NAME_RULE};
  if (!isValidName(metric)) return FieldError{"metric", NAME_RULE};
  if (auto e = checkUserId(userId)) return e;
  if (amount < 1 || amount > MAX_AMOUNT) {
    return FieldError{"amount", "an integer from 1 to 2^53 (9007199254740992)"};
  }
  return std::nullopt;
}

Check checkUserId(std::string_view userId) {
  if (userId.size() > MAX_USER_ID_BYTES) return FieldError{"userId", AT_MOST_128};
  return std::nullopt;
}

Check checkTrackId(std::string_view id) {
  if (id.size() > MAX_TRACK_ID_BYTES) return FieldError{"id", AT_MOST_128};
  return std::nullopt;
}

Check checkTimestamp(int64_t timestampMs, int64_t nowMs) {
  if (timestampMs < EARLIEST_TIMESTAMP_MS) {
    return FieldError{"timestamp", "not before 2000-01-01T00:00:00Z"};
  }
  if (timestampMs > nowMs + MAX_FUTURE_MS) {
    return FieldError{"timestamp", "more than 5 minutes in the future"};
  }
  return std::nullopt;
}

Check checkReserveTtl(int64_t seconds) {
  if (seconds < 1 || seconds > MAX_RESERVE_TTL_SECONDS) {
    return FieldError{"ttlSeconds", "an integer from 1 to 86400"};
  }
  return std::nullopt;
}

Check checkReservationId(std::string_view id) {
  if (id.empty() || id.size() > MAX_RESERVATION_ID_BYTES) {
    return FieldError{"reservationId", "1 to 128 bytes"};
  }
  return std::nullopt;
}

Check checkCommitAmount(int64_t amount) {
  if (amount < 0 || amount > MAX_AMOUNT) {
    return FieldError{"amount", "an integer from 0 to 2^53 (9007199254740992)"};
  }
  return std::nullopt;
}

}  // namespace tenantd::contract
