# tenantd's public RPC contract. Apps in any language with a Cap'n Proto implementation generate
# a client from this file (installed to /usr/share/tenantd/).
#
# Evolution rule: add fields and methods with new ordinals; never renumber, retype or remove.
# Errors arrive as Cap'n Proto exceptions whose description starts with a stable kind:
# "invalid-argument:", "not-found:", "permission-denied:", "unavailable:", "overloaded:", and
# for Admin "already-exists:" and "conflict:".
# Business outcomes (not allowed, over the limit) are results, never exceptions.

@0xd148998c42f4a582;

$import "/capnp/c++.capnp".namespace("tenantd::rpc");

# The request contract's bounds: the daemon refuses anything past them (REST with 400 naming the
# field, RPC with "invalid-argument: <field>: ..."), and clients read the same numbers from here
# (C++: tenantd::rpc::MAX_AMOUNT, ...). rpc/contract.h holds the one validator that applies them.
const maxAmount :Int64 = 9007199254740992;         # 2^53: exact in every JSON parser.
const maxNameBytes :UInt32 = 64;                   # resource, metric: [a-z][a-z0-9_.-]{0,63}
const maxUserIdBytes :UInt32 = 128;
const maxTrackIdBytes :UInt32 = 128;
const maxReservationIdBytes :UInt32 = 128;
const earliestTimestampMs :Int64 = 946684800000;   # 2000-01-01T00:00:00Z
const maxFutureMs :Int64 = 300000;                 # A track may be dated at most 5 min ahead.
const defaultReserveTtlSeconds :UInt32 = 300;
const maxReserveTtlSeconds :UInt32 = 86400;
const maxRouteBytes :UInt32 = 256;                 # Tenant.rateLimit route, "METHOD /path"
const maxRateLimitKeyBytes :UInt32 = 256;
const maxWatchesPerConnection :UInt32 = 64;
const maxTenantIdBytes :UInt32 = 64;               # [A-Za-z0-9][A-Za-z0-9_.-]{0,63}
const maxTenantNameBytes :UInt32 = 200;
const maxPlanBytes :UInt32 = 32;                   # [a-z][a-z0-9_-]{0,31}
const maxJsonDepth :UInt32 = 32;                   # Nesting of config, rules and RBAC documents.
const maxRules :UInt32 = 256;                      # Resource-limit rules per tenant, per write.
const maxTiersPerRule :UInt32 = 8;                  # A tier per plan.
const maxRoles :UInt32 = 64;                       # RBAC roles per tenant (a create past it fails).
const maxPermissionsPerRole :UInt32 = 256;
const maxConfigBytes :UInt32 = 65536;              # A tenant's configuration document, as sent.
const maxRbacBytes :UInt32 = 65536;                # All of a tenant's roles, serialised.
const maxConfigRoutes :UInt32 = 256;               # config.routes entries, and rateLimit.routes keys.
const maxWebhooks :UInt32 = 64;                    # config.webhooks entries.
# Each document bound above is also the default and the ceiling of its [bounds] setting in
# tenantd.toml: a host may tighten them, never loosen them.

interface Sidecar {
  # The bootstrap capability of the socket at /run/tenantd/tenantd.sock. What a connection may
  # do is decided once, when it connects, from its peer's credentials (SO_PEERCRED: uid and
  # primary gid; SO_PEERGROUPS: supplementary groups) and the [rpc] section of tenantd.toml:
  # admin (root, the daemon's own uid, [rpc] admin_uids / admin_gids) may do everything; app
  # (a peer named by an [[rpc.app]] table, or, when there is none, a member of the socket's
  # group) may obtain Tenant capabilities, for the tables' tenants only if they list any; anyone
  # else ("none") may call health() and whoami() and gets "permission-denied:" for the rest.

  health @0 () -> (status :Text, version :Text, uptimeSeconds :UInt64);
  # Liveness over RPC: the same answer as GET /healthz. `status` is "ok" while the daemon serves;
  # `version` is tenantd's release ("0.1.0"); `uptimeSeconds` counts from process start.

