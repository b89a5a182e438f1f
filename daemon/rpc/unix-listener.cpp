#include "unix-listener.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <kj/debug.h>

#include <filesystem>

namespace tenantd {

namespace {
sockaddr_un makeAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  KJ_REQUIRE(path.size() < sizeof(addr.sun_path), "socket path too long", path);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// True if something accepts connections at `path`.
bool someoneListens(const sockaddr_un& addr) {
  int fd;
  KJ_SYSCALL(fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  KJ_DEFER(close(fd));
  return connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}
}  // namespace

int bindUnixSocket(const std::string& path) {
  auto addr = makeAddress(path);
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir);
    KJ_SYSCALL(chmod(dir.c_str(), 0750), dir.string());
  }

  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    KJ_REQUIRE(S_ISSOCK(st.st_mode), "refusing to replace a file that is not a socket", path);
    KJ_REQUIRE(!someoneListens(addr), "another process is serving this socket", path);
    // A crash left it behind: nobody answers, so it is safe to replace.
    KJ_SYSCALL(unlink(path.c_str()), path);
  }

  int fd;
  KJ_SYSCALL(fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  KJ_ON_SCOPE_FAILURE(close(fd));
  // Create it with no access for others from the first instant, then open it to the group.
  mode_t old = umask(0117);
  int rc = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int bindErrno = errno;
  umask(old);
  if (rc != 0) KJ_FAIL_SYSCALL("bind", bindErrno, path);
  KJ_SYSCALL(chmod(path.c_str(), 0660), path);
  KJ_SYSCALL(listen(fd, 1024), path);
  return fd;
}

}  // namespace tenantd
