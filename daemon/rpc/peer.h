#pragma once
// Who is on the other end of an RPC connection, and what that allows. Decided once per
// connection from SO_PEERCRED, never from anything the peer says.

#include <sys/types.h>

#include <optional>

namespace tenantd {

enum class PeerRole { NONE, APP, ADMIN };

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Defaults: root and the daemon's own uid are ADMIN; a peer whose primary group is the socket's
// group is APP; anyone else NONE. (The socket is 0660, so others cannot connect at all; this is
// the second line.)
struct PeerPolicy {
  uid_t daemonUid = 0;
  std::optional<gid_t> appGroup;
  PeerRole roleOf(const PeerCredentials& peer) const;
};

// SO_PEERCRED of a connected Unix socket; nullopt if unavailable.
std::optional<PeerCredentials> peerCredentials(int fd);

}  // namespace tenantd
