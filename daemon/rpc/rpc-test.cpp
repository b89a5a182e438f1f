#include "sidecar.h"
#include "unix-listener.h"

#include "app/version.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <catch2/catch.hpp>

#include <fstream>

#include "support/temp-dir.h"

namespace tenantd {

TEST_CASE("Sidecar.health answers ok with the version over a socket pair") {
  auto io = kj::setupAsyncIo();
  ManualClock clock(10'000);
  auto pipe = io.provider->newTwoWayPipe();
  capnp::TwoPartyClient serverSide(*pipe.ends[0], kj::heap<SidecarImpl>(clock, 4'000),
                                   capnp::rpc::twoparty::Side::SERVER);
  capnp::TwoPartyClient client(*pipe.ends[1]);
  auto sidecar = client.bootstrap().castAs<rpc::Sidecar>();
  auto response = sidecar.healthRequest().send().wait(io.waitScope);
  CHECK(response.getStatus() == "ok");
  CHECK(response.getVersion() == TENANTD_VERSION);
  CHECK(response.getUptimeSeconds() == 6);
}

TEST_CASE("bindUnixSocket creates a 0660 socket in a 0750 directory") {
  testing::TempDir dir;
  auto path = dir.file("run/t.sock");
  int fd = bindUnixSocket(path);
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
  REQUIRE(stat(dir.file("run").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0750);
  close(fd);
}

TEST_CASE("bindUnixSocket replaces a stale socket but never a live one") {
  testing::TempDir dir;
  auto path = dir.file("t.sock");
  int live = bindUnixSocket(path);
  CHECK_THROWS_WITH(bindUnixSocket(path), Catch::Contains("another process is serving"));
  close(live);  // Now only the file remains, as after a crash.
  int again = bindUnixSocket(path);
  CHECK(again >= 0);
  close(again);
}

TEST_CASE("bindUnixSocket refuses to replace a regular file") {
  testing::TempDir dir;
  auto path = dir.file("t.sock");
  std::ofstream(path) << "not a socket";
  CHECK_THROWS_WITH(bindUnixSocket(path), Catch::Contains("not a socket"));
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
}

}  // namespace tenantd
