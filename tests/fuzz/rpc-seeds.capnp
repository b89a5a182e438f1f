@0xd6f1c2a4b8e39057;
# Structs laid out as the parameters of tenantd.capnp's methods (same field types, same order),
# so `capnp encode --flat` can write seed inputs for the rpc-requests harness (make-rpc-seeds).

using T = import "/rpc/tenantd.capnp";

struct OneText { a @0 :Text; }
struct TwoTexts { a @0 :Text; b @1 :Text; }
struct Usage { request @0 :T.UsageRequest; }
struct Track { request @0 :T.TrackRequest; }
struct Reserve { request @0 :T.UsageRequest; ttlSeconds @1 :UInt32; }
struct Commit { reservationId @0 :Text; amount @1 :Int64; }
struct UsageList { requests @0 :List(T.UsageRequest); }
struct TrackList { requests @0 :List(T.TrackRequest); }
struct CreateTenant { id @0 :Text; name @1 :Text; plan @2 :Text; timezone @3 :Text;
                      limits @4 :T.TenantLimits; }
struct CreateToken { tenantId @0 :Text; role @1 :Text; ttlSeconds @2 :Int64; }
struct PutSecret { tenantId @0 :Text; name @1 :Text; value @2 :Data; }
struct SetConfig { tenantId @0 :Text; json @1 :Text; ifVersion @2 :UInt64; }
struct Audit { tenantId @0 :Text; limit @1 :UInt32; beforeId @2 :Int64; }
