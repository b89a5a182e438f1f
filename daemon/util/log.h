#pragma once
// One log line per event: level, component, message. Goes to journald when systemd connected our
// stderr to the journal (JOURNAL_STREAM), else to stderr. Callers never pass secret values or
// tokens: log ids, names and counts.

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

namespace tenantd {

enum class LogLevel { DEBUG, INFO, WARN, ERROR };

// Parses "debug"|"info"|"warn"|"error"; returns false on anything else.
bool parseLogLevel(std::string_view text, LogLevel& out);
std::string_view logLevelName(LogLevel level);

class Log {
public:
  enum class Sink { STDERR, JOURNAL };

  explicit Log(Sink sink, LogLevel minLevel = LogLevel::INFO);
  // Picks the journal when JOURNAL_STREAM names the device and inode of our stderr.
  static Sink detectSink();

  void setMinLevel(LogLevel level) { minLevel_.store(level, std::memory_order_relaxed); }
  bool enabled(LogLevel level) const { return level >= minLevel_.load(std::memory_order_relaxed); }

  void write(LogLevel level, std::string_view component, std::string_view message);

  void debug(std::string_view component, std::string_view message) {
    if (enabled(LogLevel::DEBUG)) write(LogLevel::DEBUG, component, message);
  }
  void info(std::string_view component, std::string_view message) {
    if (enabled(LogLevel::INFO)) write(LogLevel::INFO, component, message);
  }
  void warn(std::string_view component, std::string_view message) {
    if (enabled(LogLevel::WARN)) write(LogLevel::WARN, component, message);
  }
  void error(std::string_view component, std::string_view message) {
    if (enabled(LogLevel::ERROR)) write(LogLevel::ERROR, component, message);
  }

private:
  Sink sink_;
  std::atomic<LogLevel> minLevel_;
  std::mutex mutex_;  // The writer thread logs too; keep lines whole.
};

}  // namespace tenantd
