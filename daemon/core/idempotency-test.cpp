#include "idempotency.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("A key is a duplicate within the window and new after it") {
  IdempotencyWindow w(48 * 3600 * 1000LL);
  CHECK(w.remember("a", 1000) == IdempotencyWindow::Seen::NEW);
  CHECK(w.remember("a", 1000 + 47 * 3600 * 1000LL) == IdempotencyWindow::Seen::DUPLICATE);
  CHECK(w.remember("b", 2000) == IdempotencyWindow::Seen::NEW);
  CHECK(w.remember("a", 1000 + 48 * 3600 * 1000LL) == IdempotencyWindow::Seen::NEW);
}

TEST_CASE("Expiry drops only keys whose window has passed") {
  IdempotencyWindow w(100);
  w.remember("a", 0);
  w.remember("b", 50);
  CHECK(w.expire(99) == 0);
  CHECK(w.expire(100) == 1);
  CHECK(w.size() == 1);
  CHECK(w.remember("b", 120) == IdempotencyWindow::Seen::DUPLICATE);
  CHECK(w.expire(150) == 1);
  CHECK(w.size() == 0);
}

TEST_CASE("A forgotten key counts again, and restored keys keep their expiry") {
  IdempotencyWindow w(100);
  w.remember("a", 0);
  w.forget("a");
  CHECK(w.remember("a", 1) == IdempotencyWindow::Seen::NEW);
  w.restore("r", 500);
  CHECK(w.remember("r", 499) == IdempotencyWindow::Seen::DUPLICATE);
  CHECK(w.remember("r", 500) == IdempotencyWindow::Seen::NEW);
}

}  // namespace tenantd
