#include "gcra.h"

#include <algorithm>

namespace tenantd {

RateDecision Gcra::take(std::string_view key, int64_t max, int64_t windowMs, UnixMillis now) {
  RateDecision d;
  d.limit = max;
  if (max <= 0 || windowMs <= 0) {
    d.allowed = false;
    d.retryAfterMs = std::max<int64_t>(windowMs, 1000);
    return d;
  }
  // Emission interval T = window / max; a burst of `max` fits in tolerance tau = window - T.
  double interval = static_cast<double>(windowMs) / static_cast<double>(max);
  auto it = tat_.find(key);
  UnixMillis tat = it == tat_.end() ? now : std::max(it->second, now);
  UnixMillis nextTat = tat + static_cast<int64_t>(interval + 0.5);
  UnixMillis allowAt = nextTat - windowMs;
  if (allowAt > now) {
    d.allowed = false;
    d.retryAfterMs = allowAt - now;
    d.remaining = 0;
    d.resetMs = tat - now;
    return d;
  }
  if (it == tat_.end()) {
    tat_.emplace(std::string(key), nextTat);
  } else {
    it->second = nextTat;
  }
  d.resetMs = nextTat - now;
  d.remaining = std::max<int64_t>(0, static_cast<int64_t>((windowMs - d.resetMs) / interval));
  return d;
}

RateLimitFields rateLimitFields(const RateDecision& d) {
  auto seconds = [](int64_t ms) {
    return (ms + 999) / 1000;
  };
  RateLimitFields f;
  f.limit = d.limit;
  f.remaining = d.remaining;
  f.resetSeconds = seconds(d.allowed ? d.resetMs : d.retryAfterMs);
  f.retryAfterSeconds = d.allowed ? 0 : seconds(d.retryAfterMs);
  return f;
}

size_t Gcra::prune(UnixMillis now) {
  size_t dropped = 0;
  for (auto it = tat_.begin(); it != tat_.end();) {
    if (it->second <= now) {
      it = tat_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

}  // namespace tenantd
