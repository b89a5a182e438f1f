#include "peer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>

#include "rpc/rpc-fixture.h"

namespace tenantd {

namespace {
PeerCredentials peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  return PeerCredentials{1, uid, gid, std::move(groups)};
}
}  // namespace

TEST_CASE("Without an rpc section, root and the daemon's uid are admin and the socket group app") {
  auto policy = PeerPolicy::forDaemon(1000, 2000, {});
  CHECK(policy.roleOf(peer(0, 0)) == PeerRole::ADMIN);
  CHECK(policy.roleOf(peer(1000, 5)) == PeerRole::ADMIN);
  CHECK(policy.roleOf(peer(1001, 2000)) == PeerRole::APP);
  CHECK(policy.roleOf(peer(1001, 1001, {2000})) == PeerRole::APP);  // Supplementary group.
  CHECK(policy.roleOf(peer(1001, 2001)) == PeerRole::NONE);
  CHECK_FALSE(policy.grantFor(peer(1001, 2000)).tenants);  // Any tenant.
  CHECK(PeerPolicy::forDaemon(1000, std::nullopt, {}).roleOf(peer(1001, 2000)) == PeerRole::NONE);
}

TEST_CASE("Admin uids and gids from the rpc section are admin") {
  RpcAccess access;
  access.adminUids = {1500};
  access.adminGids = {27};
  auto policy = PeerPolicy::forDaemon(1000, 2000, access);
  CHECK(policy.roleOf(peer(1500, 1500)) == PeerRole::ADMIN);
  CHECK(policy.roleOf(peer(1600, 27)) == PeerRole::ADMIN);
  CHECK(policy.roleOf(peer(1600, 1600, {4, 27})) == PeerRole::ADMIN);
  CHECK(policy.roleOf(peer(1600, 1600)) == PeerRole::NONE);
}

TEST_CASE("App tables name peers and the tenants they may act for") {
  RpcAccess access;
  access.apps = {{{1001}, {}, std::vector<std::string>{"acme"}},
                 {{}, {3000}, std::vector<std::string>{"globex"}},
                 {{1003}, {}, std::nullopt},
                 {{1005}, {}, std::vector<std::string>{}}};
  auto policy = PeerPolicy::forDaemon(1000, 2000, access);
  auto acme = policy.grantFor(peer(1001, 1001));
  CHECK(acme.role == PeerRole::APP);
  CHECK(acme.mayActFor("acme"));
  CHECK_FALSE(acme.mayActFor("globex"));
  // Matched by two tables: the union of their tenants.
  auto both = policy.grantFor(peer(1001, 1001, {3000}));
  CHECK(both.mayActFor("acme"));
  CHECK(both.mayActFor("globex"));
  CHECK_FALSE(both.mayActFor("initech"));
  // A table without tenants: any tenant.
  CHECK(policy.grantFor(peer(1003, 1003)).mayActFor("initech"));
  // tenants = []: none (it granted every tenant before; an operator empties it to revoke).
  auto revoked = policy.grantFor(peer(1005, 1005));
  CHECK(revoked.role == PeerRole::APP);
  CHECK_FALSE(revoked.mayActFor("acme"));
  CHECK_FALSE(revoked.mayActFor("initech"));
  // Once app tables exist, the socket group alone no longer makes an app.
  CHECK(policy.roleOf(peer(1004, 2000)) == PeerRole::NONE);
  CHECK_FALSE(policy.grantFor(peer(1004, 2000)).mayActFor("acme"));
  CHECK(policy.grantFor(peer(0, 0)).mayActFor("anything"));
}

TEST_CASE("The kernel reports the peer's uid, primary group and supplementary groups") {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  auto creds = peerCredentials(fds[0]);
  REQUIRE(creds);
  CHECK(creds->uid == getuid());
  CHECK(creds->gid == getgid());
  CHECK(creds->pid == getpid());
  std::vector<gid_t> mine(static_cast<size_t>(getgroups(0, nullptr)));
  getgroups(static_cast<int>(mine.size()), mine.data());
  auto theirs = creds->groups;
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  CHECK(theirs == mine);
  close(fds[0]);
  close(fds[1]);
}

namespace {
using testing::RpcFixture;

PeerPolicy ownUidAs(PeerRole role, std::optional<std::vector<std::string>> tenants = std::nullopt) {
  PeerPolicy policy;  // Not even root is built in: this process's uid gets exactly `role`.
  if (role == PeerRole::ADMIN) policy.access.adminUids = {getuid()};
  if (role == PeerRole::APP) policy.access.apps = {{{getuid()}, {}, std::move(tenants)}};
  return policy;
}

std::string tenantError(RpcFixture& f, const char* id) {
  auto request = f.sidecar().tenantRequest();
  request.setId(id);
  return f.errorOf(request.send().getTenant().infoRequest().send().ignoreResult());
}
std::string adminError(RpcFixture& f) {
  return f.errorOf(f.admin().statusRequest().send().ignoreResult());
}
std::string roleOf(RpcFixture& f) {
  auto me = f.sidecar().whoamiRequest().send().wait(f.io.waitScope);
  CHECK(me.getUid() == getuid());
  CHECK(me.getGid() == getgid());
  CHECK(me.getPid() == static_cast<uint32_t>(getpid()));
  return me.getRole();
}
}  // namespace