  tenant @1 (id :Text) -> (tenant :Tenant);
  # A capability scoped to one tenant: later calls on it need no tenant argument, and can be
  # pipelined: sidecar.tenant("t").getSecret("K") is one round trip. "not-found:" if the tenant
  # does not exist (pipelined calls then fail with it too). "permission-denied:" if this peer is
  # an app restricted to other tenants ([[rpc.app]] tenants = [...] in tenantd.toml).

  admin @2 () -> (admin :Admin);
  # The operator's capability (tenantctl). "permission-denied:" unless the peer is admin: root,
  # the daemon's own uid, or a uid/gid listed in [rpc] admin_uids / admin_gids.

  whoami @3 () -> (role :Text, uid :UInt32, gid :UInt32, pid :UInt32);
  # What the daemon decided about this connection: role "admin", "app" or "none", and the peer's
  # credentials as SO_PEERCRED reported them when it connected (gid is the primary group).
}

interface Tenant {
  # One tenant's view of the sidecar. Obtained from Sidecar.tenant().

  getSecret @0 (name :Text) -> (value :Data, version :UInt64);
  # The latest value of a secret and its version (1 for the first store, +1 for each). Errors:
  # "not-found:" (no such secret, or expired), "unavailable:" (the stored value failed its
  # integrity check: tampered with or moved; the event is audited and counted).

  check @1 (request :UsageRequest) -> (decision :Decision);
  # May `amount` be used now? Evaluates every rule for (resource, metric); changes nothing.

  track @2 (request :TrackRequest) -> (result :TrackResult);
  # Records usage that happened (whether or not over a limit). Answered after it is durable.

  consume @3 (request :UsageRequest) -> (decision :Decision);
  # check() and, if allowed, track(): atomic. Answered after the usage is durable.

  reserve @4 (request :UsageRequest, ttlSeconds :UInt32) -> (decision :Decision, reservationId :Text);
  # Holds `amount` against the limits until commit(), release() or ttlSeconds (default 300).

  commit @5 (reservationId :Text, amount :Int64) -> ();
  # Settles a reservation with the amount actually used (recorded now). "not-found:" if unknown.

  release @6 (reservationId :Text) -> ();
  # Drops a reservation without recording usage. "not-found:" if unknown.

  checkBatch @7 (requests :List(UsageRequest)) -> (decisions :List(Decision));
  trackBatch @8 (requests :List(TrackRequest)) -> (results :List(TrackResult));
  consumeBatch @9 (requests :List(UsageRequest)) -> (decisions :List(Decision));
  # Batch forms: each request answered on its own, in order; one round trip for many.

  hasPermission @10 (role :Text, permission :Text) -> (allowed :Bool);
  # RBAC: does the tenant's role grant the permission ("*" and "prefix*" wildcards)?

  info @11 () -> (id :Text, name :Text, plan :Text, createdAt :Text);
  config @12 () -> (json :Text, version :UInt64);
  # The tenant's configuration document (as GET /tenant/config) and its version.

  rateLimit @13 (route :Text, key :Text) -> (result :RateLimitResult);
  # The app's own rate limit: `route` is "METHOD /path" as in config.rateLimit.routes
  # (e.g. "GET /v1/items"); `key` partitions it (a user, an API key, an
  # IP; empty: one budget for the whole tenant). Consumes one unit if allowed. The limiter is the
  # one behind the REST surface (GCRA: smooth, no burst at window edges), with buckets kept
  # apart from it (keyed by tenant, route and key). A route without a limit (or
  # rateLimit.enabled false) is always allowed, with `limited` false and the numbers 0.
  # "invalid-argument:" unless `route` is "METHOD /path" (the method in capitals, as requests
  # send it; one space, then '/') of at most 256 bytes and `key` at most 256 bytes.

