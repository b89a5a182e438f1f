#include "malloc-tuning.h"

#include <malloc.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <vector>

namespace tenantd {

TEST_CASE("holdFreedHeap keeps freed memory at the heap's top instead of giving it back") {
#ifdef TENANTD_SANITIZED
  WARN("skipped under the sanitizers: they replace malloc");
  return;
#endif
  REQUIRE(holdFreedHeap());
  std::vector<void*> blocks;
  blocks.reserve(4096);
  for (int i = 0; i < 4096; ++i) blocks.push_back(malloc(512));  // 2 MiB of small heap blocks.
  // In allocation order: the first few go to the thread cache, the rest merge into the top chunk.
  for (void* b : blocks) free(b);
  // keepcost is the free top chunk: with glibc's default threshold (128 KiB) free() would have
  // trimmed it to about that.
  CHECK(mallinfo2().keepcost >= (1u << 20));
  CHECK(mallinfo2().keepcost <= HELD_FREE_BYTES + (1u << 20));
}

TEST_CASE("wipeFreedHeap turns glibc's perturbation on") {
#ifdef TENANTD_SANITIZED
  WARN("skipped under the sanitizers: they replace malloc");
  return;
#endif
  REQUIRE(wipeFreedHeap());
  // What the daemon relies on is that free() fills blocks (secrets-e2e-test reads the daemon's
  // memory for it); visible here without reading freed memory: glibc fills each new block
  // outside the thread cache with the byte's complement.
  auto* block = static_cast<unsigned char*>(malloc(64 << 10));
  REQUIRE(block != nullptr);
  size_t filled = 0;
  for (size_t i = 0; i < (64u << 10); ++i) filled += block[i] == 0x5A;
  free(block);
  CHECK(filled == (64u << 10));
  REQUIRE(mallopt(M_PERTURB, 0) == 1);  // Off again for the rest of this process.
}

}  // namespace tenantd
