#include "clock.h"

#include <time.h>

namespace tenantd {

std::string formatIso8601(UnixMillis t) {
  time_t secs = static_cast<time_t>(t / 1000);
  if (t < 0 && t % 1000 != 0) --secs;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace tenantd