  watchConfig @14 (watcher :ConfigWatcher) -> (handle :WatchHandle);
  # Calls watcher.changed() at once with the current config, then after every change, in order,
  # one call in flight at a time (a slow watcher sees the latest version, not every one). The
  # watch ends when the app drops `handle`, when a changed() call fails, or when the connection
  # closes. Changes come from POST /tenant/config and Admin.setConfig.
  # "overloaded:" when this connection already holds 64 watches (each costs the daemon a
  # subscription and up to one call in flight); drop one first.
}

interface ConfigWatcher {
  changed @0 (json :Text, version :UInt64) -> ();
}

interface WatchHandle {
  # Dropping the last reference ends the watch. No methods.
}

struct RateLimitResult {
  allowed @0 :Bool;
  limited @1 :Bool;             # A limit applies to this route.
  limit @2 :Int64;              # Requests per window (RateLimit-Limit).
  remaining @3 :Int64;          # RateLimit-Remaining after this request.
  resetSeconds @4 :Int64;       # RateLimit-Reset: until the bucket is full again; when refused,
                                # until the next request would pass (as the REST header).
  retryAfterSeconds @5 :Int64;  # 0 when allowed.
}

interface Admin {
  # Operator actions, the same effects (and audit rows, with actor "uid:N") as the REST API and
  # the offline `tenantd tenant|token` commands. Documents travel as JSON text in the REST API's
  # shapes so the two surfaces cannot drift.

  status @0 () -> (status :Status);

  createTenant @1 (id :Text, name :Text, plan :Text, timezone :Text, limits :TenantLimits)
      -> (tenant :TenantInfo);
  # "invalid-argument:" for a malformed id or timezone, "already-exists:" if the id is taken.
  listTenants @2 () -> (tenants :List(TenantInfo));
  getTenant @3 (id :Text) -> (tenant :TenantInfo);
  updateTenant @4 (id :Text, update :TenantUpdate) -> (tenant :TenantInfo);
  # A new timezone is stored at once but moves the tenant's calendar windows only at restart
  # (as for `tenantd tenant update`). A tenant created here is served (REST, RPC, limits) at once.

  createToken @5 (tenantId :Text, role :Text, ttlSeconds :Int64) -> (token :Text, info :TokenInfo);
  # role "admin" or "reader"; ttlSeconds 0: no expiry (at most 100 years). `token` is shown this
  # once, and authenticates REST requests at once.
  revokeToken @6 (tokenId :Text) -> ();
  # "not-found:" for an unknown id; revoking a revoked token again succeeds and changes nothing.
  listTokens @7 (tenantId :Text) -> (tokens :List(TokenInfo));

  getLimits @8 (tenantId :Text) -> (json :Text);
  # As GET /tenant/limits/resources.
  setLimits @9 (tenantId :Text, json :Text) -> (json :Text);
  # As PUT /tenant/limits/resources: the whole rule set, validated, replaced atomically.
  # "conflict:" while another update of the same tenant's rules is being installed.
  usage @10 (tenantId :Text, userId :Text) -> (json :Text);
  # As GET /tenant/limits/resources/usage?userId=.
  usageSummary @11 (tenantId :Text, period :Text) -> (json :Text);
  # As GET /usage/summary?period= (empty: the tenant's current month, in its own timezone).

  putSecret @12 (tenantId :Text, name :Text, value :Data) -> (version :UInt64);
  removeSecret @13 (tenantId :Text, name :Text) -> ();
  listSecrets @14 (tenantId :Text) -> (names :List(Text));

  getConfig @15 (tenantId :Text) -> (json :Text, version :UInt64);
  setConfig @16 (tenantId :Text, json :Text, ifVersion :UInt64) -> (version :UInt64);
  # ifVersion 0: unconditional; otherwise "conflict:" unless it is the stored version.
  # "invalid-argument:" names the field (as POST /tenant/config), including credentials that
  # name no secret of the tenant. Watchers of the tenant's config are told.

  audit @17 (tenantId :Text, limit :UInt32, beforeId :Int64) -> (json :Text);
  # As GET /tenant/audit?limit=&before= (limit 0: 50, at most 1000; beforeId 0: newest).

