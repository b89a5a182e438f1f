#pragma once
// glibc's malloc gives the top of the heap back to the kernel as soon as more than 128 KiB of it is
// free (M_TRIM_THRESHOLD), and takes it back with brk on the next allocation burst. A server that
// allocates and frees per request crosses that line every few requests: under wrk the trivial h2o
// handler made one brk per ~16 requests and 0.3 page faults per request (each a zeroed page, and
// dear in this VM). Keeping up to HELD_FREE_BYTES of freed heap per arena removed both: the floor
// went from 37-40 k to 60-79 k req/s, POST .../check from 38 k to 63 k (p99 1.2 -> 0.8 ms).
// Measured side by side in one run; BENCHMARKS.md.
//
// Call once, first thing in main(), before threads start. Processes of ours that serve requests
// call it (tenantd, and the benchmark floors, so that they are measured on equal terms).

#include <cstddef>

namespace tenantd {

constexpr size_t HELD_FREE_BYTES = 4 << 20;

// Returns false if malloc refused (another allocator, e.g. under ASan): harmless.
bool holdFreedHeap();

// Has free() fill each block it takes back (glibc's M_PERTURB), so freed buffers of libraries we
// do not control keep no secret: h2o grows its read buffer by copying and frees the old one, and
// a refused 70 KB secret body left ~1.7 copies of itself in freed memory; with this, only what
// h2o recycles itself (its first 8 KiB read buffer) stays until reused. Blocks of the thread cache
// (up to 1 KiB) are not filled; request bodies that small live in the one buffer the HTTP server
// wipes. Cost, measured under callgrind: +0.07 % instructions per REST check, +0.9 % per
// sequential RPC check (each Cap'n Proto message's 8 KiB segment is filled when freed).
// Same contract as holdFreedHeap().
bool wipeFreedHeap();

}  // namespace tenantd
