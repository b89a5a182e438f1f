#pragma once
// Between the facade's plain structs and the generated Cap'n Proto readers and builders.
// Private to the library; shared by the batched and the single calls.

#include "tenantd.capnp.h"
#include "tenantd/client.h"

namespace tenantd::client::detail {

void write(rpc::UsageRequest::Builder out, const Usage& usage);
void write(rpc::TrackRequest::Builder out, const TrackRequest& request);
Decision read(rpc::Decision::Reader decision);
TrackResult read(rpc::TrackResult::Reader result);

}  // namespace tenantd::client::detail
