#pragma once
// Runs the real binaries for end-to-end tests: spawn with arguments, environment and working
// directory; stdout and stderr go to files; wait for exit with a deadline (pidfd + poll, never a
// sleep loop); send signals. Also a NOTIFY_SOCKET listener to see sd_notify() messages.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tenantd::testing {

std::string readFile(const std::string& path);

// Waits (inotify) until the file at `path` contains `needle` at or after byte `from` (what was
// written since an earlier size()); false at the deadline.
bool waitForFileText(const std::string& path, const std::string& needle,
                     std::chrono::milliseconds deadline, size_t from = 0);

class Process {
public:
  struct Options {
    std::vector<std::string> args;  // Without argv[0].
    std::string cwd;
    std::map<std::string, std::string> env;  // Added to (or replacing in) the test's own.
    std::string stdoutPath;
    std::string stderrPath;
  };

  Process(const std::string& binary, Options options);
  ~Process();  // Kills with SIGKILL if still running.
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_; }
  void signal(int sig);
  // The exit status (WEXITSTATUS, or 128 + signal), or nullopt if still running at the deadline.
  std::optional<int> waitForExit(std::chrono::milliseconds deadline);
  std::string out() const { return readFile(options_.stdoutPath); }
  std::string err() const { return readFile(options_.stderrPath); }

private:
  Options options_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
};

struct RunResult {
  int exitCode;
  std::string out;
  std::string err;
};

// Runs a command to completion (30 s deadline) and returns what it printed.
RunResult run(const std::string& binary, std::vector<std::string> args, const std::string& cwd,
              std::map<std::string, std::string> env = {});

// A datagram socket to hand a child as NOTIFY_SOCKET.
class NotifySocket {
public:
  explicit NotifySocket(const std::string& path);
  ~NotifySocket();
  const std::string& path() const { return path_; }
  // Waits for a message containing `needle` ("READY=1"); returns the whole message, or nullopt
  // at the deadline. Messages before it are consumed.
  // If `process` is given, also stops waiting (nullopt) as soon as that process exits.
  std::optional<std::string> waitFor(const std::string& needle, std::chrono::milliseconds deadline,
                                     const Process* process = nullptr);

private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace tenantd::testing
