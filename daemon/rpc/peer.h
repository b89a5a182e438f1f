#pragma once
// Who is on the other end of an RPC connection, and what that allows. Decided once per
// connection from the kernel's view of the peer (SO_PEERCRED, SO_PEERGROUPS), never from anything
// the peer says.

#include "config/config.h"

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd {

enum class PeerRole { NONE, APP, ADMIN };
std::string_view peerRoleName(PeerRole role);  // "none", "app", "admin"

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;              // Primary group, from SO_PEERCRED.
  std::vector<gid_t> groups;  // Supplementary groups, from SO_PEERGROUPS (empty if unknown).
  bool inGroup(gid_t group) const;
};

// What one connection may do.
struct PeerGrant {
  PeerRole role = PeerRole::NONE;
  std::optional<std::set<std::string, std::less<>>> tenants;  // APP only; nullopt: any tenant.
  bool mayActFor(std::string_view tenantId) const;
};

// Admin: a uid in `builtinAdmins` (root and the daemon's own uid) or in [rpc] admin_uids, or a
// member (primary or supplementary group) of [rpc] admin_gids. App: a peer that an [[rpc.app]]
// table names by uid or group, for the union of the tables' tenants (a table without tenants:
// any); without [[rpc.app]] tables, a member of `socketGroup`, for any tenant. Anyone else:
// NONE. (The socket is 0660, so others cannot connect at all; this is the second line.)
struct PeerPolicy {
  std::vector<uid_t> builtinAdmins;
  std::optional<gid_t> socketGroup;
  RpcAccess access;

  // The daemon's policy: root and `daemonUid` are admins besides what `access` says.
  static PeerPolicy forDaemon(uid_t daemonUid, std::optional<gid_t> socketGroup, RpcAccess access);
  PeerGrant grantFor(const PeerCredentials& peer) const;
  PeerRole roleOf(const PeerCredentials& peer) const { return grantFor(peer).role; }
};

// SO_PEERCRED (and SO_PEERGROUPS) of a connected Unix socket; nullopt if unavailable.
std::optional<PeerCredentials> peerCredentials(int fd);

}  // namespace tenantd
