#include "tenantd/connect.h"

#include <stdlib.h>

#include <catch2/catch.hpp>

#include "tenantd/client-testing.h"

namespace tenantd::client {

using testing::ServerEnv;

TEST_CASE("connect() reaches the Sidecar and a pipelined getSecret is one round trip") {
  ServerEnv env;
  env.secret("t1", "K", "v1");
  auto io = kj::setupAsyncIo();
  auto connection = connect(*io.provider, env.socketPath).wait(io.waitScope);
  auto health = connection->sidecar().healthRequest().send().wait(io.waitScope);
  CHECK(health.getStatus() == "ok");

  auto tenant = connection->sidecar().tenantRequest();
  tenant.setId("t1");
  auto get = tenant.send().getTenant().getSecretRequest();
  get.setName("K");
  auto reply = get.send().wait(io.waitScope);
  auto value = reply.getValue();
  CHECK(std::string(reinterpret_cast<const char*>(value.begin()), value.size()) == "v1");
  CHECK(reply.getVersion() == 1);
}

TEST_CASE("A daemon's refusal arrives as a kj exception that toError reads") {
  ServerEnv env;
  auto io = kj::setupAsyncIo();
  auto connection = connect(*io.provider, env.socketPath).wait(io.waitScope);
  auto tenant = connection->sidecar().tenantRequest();
  tenant.setId("nobody");
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { tenant.send().wait(io.waitScope); })) {
    Error error = toError(*e);
    CHECK(error.kind() == ErrorKind::NOT_FOUND);
    CHECK(error.message() == "no such tenant");
  } else {
    FAIL("tenant(nobody) succeeded");
  }
}

TEST_CASE("connect() fails with unavailable when nothing listens at the path") {
  tenantd::testing::TempDir dir;
  auto io = kj::setupAsyncIo();
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 connect(*io.provider, dir.file("nobody.sock")).wait(io.waitScope);
               })) {
    Error error = toError(*e);
    CHECK(error.kind() == ErrorKind::UNAVAILABLE);
    CHECK(error.message().rfind("cannot connect to " + dir.file("nobody.sock") + ": ", 0) == 0);
  } else {
    FAIL("connected to nothing");
  }
}

TEST_CASE("defaultSocketPath honours TENANTD_SOCKET") {
  unsetenv("TENANTD_SOCKET");
  CHECK(defaultSocketPath() == "/run/tenantd/tenantd.sock");
  setenv("TENANTD_SOCKET", "/tmp/x.sock", 1);
  CHECK(defaultSocketPath() == "/tmp/x.sock");
  setenv("TENANTD_SOCKET", "", 1);
  CHECK(defaultSocketPath() == "/run/tenantd/tenantd.sock");
  unsetenv("TENANTD_SOCKET");
}

}  // namespace tenantd::client
