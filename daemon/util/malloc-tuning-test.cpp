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

}  // namespace tenantd
