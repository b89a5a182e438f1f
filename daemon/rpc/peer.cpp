#include "peer.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace tenantd {

namespace {
template <typename T>
bool contains(const std::vector<T>& list, T value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}
}  // namespace

std::string_view peerRoleName(PeerRole role) {
  switch (role) {
    case PeerRole::NONE: return "none";
    case PeerRole::APP: return "app";
    case PeerRole::ADMIN: return "admin";
  }
  return "none";
}

bool PeerCredentials::inGroup(gid_t group) const {
  return gid == group || contains(groups, group);
}

bool PeerGrant::mayActFor(std::string_view tenantId) const {
  switch (role) {
    case PeerRole::NONE: return false;
    case PeerRole::ADMIN: return true;
    case PeerRole::APP: return !tenants || tenants->count(tenantId) > 0;
  }
  return false;
}

PeerPolicy PeerPolicy::forDaemon(uid_t daemonUid, std::optional<gid_t> socketGroup,
                                 RpcAccess access) {
  return PeerPolicy{{0, daemonUid}, socketGroup, std::move(access)};
}

PeerGrant PeerPolicy::grantFor(const PeerCredentials& peer) const {
  PeerGrant grant;
  bool admin = contains<uid_t>(builtinAdmins, peer.uid) ||
               contains<uint32_t>(access.adminUids, peer.uid) ||
               std::any_of(access.adminGids.begin(), access.adminGids.end(),
                           [&](uint32_t g) { return peer.inGroup(g); });
  if (admin) {
    grant.role = PeerRole::ADMIN;
    return grant;
  }
  if (access.apps.empty()) {
    if (socketGroup && peer.inGroup(*socketGroup)) grant.role = PeerRole::APP;
    return grant;
  }
  std::set<std::string, std::less<>> tenants;
  bool anyTenant = false;
  for (auto& app : access.apps) {
    bool named =
        contains<uint32_t>(app.uids, peer.uid) ||
        std::any_of(app.gids.begin(), app.gids.end(), [&](uint32_t g) { return peer.inGroup(g); });
    if (!named) continue;
    grant.role = PeerRole::APP;
    if (!app.tenants) {
      anyTenant = true;
    } else {
      tenants.insert(app.tenants->begin(), app.tenants->end());
    }
  }
  if (grant.role == PeerRole::APP && !anyTenant) grant.tenants = std::move(tenants);
  return grant;
}

std::optional<PeerCredentials> peerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    return std::nullopt;
  }
  PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
  // Supplementary groups as they were when the peer connected (Linux 4.13+). Without them only
  // the primary group counts, which is stricter, never looser.
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      peer.groups = std::move(groups);
      break;
    }
    if (errno != ERANGE) break;
    groups.resize(bytes / sizeof(gid_t) + 1);  // The kernel says how much it needs.
  }
  return peer;
}

}  // namespace tenantd
