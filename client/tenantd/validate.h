#pragma once
// The request contract (rpc/contract.h, the same checks the daemon runs) applied on the caller's
// thread before a request joins a batch: the daemon refuses a whole batch for one bad item, so a
// bad request must never reach one. Private to the library.

#include "tenantd/client.h"

namespace tenantd::client::detail {

// Throw Error(INVALID_ARGUMENT, "<field>: <what it must be>"). `nowMs` is this host's clock: the
// daemon reads the same clock a moment later, so nothing accepted here is "too far ahead" there.
void validate(const Usage& usage);
void validate(const TrackRequest& request, int64_t nowMs);

}  // namespace tenantd::client::detail
