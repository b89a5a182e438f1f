#pragma once
// Remembers idempotency keys (track ids) for a dedupe window, so a retried track is acknowledged
// without being counted twice. One per tenant, event-loop thread only; the store keeps the same
// keys so the window survives restarts.

#include "util/clock.h"

#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace tenantd {

class IdempotencyWindow {
public:
  explicit IdempotencyWindow(int64_t windowMs) : windowMs_(windowMs) {}

  enum class Seen { NEW, DUPLICATE };
  // NEW: remembered until now + window. DUPLICATE: already remembered and not expired.
  Seen remember(std::string_view key, UnixMillis now);
  // Drops a key (its commit failed, so a retry must count).
  void forget(std::string_view key);
  // Re-adds a key loaded from the store.
  void restore(std::string key, UnixMillis expiresAt);
  // Drops keys whose window has passed; returns how many.
  size_t expire(UnixMillis now);
  size_t size() const { return expiries_.size(); }
  bool holds(std::string_view key) const { return expiries_.find(key) != expiries_.end(); }
  int64_t windowMs() const { return windowMs_; }

private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  int64_t windowMs_;
  std::unordered_map<std::string, UnixMillis, Hash, std::equal_to<>> expiries_;
  // Insertion order ~ expiry order (window is constant); entries may be stale after forget().
  std::deque<std::pair<UnixMillis, std::string>> order_;
};

}  // namespace tenantd
