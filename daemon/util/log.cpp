#include "log.h"

#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace tenantd {

bool parseLogLevel(std::string_view text, LogLevel& out) {
  if (text == "debug")
    out = LogLevel::DEBUG;
  else if (text == "info")
    out = LogLevel::INFO;
  else if (text == "warn")
    out = LogLevel::WARN;
  else if (text == "error")
    out = LogLevel::ERROR;
  else
    return false;
  return true;
}

std::string_view logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::DEBUG: return "debug";
    case LogLevel::INFO: return "info";
    case LogLevel::WARN: return "warn";
    case LogLevel::ERROR: return "error";
  }
  return "?";
}

Log::Log(Sink sink, LogLevel minLevel) : sink_(sink), minLevel_(minLevel) {}

Log::Sink Log::detectSink() {
  const char* stream = getenv("JOURNAL_STREAM");
  if (stream == nullptr) return Sink::STDERR;
  unsigned long long dev = 0, ino = 0;
  if (sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return Sink::STDERR;
  struct stat st;
  if (fstat(STDERR_FILENO, &st) != 0) return Sink::STDERR;
  return (st.st_dev == dev && st.st_ino == ino) ? Sink::JOURNAL : Sink::STDERR;
}

namespace {
int syslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::DEBUG: return 7;
    case LogLevel::INFO: return 6;
    case LogLevel::WARN: return 4;
    case LogLevel::ERROR: return 3;
  }
  return 6;
}
}  // namespace

void Log::write(LogLevel level, std::string_view component, std::string_view message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (sink_ == Sink::JOURNAL) {
    sd_journal_send("MESSAGE=%.*s", static_cast<int>(message.size()), message.data(), "PRIORITY=%d",
                    syslogPriority(level), "TENANTD_COMPONENT=%.*s",
                    static_cast<int>(component.size()), component.data(), nullptr);
    return;
  }
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(64 + component.size() + message.size());
  line.append(stamp);
  char millis[24];
  snprintf(millis, sizeof(millis), ".%03ldZ", ts.tv_nsec / 1000000);
  line.append(millis).append(" ").append(logLevelName(level)).append(" ");
  line.append(component).append(": ").append(message).append("\n");
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
}

}  // namespace tenantd
