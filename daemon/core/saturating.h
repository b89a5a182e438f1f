#pragma once
// Usage sums saturate at the int64 limits instead of wrapping: a tenant that sends huge amounts
// pins its own counters at the maximum (so it is over every limit) and harms nobody else.

#include <cstdint>
#include <limits>

namespace tenantd {

inline int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return out;
}

inline int64_t saturatingSub(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_sub_overflow(a, b, &out)) {
    return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return out;
}

}  // namespace tenantd
