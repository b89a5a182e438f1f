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
  # The bootstrap capability of the socket at /run/tenantd/tenantd.sock.

  health @0 () -> (status :Text, version :Text, uptimeSeconds :UInt64);
  # Liveness over RPC: the same answer as GET /healthz. `status` is "ok" while the daemon serves;
  # `version` is tenantd's release ("0.1.0"); `uptimeSeconds` counts from process start.
}
