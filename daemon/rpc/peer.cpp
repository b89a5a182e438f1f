#include "peer.h"

#include <sys/socket.h>

namespace tenantd {

PeerRole PeerPolicy::roleOf(const PeerCredentials& peer) const {
  if (peer.uid == 0 || peer.uid == daemonUid) return PeerRole::ADMIN;
  if (appGroup && peer.gid == *appGroup) return PeerRole::APP;
  return PeerRole::NONE;
}

std::optional<PeerCredentials> peerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    return std::nullopt;
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

}  // namespace tenantd
