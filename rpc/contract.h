#pragma once
// The request contract: the one place that says whether a request's values are acceptable. REST,
// RPC (Tenant and Admin), the offline CLI and the client library all call these checks, so a
// bound is written once and every surface refuses the same thing with the same words. The
// numbers are the constants of tenantd.capnp, which clients in other languages read too.
//
// Checks return the first problem as a value naming its field; each surface wraps it in its own
// error shape (REST: 400 {"error":{"field","message"}}; RPC: "invalid-argument: field: message").
// Messages are literals: a check on the hot path allocates nothing.

#include "tenantd.capnp.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace tenantd::contract {

constexpr int64_t MAX_AMOUNT = rpc::MAX_AMOUNT;
constexpr size_t MAX_NAME_BYTES = rpc::MAX_NAME_BYTES;
constexpr size_t MAX_USER_ID_BYTES = rpc::MAX_USER_ID_BYTES;
constexpr size_t MAX_TRACK_ID_BYTES = rpc::MAX_TRACK_ID_BYTES;
constexpr size_t MAX_RESERVATION_ID_BYTES = rpc::MAX_RESERVATION_ID_BYTES;
constexpr int64_t EARLIEST_TIMESTAMP_MS = rpc::EARLIEST_TIMESTAMP_MS;
constexpr int64_t MAX_FUTURE_MS = rpc::MAX_FUTURE_MS;
constexpr int64_t DEFAULT_RESERVE_TTL_SECONDS = rpc::DEFAULT_RESERVE_TTL_SECONDS;
constexpr int64_t MAX_RESERVE_TTL_SECONDS = rpc::MAX_RESERVE_TTL_SECONDS;
constexpr size_t MAX_ROUTE_BYTES = rpc::MAX_ROUTE_BYTES;
constexpr size_t MAX_RATE_LIMIT_KEY_BYTES = rpc::MAX_RATE_LIMIT_KEY_BYTES;
constexpr size_t MAX_WATCHES_PER_CONNECTION = rpc::MAX_WATCHES_PER_CONNECTION;
constexpr size_t MAX_TENANT_ID_BYTES = rpc::MAX_TENANT_ID_BYTES;
constexpr size_t MAX_TENANT_NAME_BYTES = rpc::MAX_TENANT_NAME_BYTES;
constexpr size_t MAX_PLAN_BYTES = rpc::MAX_PLAN_BYTES;
constexpr int MAX_JSON_DEPTH = rpc::MAX_JSON_DEPTH;
constexpr size_t MAX_RULES = rpc::MAX_RULES;
constexpr size_t MAX_TIERS_PER_RULE = rpc::MAX_TIERS_PER_RULE;
constexpr size_t MAX_ROLES = rpc::MAX_ROLES;
constexpr size_t MAX_PERMISSIONS_PER_ROLE = rpc::MAX_PERMISSIONS_PER_ROLE;
constexpr size_t MAX_CONFIG_BYTES = rpc::MAX_CONFIG_BYTES;
constexpr size_t MAX_RBAC_BYTES = rpc::MAX_RBAC_BYTES;
constexpr size_t MAX_CONFIG_ROUTES = rpc::MAX_CONFIG_ROUTES;
constexpr size_t MAX_WEBHOOKS = rpc::MAX_WEBHOOKS;

struct FieldError {
  std::string_view field;    // As the request names it: "amount", "reservationId", ...
  std::string_view message;  // What the field must be: "an integer from 1 to 2^53".
  bool operator==(const FieldError&) const = default;
};
using Check = std::optional<FieldError>;

// resource and metric names: [a-z][a-z0-9_.-]{0,63}
bool isValidName(std::string_view name);
constexpr std::string_view NAME_RULE = "must match [a-z][a-z0-9_.-]{0,63}";

// A usage request (check, track, consume, reserve): resource, metric, then userId (empty: none),
// then amount from 1 to 2^53.
Check checkUsage(std::string_view userId, std::string_view resource, std::string_view metric,
                 int64_t amount);
// A track's own fields: its idempotency id (empty: none) and its time, from 2000-01-01 to
// MAX_FUTURE_MS past `nowMs`.
Check checkTrackId(std::string_view id);
Check checkTimestamp(int64_t timestampMs, int64_t nowMs);
// How long a reservation holds, 1 to 86400 s (callers map "not given" to the default first).
Check checkReserveTtl(int64_t seconds);
// The reservation a commit or release names, and a commit's actual amount (0 to 2^53).
Check checkReservationId(std::string_view id);
Check checkCommitAmount(int64_t amount);
// The user whose usage GET …/usage or Admin.usage reports (empty: tenant-wide rows only).
Check checkUserId(std::string_view userId);

}  // namespace tenantd::contract
