#pragma once
// Binds the RPC Unix socket safely: creates its directory (0750), replaces a stale socket file
// left by a crash, refuses to steal one a live daemon still serves, and sets the file to 0660 so
// only the owner and the socket's group can connect.

#include <kj/async-io.h>

#include <string>

namespace tenantd {

// Returns a listening socket fd (CLOEXEC, non-blocking) bound at `path`. Throws with a clear
// reason: another daemon listening there, a non-socket file in the way, a path too long.
int bindUnixSocket(const std::string& path);

}  // namespace tenantd
