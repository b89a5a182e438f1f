#pragma once
// The daemon's side of systemd: readiness and status notifications, the watchdog interval, and
// sockets passed by socket activation. Each is a no-op when not run by systemd.

#include <cstdint>
#include <optional>
#include <string_view>

namespace tenantd {

// sd_notify(): "READY=1", "STOPPING=1", "RELOADING=1", "STATUS=...", "WATCHDOG=1".
void notifySystemd(std::string_view state);

// Half of WatchdogSec= when the watchdog is on for us; nullopt otherwise.
std::optional<uint64_t> watchdogPingIntervalUsec();

struct ActivatedSockets {
  std::optional<int> rpc;      // FileDescriptorName=rpc: a listening AF_UNIX stream socket.
  std::optional<int> http;     // FileDescriptorName=http: a listening TCP socket.
  std::optional<int> metrics;  // FileDescriptorName=metrics: a listening TCP socket (optional).
};

// Takes the sockets systemd passed (sd_listen_fds_with_names), checking each one's kind. Throws
// on a socket with an unknown name or of the wrong kind.
ActivatedSockets takeActivatedSockets();

}  // namespace tenantd