TEST_CASE("An admin peer by configured uid may use Admin and any tenant") {
  RpcFixture f(ownUidAs(PeerRole::ADMIN));
  CHECK(roleOf(f) == "admin");
  CHECK(adminError(f) == "");
  CHECK(tenantError(f, "t1") == "");
  CHECK(tenantError(f, "t2") == "");
}

TEST_CASE("An app peer may act for any tenant but not use Admin") {
  RpcFixture f(ownUidAs(PeerRole::APP));
  CHECK(roleOf(f) == "app");
  CHECK(adminError(f).find("permission-denied:") != std::string::npos);
  CHECK(tenantError(f, "t1") == "");
  CHECK(tenantError(f, "t2") == "");
  CHECK(tenantError(f, "nobody").find("not-found:") != std::string::npos);
}

TEST_CASE("An app peer restricted to some tenants is refused the others") {
  RpcFixture f(ownUidAs(PeerRole::APP, std::vector<std::string>{"t1"}));
  CHECK(roleOf(f) == "app");
  CHECK(tenantError(f, "t1") == "");
  CHECK(tenantError(f, "t2").find("permission-denied:") != std::string::npos);
  // Whether a tenant exists is not revealed to a peer that may not act for it.
  CHECK(tenantError(f, "nobody").find("permission-denied:") != std::string::npos);
  CHECK(adminError(f).find("permission-denied:") != std::string::npos);
}

TEST_CASE("A peer with no role may ask health and whoami, nothing else") {
  RpcFixture f(ownUidAs(PeerRole::NONE));
  CHECK(roleOf(f) == "none");
  CHECK(f.sidecar().healthRequest().send().wait(f.io.waitScope).getStatus() == "ok");
  CHECK(tenantError(f, "t1").find("permission-denied:") != std::string::npos);
  CHECK(adminError(f).find("permission-denied:") != std::string::npos);
}

TEST_CASE("A reloaded policy re-decides open connections and the capabilities they hold") {
  // Found by the tenant-bounds review: after an app was removed from [rpc] and SIGHUP, its open
  // connection kept reading secrets and obtaining tenant() capabilities.
  RpcFixture f(ownUidAs(PeerRole::APP, std::vector<std::string>{"t1", "t2"}));
  auto request = f.sidecar().tenantRequest();
  request.setId("t1");
  auto t1 = request.send().getTenant();
  CHECK(f.errorOf(t1.infoRequest().send().ignoreResult()) == "");

  // The app keeps t2 only: the capability it holds for t1 and new tenant("t1") calls fail.
  CHECK(f.server->setPolicy(ownUidAs(PeerRole::APP, std::vector<std::string>{"t2"})) == 1);
  CHECK(f.errorOf(t1.infoRequest().send().ignoreResult()).find("permission-denied:") !=
        std::string::npos);
  CHECK(f.errorOf(t1.getSecretRequest().send().ignoreResult()).find("permission-denied:") !=
        std::string::npos);
  CHECK(tenantError(f, "t1").find("permission-denied:") != std::string::npos);
  CHECK(tenantError(f, "t2") == "");
  CHECK(roleOf(f) == "app");

  // Emptying its list revokes everything; restoring it restores the same capability.
  f.server->setPolicy(ownUidAs(PeerRole::APP, std::vector<std::string>{}));
  CHECK(tenantError(f, "t2").find("permission-denied:") != std::string::npos);
  f.server->setPolicy(ownUidAs(PeerRole::APP, std::vector<std::string>{"t1"}));
  CHECK(f.errorOf(t1.infoRequest().send().ignoreResult()) == "");

  // An admin demoted to none loses its Admin capability, and tenants got through it.
  f.server->setPolicy(ownUidAs(PeerRole::ADMIN));
  auto admin = f.sidecar().adminRequest().send().getAdmin();
  auto viaAdmin = [&] {
    auto r = admin.tenantRequest();
    r.setId("t1");
    return r.send().getTenant();
  }();
  CHECK(f.errorOf(admin.statusRequest().send().ignoreResult()) == "");
  CHECK(f.errorOf(viaAdmin.infoRequest().send().ignoreResult()) == "");
  f.server->setPolicy(ownUidAs(PeerRole::NONE));
  CHECK(roleOf(f) == "none");
  CHECK(f.errorOf(admin.statusRequest().send().ignoreResult()).find("permission-denied:") !=
        std::string::npos);
  CHECK(f.errorOf(viaAdmin.infoRequest().send().ignoreResult()).find("permission-denied:") !=
        std::string::npos);

  // New connections get the new policy too.
  f.server->setPolicy(ownUidAs(PeerRole::ADMIN));
  auto second = f.connect();
  CHECK(second.sidecar().whoamiRequest().send().wait(f.io.waitScope).getRole() == "admin");
}

}  // namespace tenantd