  tenant @18 (id :Text) -> (tenant :Tenant);
  # Any tenant's Tenant capability, for an operator (tenantctl secret get, limits check/track).

  quotas @19 (tenantId :Text) -> (quotas :List(QuotaUse));
  # What the tenant holds against each per-tenant quota ([quotas] in the config file). Past one,
  # the call that would add more answers "overloaded:" (REST: 429 quota_exceeded).
}

struct QuotaUse {
  name @0 :Text;    # "track_ids", "user_counters", "reservations": the [quotas] keys
  used @1 :UInt64;
  limit @2 :UInt64;
}

struct Status {
  version @0 :Text;
  uptimeSeconds @1 :UInt64;
  ready @2 :Bool;
  reason @3 :Text;            # Why not ready or degraded ("" when all is well).
  tenants @4 :UInt32;
  restListen @5 :Text;        # "127.0.0.1:3000"
  socketPath @6 :Text;
  databasePath @7 :Text;
  rpcConnections @8 :UInt32;
}

struct TenantLimits {
  # GET /tenant/info limits; -1: not set (create) or unchanged (update).
  apiCalls @0 :Int64 = -1;
  llmTokens @1 :Int64 = -1;
  storage @2 :Int64 = -1;
}

struct TenantInfo {
  id @0 :Text;
  name @1 :Text;
  plan @2 :Text;
  timezone @3 :Text;
  createdAt @4 :Text;         # ISO-8601 UTC
  limits @5 :TenantLimits;
}

struct TenantUpdate {
  # Empty texts leave a field as it is.
  name @0 :Text;
  plan @1 :Text;
  timezone @2 :Text;
  limits @3 :TenantLimits;
}

struct TokenInfo {
  id @0 :Text;                # Public id (revoke by it); never the token.
  tenantId @1 :Text;
  role @2 :Text;
  createdAt @3 :Text;
  expiresAt @4 :Text;         # "" when it never expires.
  revoked @5 :Bool;
}

struct UsageRequest {
  userId @0 :Text;      # Empty: no user (user-scoped rules do not apply).
  resource @1 :Text;    # [a-z][a-z0-9_.-]{0,63}
  metric @2 :Text;
  amount @3 :Int64 = 1;
}

struct TrackRequest {
  usage @0 :UsageRequest;
  id @1 :Text;           # Idempotency key (<= 128 bytes); a repeat within 48 h is not counted.
  timestampMs @2 :Int64; # 0: now. At most 5 minutes ahead.
}

struct Decision {
  allowed @0 :Bool;
  warning @1 :Bool;       # A warn rule would go over its limit.
  matched @2 :Bool;       # Some rule applies; the fields below describe the reported rule.
  gateAction @3 :Text;    # "block" | "warn" | "log"
  current @4 :Int64;
  reserved @5 :Int64;
  limit @6 :Int64;
  remaining @7 :Int64;
  period @8 :Text;
  scope @9 :Text;
  resetAtMs @10 :Int64;   # 0 for lifetime.
  error @11 :Text;        # consumeBatch only: why this item was not recorded ("" when it was).
  counted @12 :Counted;   # Whose usage the figures count ([fleet], docs/FLEET.md).
}

enum Counted {
  host @0;    # This host alone: the daemon does not count across hosts.
  fleet @1;   # The whole fleet's usage.
  local @2;   # The fleet's store is unreachable: this host's counts on the last fleet figures.
}

struct TrackResult {
  duplicate @0 :Bool;
  usage @1 :List(RuleUsage);
  error @2 :Text;  # Batch forms only: why this item was not recorded ("" when it was).
}

struct RuleUsage {
  resource @0 :Text;
  metric @1 :Text;
  period @2 :Text;
  scope @3 :Text;
  current @4 :Int64;
  reserved @5 :Int64;
  limit @6 :Int64;
  resetAtMs @7 :Int64;
  counted @8 :Counted;
}
