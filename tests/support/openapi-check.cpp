#include "openapi-check.h"

#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace tenantd::testing {

namespace {

// The validator process, talked to over a socket pair (a dead validator fails a send with an
// error, not a SIGPIPE). It exits on end of input, when this process exits.
class Validator {
public:
  Validator() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::runtime_error(std::string("openapi check: socketpair: ") + strerror(errno));
    }
    std::string script = std::string(TENANTD_SOURCE_DIR) + "/tools/openapi/validate-responses.mjs";
    std::string doc = std::string(TENANTD_SOURCE_DIR) + "/docs/openapi.yaml";
    const char* argv[] = {"node", script.c_str(), doc.c_str(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    pid_t pid;
    int rc = posix_spawnp(&pid, "node", &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error(std::string("openapi check: cannot start node: ") + strerror(rc));
    }
    fd_ = fds[0];
  }

  std::string ask(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t sent = 0; sent < line.size();) {
      ssize_t n = send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("openapi check: the validator is gone (see stderr)");
      sent += static_cast<size_t>(n);
    }
    // One answer line per exchange. Starting node and compiling the document takes a while
    // under a loaded sanitizer build; the deadline only stops a hung validator.
    for (;;) {
      auto eol = pending_.find('\n');
      if (eol != std::string::npos) {
        std::string answer = pending_.substr(0, eol);
        pending_.erase(0, eol + 1);
        return answer;
      }
      pollfd p{fd_, POLLIN, 0};
      int ready = poll(&p, 1, 60000);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0)
        throw std::runtime_error("openapi check: no answer from the validator in 60 s");
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("openapi check: the validator exited (see stderr)");
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

private:
  int fd_ = -1;  // Left open until exit: the validator ends when it closes.
  std::mutex mutex_;
  std::string pending_;
};

// "http://127.0.0.1:8080/usage/summary?period=x" -> "/usage/summary?period=x".
std::string pathOf(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

}  // namespace

std::string openApiProblems(const HttpExchange& x) {
  static Validator validator;
  nlohmann::json line = {{"method", x.method},
                         {"path", pathOf(x.url)},
                         {"status", x.status},
                         {"headers", x.headers},
                         {"body", x.body}};
  std::string answer =
      validator.ask(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return answer == "ok" ? std::string() : answer;
}

}  // namespace tenantd::testing
