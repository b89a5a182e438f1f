// A minimal app on libtenantd-client's synchronous facade: check before working, track after,
// read a secret. Any thread may share one Client; concurrent checks are batched for you.
//
//   tenantd-client-quickstart [SOCKET [TENANT]]    (defaults: $TENANTD_SOCKET, tenant-123)

#include <tenantd/client.h>

#include <iostream>
#include <string>

namespace tc = tenantd::client;

int main(int argc, char** argv) {
  tc::ClientOptions options;
  if (argc > 1) options.socketPath = argv[1];
  std::string tenant = argc > 2 ? argv[2] : "tenant-123";
  try {
    tc::Client client(options);  // Connects on first use, and again after a daemon restart.

    tc::Health health = client.health();
    std::cout << "tenantd " << health.version << ": " << health.status << "\n";

    tc::Usage call{"user-1", "api", "calls", 1};
    tc::Decision decision = client.check(tenant, call);
    if (!decision.allowed) {
      std::cout << "check: over the limit (" << decision.current << " of " << decision.limit
                << " this " << decision.period << ")\n";
      return 0;
    }
    std::cout << "check: allowed\n";

    // ... the work happens here; then record it. The id makes a retry safe: a repeat within
    // 48 h is acknowledged without counting again.
    tc::TrackResult tracked = client.track(tenant, {call, "quickstart-1"});
    std::cout << "track: " << (tracked.duplicate ? "duplicate, not counted" : "recorded") << "\n";

    try {
      tc::Secret secret = client.getSecret(tenant, "STRIPE_SECRET_KEY");
      std::cout << "secret STRIPE_SECRET_KEY: version " << secret.version << ", "
                << secret.value.size() << " bytes\n";
    } catch (const tc::Error& e) {
      if (e.kind() != tc::ErrorKind::NOT_FOUND) throw;
      std::cout << "secret STRIPE_SECRET_KEY: not stored\n";
    }
  } catch (const tc::Error& e) {
    // Transport failures and the daemon's refusals, with a stable kind: e.kind(), e.what().
    std::cerr << "quickstart: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
