#include "idempotency.h"

namespace tenantd {

IdempotencyWindow::Seen IdempotencyWindow::remember(std::string_view key, UnixMillis now) {
  auto it = expiries_.find(key);
  if (it != expiries_.end() && it->second > now) return Seen::DUPLICATE;
  UnixMillis expiresAt = now + windowMs_;
  if (it != expiries_.end()) {
    it->second = expiresAt;
  } else {
    expiries_.emplace(std::string(key), expiresAt);
  }
  order_.emplace_back(expiresAt, std::string(key));
  return Seen::NEW;
}

void IdempotencyWindow::forget(std::string_view key) {
  auto it = expiries_.find(key);
  if (it != expiries_.end()) expiries_.erase(it);
}

void IdempotencyWindow::restore(std::string key, UnixMillis expiresAt) {
  order_.emplace_back(expiresAt, key);
  expiries_[std::move(key)] = expiresAt;
}

size_t IdempotencyWindow::expire(UnixMillis now) {
  size_t dropped = 0;
  while (!order_.empty() && order_.front().first <= now) {
    auto it = expiries_.find(order_.front().second);
    // Only if this queue entry is the key's current expiry (it may have been renewed).
    if (it != expiries_.end() && it->second == order_.front().first) {
      expiries_.erase(it);
      ++dropped;
    }
    order_.pop_front();
  }
  return dropped;
}

}  // namespace tenantd
