#include "systemd.h"

#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <kj/debug.h>

#include <cstdlib>
#include <string>

namespace tenantd {

void notifySystemd(std::string_view state) {
  std::string s(state);
  sd_notify(0, s.c_str());
}

std::optional<uint64_t> watchdogPingIntervalUsec() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return usec / 2;
}

ActivatedSockets takeActivatedSockets() {
  ActivatedSockets out;
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  KJ_REQUIRE(n >= 0, "cannot read the sockets passed by systemd", strerror(-n));
  KJ_DEFER({
    for (int i = 0; i < n && names != nullptr; ++i) free(names[i]);
    free(names);
  });
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    std::string name = names != nullptr ? names[i] : "";
    if (name == "rpc") {
      KJ_REQUIRE(sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0,
                 "socket 'rpc' from systemd is not a listening Unix stream socket");
      out.rpc = fd;
    } else if (name == "http") {
      KJ_REQUIRE(sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) > 0,
                 "socket 'http' from systemd is not a listening TCP socket");
      out.http = fd;
    } else if (name == "metrics") {
      KJ_REQUIRE(sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) > 0,
                 "socket 'metrics' from systemd is not a listening TCP socket");
      out.metrics = fd;
    } else {
      KJ_FAIL_REQUIRE(
          "systemd passed a socket with an unknown FileDescriptorName; expected "
          "'rpc', 'http' or 'metrics'",
          name);
    }
  }
  return out;
}

}  // namespace tenantd
