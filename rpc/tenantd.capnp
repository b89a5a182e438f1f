# tenantd's public RPC contract. Apps in any language with a Cap'n Proto implementation generate
# a client from this file (installed to /usr/share/tenantd/).
#
# Evolution rule: add fields and methods with new ordinals; never renumber, retype or remove.
# Errors arrive as Cap'n Proto exceptions whose description starts with a stable kind:
# "invalid-argument:", "not-found:", "permission-denied:", "unavailable:", "overloaded:".
# Business outcomes (not allowed, over the limit) are results, never exceptions.

@0xd148998c42f4a582;

$import "/capnp/c++.capnp".namespace("tenantd::rpc");

interface Sidecar {
  # The bootstrap capability of the socket at /run/tenantd/tenantd.sock. What a connection may
  # do is decided by its peer's credentials (SO_PEERCRED): root and the daemon's own uid, and
  # members of the socket's group, may obtain Tenant capabilities; anyone else gets
  # "permission-denied:".

  health @0 () -> (status :Text, version :Text, uptimeSeconds :UInt64);
  # Liveness over RPC: the same answer as GET /healthz. `status` is "ok" while the daemon serves;
  # `version` is tenantd's release ("0.1.0"); `uptimeSeconds` counts from process start.

  tenant @1 (id :Text) -> (tenant :Tenant);
  # A capability scoped to one tenant: later calls on it need no tenant argument, and can be
  # pipelined: sidecar.tenant("t").getSecret("K") is one round trip. "not-found:" if the tenant
  # does not exist (pipelined calls then fail with it too).
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
}
