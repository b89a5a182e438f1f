#include "tenantd/validate.h"

#include "contract.h"

#include <string>

namespace tenantd::client::detail {

namespace {
void throwIf(const contract::Check& problem) {
  if (!problem) return;
  std::string why(problem->field);
  why += ": ";
  why += problem->message;
  throw Error(ErrorKind::INVALID_ARGUMENT, why);
}
}  // namespace

void validate(const Usage& usage) {
  throwIf(contract::checkUsage(usage.userId, usage.resource, usage.metric, usage.amount));
}

void validate(const TrackRequest& request, int64_t nowMs) {
  validate(request.usage);
  throwIf(contract::checkTrackId(request.id));
  if (request.timestampMs != 0) throwIf(contract::checkTimestamp(request.timestampMs, nowMs));
}

}  // namespace tenantd::client::detail
