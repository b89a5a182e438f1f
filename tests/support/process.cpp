#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace tenantd::testing {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {
std::chrono::steady_clock::time_point deadlineFrom(std::chrono::milliseconds d) {
  return std::chrono::steady_clock::now() + d;
}
int remainingMs(std::chrono::steady_clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}
}  // namespace

Process::Process(const std::string& binary, Options options) : options_(std::move(options)) {
  std::vector<std::string> argStrings{binary};
  argStrings.insert(argStrings.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& a : argStrings) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> envMap;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) envMap[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : options_.env) envMap[k] = v;
  std::vector<std::string> envStrings;
  for (auto& [k, v] : envMap) envStrings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envStrings) envp.push_back(e.data());
  envp.push_back(nullptr);

  // fork + exec rather than posix_spawn: the child asks to be killed when the test process
  // dies (PR_SET_PDEATHSIG), so a test that crashes leaves no daemon behind.
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // The parent died before prctl took effect.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // The test may have signals blocked (kj).
    int in = open("/dev/null", O_RDONLY);
    int out = open(options_.stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(options_.stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    if (!options_.cwd.empty() && chdir(options_.cwd.c_str()) != 0) _exit(127);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) throw std::runtime_error(std::string("pidfd_open: ") + strerror(errno));
}

Process::~Process() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (pidfd_ >= 0) close(pidfd_);
}

void Process::signal(int sig) {
  kill(pid_, sig);
}

std::optional<int> Process::waitForExit(std::chrono::milliseconds deadline) {
  if (reaped_) throw std::logic_error("already reaped");
  pollfd pfd{pidfd_, POLLIN, 0};
  int n = poll(&pfd, 1, static_cast<int>(deadline.count()));
  if (n <= 0) return std::nullopt;
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

bool waitForFileText(const std::string& path, const std::string& needle,
                     std::chrono::milliseconds deadline, size_t from) {
  auto until = deadlineFrom(deadline);
  std::string dir = path.substr(0, path.rfind('/'));
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) throw std::runtime_error("inotify_init1 failed");
  inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE);
  bool found = false;
  // Check after adding the watch, so text written in between is not missed.
  while (!(found = readFile(path).find(needle, from) != std::string::npos)) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, remainingMs(until)) <= 0) break;
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
  }
  close(fd);
  return found;
}

RunResult run(const std::string& binary, std::vector<std::string> args, const std::string& cwd,
              std::map<std::string, std::string> env) {
  std::string out = cwd + "/.run.out", err = cwd + "/.run.err";
  Process p(binary, {std::move(args), cwd, std::move(env), out, err});
  auto code = p.waitForExit(std::chrono::seconds(30));
  if (!code) throw std::runtime_error("command did not finish within 30 s");
  return RunResult{*code, readFile(out), readFile(err)};
}

NotifySocket::NotifySocket(const std::string& path) : path_(path) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("notify path too long");
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw std::runtime_error(std::string("bind notify socket: ") + strerror(errno));
  }
}

NotifySocket::~NotifySocket() {
  close(fd_);
  unlink(path_.c_str());
}

std::optional<std::string> NotifySocket::waitFor(const std::string& needle,
                                                 std::chrono::milliseconds deadline,
                                                 const Process* process) {
  auto until = deadlineFrom(deadline);
  for (;;) {
    pollfd pfds[2] = {{fd_, POLLIN, 0}, {process ? process->pidfd() : -1, POLLIN, 0}};
    if (poll(pfds, process ? 2 : 1, remainingMs(until)) <= 0) return std::nullopt;
    if (process && (pfds[1].revents & POLLIN) && !(pfds[0].revents & POLLIN)) {
      return std::nullopt;  // It exited without saying it.
    }
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) continue;
    std::string message(buf, static_cast<size_t>(n));
    if (message.find(needle) != std::string::npos) return message;
  }
}

}  // namespace tenantd::testing
