// The raw async API for programs that run a kj event loop: the generated Cap'n Proto classes
// and one connection, with pipelining (tenant() and getSecret() in one round trip) and an
// explicit batch.
//
//   tenantd-client-raw [SOCKET [TENANT]]    (defaults: $TENANTD_SOCKET, tenant-123)

#include <tenantd/connect.h>

#include <iostream>
#include <string>

namespace tc = tenantd::client;

int main(int argc, char** argv) {
  std::string socket = argc > 1 ? argv[1] : tc::defaultSocketPath();
  std::string tenantId = argc > 2 ? argv[2] : "tenant-123";
  auto io = kj::setupAsyncIo();
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 auto connection = tc::connect(*io.provider, socket).wait(io.waitScope);
                 auto tenantRequest = connection->sidecar().tenantRequest();
                 tenantRequest.setId(tenantId);
                 auto tenant = tenantRequest.send().getTenant();  // Not awaited: pipelined.

                 auto batch = tenant.checkBatchRequest();
                 auto items = batch.initRequests(3);
                 for (auto item : items) {
                   item.setResource("api");
                   item.setMetric("calls");
                 }
                 // Keep the response alive while reading from it.
                 auto checked = batch.send().wait(io.waitScope);
                 for (auto d : checked.getDecisions()) {
                   std::cout << "check: " << (d.getAllowed() ? "allowed" : "not allowed") << "\n";
                 }
               })) {
    std::cerr << "raw: " << tc::toError(*e).what() << "\n";
    return 1;
  }
  return 0;
}
