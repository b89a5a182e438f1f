#pragma once
// What every tenantctl command works with: the global options, the output streams, and one
// connection to the daemon (made on first use) on this thread's kj event loop. Every call waits
// at most --timeout; failures come out as tenantd::client::Error, which cli.cpp turns into a
// message on stderr and an exit code.

#include "tenantctl/output.h"
#include "tenantd/connect.h"

#include <kj/async-io.h>

#include <chrono>
#include <iostream>
#include <string>

namespace tenantd::ctl {

struct GlobalOptions {
  std::string socketPath;  // Empty: $TENANTD_SOCKET, else the default.
  bool json = false;
  double timeoutSeconds = 10;
};

// A command-line mistake found after parsing (bad JSON in a file, a flag combination).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Context {
public:
  Context(GlobalOptions options, std::ostream& out, std::ostream& err, std::istream& in);
  KJ_DISALLOW_COPY(Context);

  std::ostream& out;
  std::ostream& err;
  std::istream& in;
  bool json() const { return options_.json; }
  const std::string& socketPath() const { return options_.socketPath; }
  kj::AsyncIoContext& io() { return io_; }

  rpc::Sidecar::Client sidecar();
  // Pipelined behind the first call that uses it.
  rpc::Admin::Client admin();
  // The tenant's capability through Sidecar.tenant(): needs the app role, not admin.
  rpc::Tenant::Client tenant(const std::string& id);

  // Waits for `promise` for at most the timeout.
  template <typename T>
  T wait(kj::Promise<T> promise);

  // A secret value or a document: the whole file, or stdin when `path` is empty or "-".
  std::string readInput(const std::string& path);
  // Prints `document` (--json).
  void printJson(const Json& document);

private:
  GlobalOptions options_;
  kj::AsyncIoContext io_;
  kj::Own<client::Connection> connection_;
  kj::Maybe<rpc::Admin::Client> admin_;
};

template <typename T>
T Context::wait(kj::Promise<T> promise) {
  auto limit = static_cast<int64_t>(options_.timeoutSeconds * 1000) * kj::MILLISECONDS;
  auto timeout = io_.provider->getTimer().afterDelay(limit).then([this]() -> kj::Promise<T> {
    return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                         kj::str("timeout: no answer from ", options_.socketPath.c_str(),
                                 " within ", options_.timeoutSeconds, " s"));
  });
  try {
    return promise.exclusiveJoin(kj::mv(timeout)).wait(io_.waitScope);
  } catch (const kj::Exception& e) {
    throw client::toError(e);
  }
}

}  // namespace tenantd::ctl
