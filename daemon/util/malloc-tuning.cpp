#include "malloc-tuning.h"

#include <malloc.h>

namespace tenantd {

bool holdFreedHeap() {
  // Setting the trim threshold also fixes the mmap threshold at its default (128 KiB) instead of
  // letting glibc raise it: large blocks keep going to mmap, so what is held stays bounded.
  return mallopt(M_TRIM_THRESHOLD, static_cast<int>(HELD_FREE_BYTES)) == 1;
}

bool wipeFreedHeap() {
  // Any byte but 0 will do (0 turns the feature off); glibc fills allocations with its
  // complement too, so a read of uninitialised memory is not silently zero.
  return mallopt(M_PERTURB, 0xA5) == 1;
}

}  // namespace tenantd
