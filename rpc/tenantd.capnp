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
}
