#pragma once
// The contract's rules for usage and track requests (rpc/tenantd.capnp, as the daemon enforces
// them), checked on the caller's thread before a request joins a batch: the daemon refuses a
// whole batch for one bad item, so a bad request must never reach one. Private to the library.

#include "tenantd/client.h"

namespace tenantd::client::detail {

constexpr int64_t MAX_AMOUNT = int64_t{1} << 53;
constexpr size_t MAX_USER_ID_BYTES = 128;
constexpr size_t MAX_TRACK_ID_BYTES = 128;
constexpr int64_t EARLIEST_TIMESTAMP_MS = 946684800000;  // 2000-01-01
constexpr int64_t MAX_FUTURE_MS = 5 * 60 * 1000;

// [a-z][a-z0-9_.-]{0,63}: resource and metric names.
bool isValidName(std::string_view name);

// Throw Error(INVALID_ARGUMENT) naming the field. `nowMs` is this host's clock: the daemon reads
// the same clock a moment later, so nothing accepted here is "too far ahead" there.
void validate(const Usage& usage);
void validate(const TrackRequest& request, int64_t nowMs);

}  // namespace tenantd::client::detail
