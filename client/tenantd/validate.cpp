#include "tenantd/validate.h"

namespace tenantd::client::detail {

namespace {
[[noreturn]] void invalid(std::string_view why) {
  throw Error(ErrorKind::INVALID_ARGUMENT, why);
}
}  // namespace

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void validate(const Usage& usage) {
  if (!isValidName(usage.resource) || !isValidName(usage.metric)) {
    invalid("resource and metric must match [a-z][a-z0-9_.-]{0,63}");
  }
  if (usage.userId.size() > MAX_USER_ID_BYTES) invalid("userId is at most 128 bytes");
  if (usage.amount < 1 || usage.amount > MAX_AMOUNT) invalid("amount must be from 1 to 2^53");
}

void validate(const TrackRequest& request, int64_t nowMs) {
  validate(request.usage);
  if (request.id.size() > MAX_TRACK_ID_BYTES) invalid("id is at most 128 bytes");
  if (request.timestampMs != 0 && (request.timestampMs < EARLIEST_TIMESTAMP_MS ||
                                   request.timestampMs > nowMs + MAX_FUTURE_MS)) {
    invalid("timestampMs before 2000 or more than 5 minutes ahead");
  }
}

}  // namespace tenantd::client::detail
